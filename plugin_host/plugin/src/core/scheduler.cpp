// Next-bar scheduler: finds the sample of the next bar line (or N-bar boundary) in a block.
#include "core/scheduler.h"

#include <algorithm>
#include <cmath>

namespace mgs {

namespace {
constexpr double kSampleEpsilon = 1e-3;  // host ppq rounding must not move a line a sample

std::int64_t ceilToMultiple(std::int64_t k, std::int64_t m) {
    const std::int64_t q = k >= 0 ? (k + m - 1) / m : -((-k) / m);
    return q * m;
}
}  // namespace

GridEvent findBarLine(const BlockTiming& timing, int numSamples, int multiple, int fromOffset) {
    GridEvent event;
    if (numSamples <= 0 || timing.ppqPerSample <= 0.0) return event;
    multiple = std::max(1, multiple);
    fromOffset = std::clamp(fromOffset, 0, numSamples);
    const double bar = timing.barPpq();
    // A line belongs to the first sample at or after it: sample i owns the lines in
    // (ppq(i - 1), ppq(i)], give or take a hair of host rounding.
    const double fromPpq = timing.ppqAt(fromOffset) - (1.0 - kSampleEpsilon) * timing.ppqPerSample;
    const auto k0 = static_cast<std::int64_t>(std::ceil((fromPpq - timing.gridOriginPpq) / bar));
    const std::int64_t k = ceilToMultiple(k0, multiple);
    const double linePpq = timing.barStartPpq(k);
    const double samples = (linePpq - timing.ppqStart) / timing.ppqPerSample;
    const auto offset = static_cast<std::int64_t>(std::ceil(samples - kSampleEpsilon));
    if (offset < fromOffset || offset >= numSamples) return event;
    event.found = true;
    event.offset = static_cast<int>(offset);
    event.bar = k;
    event.ppq = linePpq;
    return event;
}

void NextBarScheduler::arm(int multiple, int fromOffset) {
    armed_ = true;
    multiple_ = std::max(1, multiple);
    fromOffset_ = std::max(0, fromOffset);
}

GridEvent NextBarScheduler::poll(const BlockTiming& timing, int numSamples) {
    if (!armed_) return {};
    const GridEvent event = findBarLine(timing, numSamples, multiple_, fromOffset_);
    fromOffset_ = 0;
    if (event.found) armed_ = false;
    return event;
}

}  // namespace mgs
