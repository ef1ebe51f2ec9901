// Counts heap calls made on the calling thread while a scope is open (test host only).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace testhost
{

/** What one counting scope saw: heap calls made on this thread while it was open. */
struct AllocationTally
{
    std::uint64_t allocations = 0;   // malloc, calloc, realloc, memalign family, operator new
    std::uint64_t deallocations = 0; // free, operator delete
    std::uint64_t pluginAllocations = 0;   // those with a plugin frame on the call stack
    std::uint64_t pluginDeallocations = 0;
};

/** Opens a counting scope on the calling thread (the audio thread, around processBlock).

    Heap calls made by any code on this thread (the plugin, JUCE's hosting wrapper, libstdc++)
    while the scope is open are counted. The hooks replace malloc/free and operator new/delete
    for the whole process; outside a scope they only forward to glibc. Not reentrant.
*/
class CountingScope
{
public:
    CountingScope() noexcept;
    ~CountingScope();
    CountingScope (const CountingScope&) = delete;
    CountingScope& operator= (const CountingScope&) = delete;

    AllocationTally tally() const noexcept;
};

/** Heap calls whose call stack passes through a shared object loaded from under this folder
    (the plugin's bundle) are also counted as the plugin's; the rest are the host's own (JUCE's
    hosting wrapper). Call after the plugin is loaded. */
void attributeToObjectsUnder (const std::string& folder);

/** Call once at start-up, before any counting: warms backtrace() so that it never allocates. */
void warmUpAllocationTracing();

/** Where the first counted heap calls came from (library and symbol of each frame), for the
    report; resolved outside the audio thread. Empty if none were counted. */
std::vector<std::string> describeFirstCountedAllocations();

/** Forget the recorded call sites (for the next render). */
void resetCountedAllocationSites() noexcept;

} // namespace testhost
