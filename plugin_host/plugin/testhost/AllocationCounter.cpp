// Process-wide malloc/free and operator new/delete hooks that count calls inside a CountingScope.
//
// The executable is linked with exported symbols (-rdynamic), so these definitions interpose
// glibc's for every shared object, the dlopen'ed plugin included. Outside a scope the hooks
// forward to glibc's __libc_* entry points and do nothing else.

#include "AllocationCounter.h"

#include <cxxabi.h>
#include <dlfcn.h>
#include <execinfo.h>
#include <link.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>

extern "C"
{
void* __libc_malloc (size_t);
void* __libc_calloc (size_t, size_t);
void* __libc_realloc (void*, size_t);
void* __libc_memalign (size_t, size_t);
void __libc_free (void*);
}

namespace
{
constexpr int maxSites = 4;
constexpr int maxFrames = 24;

struct Site
{
    std::array<void*, maxFrames> frames {};
    int depth = 0;
};

thread_local bool counting = false;
thread_local bool insideHook = false;
thread_local std::uint64_t allocationCount = 0;
thread_local std::uint64_t deallocationCount = 0;
thread_local std::uint64_t pluginAllocationCount = 0;
thread_local std::uint64_t pluginDeallocationCount = 0;

struct Range
{
    std::uintptr_t begin = 0, end = 0;
};
constexpr int maxRanges = 16;
std::array<Range, maxRanges> pluginRanges;
std::atomic<int> pluginRangeCount { 0 };

/** Whether the calling stack passes through the plugin's code (walks the stack; only ever
    called for a heap call made inside a counting scope). */
bool calledFromPlugin() noexcept
{
    const int ranges = pluginRangeCount.load (std::memory_order_acquire);
    if (ranges == 0)
        return false;
    std::array<void*, maxFrames> frames {};
    insideHook = true;
    const int depth = backtrace (frames.data(), maxFrames);
    insideHook = false;
    for (int f = 0; f < depth; ++f)
        for (int r = 0; r < ranges; ++r)
        {
            const auto address = reinterpret_cast<std::uintptr_t> (frames[(size_t) f]);
            if (address >= pluginRanges[(size_t) r].begin && address < pluginRanges[(size_t) r].end)
                return true;
        }
    return false;
}

std::array<Site, maxSites> sites;
std::atomic<int> siteCount { 0 };

void recordSite() noexcept
{
    const int index = siteCount.fetch_add (1, std::memory_order_relaxed);
    if (index >= maxSites)
        return;
    insideHook = true;
    sites[(size_t) index].depth = backtrace (sites[(size_t) index].frames.data(), maxFrames);
    insideHook = false;
}

inline void noteAllocation() noexcept
{
    if (counting && ! insideHook)
    {
        ++allocationCount;
        if (calledFromPlugin())
            ++pluginAllocationCount;
        recordSite();
    }
}

inline void noteDeallocation (void* pointer) noexcept
{
    if (pointer != nullptr && counting && ! insideHook)
    {
        ++deallocationCount;
        if (calledFromPlugin())
            ++pluginDeallocationCount;
    }
}

void* alignedOrNull (size_t alignment, size_t size) noexcept
{
    noteAllocation();
    return __libc_memalign (alignment, size);
}
} // namespace

//==============================================================================
extern "C"
{
void* malloc (size_t size)
{
    noteAllocation();
    return __libc_malloc (size);
}

void* calloc (size_t count, size_t size)
{
    noteAllocation();
    return __libc_calloc (count, size);
}

void* realloc (void* pointer, size_t size)
{
    noteAllocation();
    return __libc_realloc (pointer, size);
}

void free (void* pointer)
{
    noteDeallocation (pointer);
    __libc_free (pointer);
}

void* memalign (size_t alignment, size_t size)
{
    return alignedOrNull (alignment, size);
}

void* aligned_alloc (size_t alignment, size_t size)
{
    return alignedOrNull (alignment, size);
}

int posix_memalign (void** result, size_t alignment, size_t size)
{
    if (alignment < sizeof (void*) || (alignment & (alignment - 1)) != 0)
        return EINVAL;
    void* pointer = alignedOrNull (alignment, size);
    if (pointer == nullptr)
        return ENOMEM;
    *result = pointer;
    return 0;
}
}

//==============================================================================
namespace
{
void* newOrThrow (size_t size)
{
    noteAllocation();
    if (void* pointer = __libc_malloc (size == 0 ? 1 : size))
        return pointer;
    throw std::bad_alloc();
}

void* alignedNewOrThrow (size_t size, std::align_val_t alignment)
{
    noteAllocation();
    if (void* pointer = __libc_memalign ((size_t) alignment, size == 0 ? 1 : size))
        return pointer;
    throw std::bad_alloc();
}

void deleteNoted (void* pointer) noexcept
{
    noteDeallocation (pointer);
    __libc_free (pointer);
}
} // namespace

