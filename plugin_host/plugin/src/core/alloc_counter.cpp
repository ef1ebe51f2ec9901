// Allocation counter: a global operator new hook for test and bench binaries (never the plugin).
#include "core/alloc_counter.h"

#include <atomic>
#include <cstdlib>
#include <new>

namespace {
thread_local bool tCounting = false;
thread_local std::uint64_t tCount = 0;
std::atomic<std::uint64_t> gTotal{0};

void* allocate(std::size_t size) {
    if (tCounting) {
        ++tCount;
        gTotal.fetch_add(1, std::memory_order_relaxed);
    }
    if (size == 0) size = 1;
    if (void* p = std::malloc(size)) return p;
    throw std::bad_alloc();
}
}  // namespace

namespace mgs::alloc {
void beginCounting() {
    tCount = 0;
    tCounting = true;
}
std::uint64_t endCounting() {
    tCounting = false;
    return tCount;
}
std::uint64_t totalCounted() { return gTotal.load(); }
}  // namespace mgs::alloc

void* operator new(std::size_t size) { return allocate(size); }
void* operator new[](std::size_t size) { return allocate(size); }
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
    try { return allocate(size); } catch (...) { return nullptr; }
}
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept {
    try { return allocate(size); } catch (...) { return nullptr; }
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
