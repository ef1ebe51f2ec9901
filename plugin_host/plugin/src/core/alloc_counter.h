// Allocation counter: a global operator new hook for test and bench binaries (never the plugin).
#pragma once

#include <cstdint>

namespace mgs::alloc {

/// Count allocations made on the calling thread from now on.
void beginCounting();
/// Stop counting on the calling thread; returns the allocations since beginCounting().
std::uint64_t endCounting();
/// Allocations counted on all threads while any thread was counting (process total).
std::uint64_t totalCounted();

}  // namespace mgs::alloc