void* operator new (size_t size) { return newOrThrow (size); }
void* operator new[] (size_t size) { return newOrThrow (size); }
void* operator new (size_t size, const std::nothrow_t&) noexcept
{
    noteAllocation();
    return __libc_malloc (size == 0 ? 1 : size);
}
void* operator new[] (size_t size, const std::nothrow_t&) noexcept
{
    noteAllocation();
    return __libc_malloc (size == 0 ? 1 : size);
}
void* operator new (size_t size, std::align_val_t alignment) { return alignedNewOrThrow (size, alignment); }
void* operator new[] (size_t size, std::align_val_t alignment) { return alignedNewOrThrow (size, alignment); }

void operator delete (void* pointer) noexcept { deleteNoted (pointer); }
void operator delete[] (void* pointer) noexcept { deleteNoted (pointer); }
void operator delete (void* pointer, size_t) noexcept { deleteNoted (pointer); }
void operator delete[] (void* pointer, size_t) noexcept { deleteNoted (pointer); }
void operator delete (void* pointer, std::align_val_t) noexcept { deleteNoted (pointer); }
void operator delete[] (void* pointer, std::align_val_t) noexcept { deleteNoted (pointer); }
void operator delete (void* pointer, size_t, std::align_val_t) noexcept { deleteNoted (pointer); }
void operator delete[] (void* pointer, size_t, std::align_val_t) noexcept { deleteNoted (pointer); }

//==============================================================================
namespace testhost
{

CountingScope::CountingScope() noexcept
{
    allocationCount = 0;
    deallocationCount = 0;
    pluginAllocationCount = 0;
    pluginDeallocationCount = 0;
    counting = true;
}

CountingScope::~CountingScope()
{
    counting = false;
}

AllocationTally CountingScope::tally() const noexcept
{
    return { allocationCount, deallocationCount, pluginAllocationCount, pluginDeallocationCount };
}

void attributeToObjectsUnder (const std::string& folder)
{
    struct Search
    {
        const std::string* folder;
        int count;
    } search { &folder, 0 };

    dl_iterate_phdr (
        [] (dl_phdr_info* info, size_t, void* data) -> int
        {
            auto& s = *static_cast<Search*> (data);
            if (info->dlpi_name == nullptr || std::strncmp (info->dlpi_name, s.folder->c_str(), s.folder->size()) != 0)
                return 0;
            for (int i = 0; i < info->dlpi_phnum && s.count < maxRanges; ++i)
            {
                const auto& header = info->dlpi_phdr[i];
                if (header.p_type != PT_LOAD || (header.p_flags & PF_X) == 0)
                    continue;
                const auto begin = (std::uintptr_t) (info->dlpi_addr + header.p_vaddr);
                pluginRanges[(size_t) s.count++] = { begin, begin + header.p_memsz };
            }
            return 0;
        },
        &search);
    pluginRangeCount.store (search.count, std::memory_order_release);
}

void warmUpAllocationTracing()
{
    std::array<void*, maxFrames> frames {};
    backtrace (frames.data(), maxFrames);
}

void resetCountedAllocationSites() noexcept
{
    siteCount.store (0, std::memory_order_relaxed);
}

std::vector<std::string> describeFirstCountedAllocations()
{
    std::vector<std::string> described;
    const int count = std::min (siteCount.load(), maxSites);

    for (int s = 0; s < count; ++s)
    {
        std::string trace;
        const auto& site = sites[(size_t) s];

        for (int f = 1; f < site.depth; ++f) // frame 0 is recordSite
        {
            Dl_info info {};
            if (dladdr (site.frames[(size_t) f], &info) == 0)
                continue;
            const char* file = info.dli_fname != nullptr ? std::strrchr (info.dli_fname, '/') : nullptr;
            char offset[32];
            std::snprintf (offset, sizeof (offset), "+0x%lx", (unsigned long) ((std::uintptr_t) site.frames[(size_t) f] - (std::uintptr_t) info.dli_fbase));
            std::string name = info.dli_sname != nullptr ? info.dli_sname : offset;
            int status = 0;
            if (char* demangled = abi::__cxa_demangle (name.c_str(), nullptr, nullptr, &status))
            {
                name = demangled;
                std::free (demangled);
            }
            if (! trace.empty())
                trace += " <- ";
            trace += (file != nullptr ? file + 1 : "?") + std::string (":") + name.substr (0, 120);
        }
        described.push_back (trace);
    }
    return described;
}

} // namespace testhost
