// Next-bar scheduler: finds the sample of the next bar line (or N-bar boundary) in a block.
#pragma once

#include <cstdint>

#include "core/transport.h"

namespace mgs {

struct GridEvent {
    bool found = false;
    int offset = 0;          ///< sample inside the block: the first sample at or after the line
    std::int64_t bar = 0;    ///< bar index from the grid origin
    double ppq = 0.0;        ///< ppq of the bar line
};

/// The first bar line at or after sample `fromOffset` of the block whose bar index is a
/// multiple of `multiple`, if it falls inside the block's `numSamples` samples.
GridEvent findBarLine(const BlockTiming& timing, int numSamples, int multiple = 1, int fromOffset = 0);

/// Fires once, at the next bar line (multiple of N bars) after it is armed.
class NextBarScheduler {
public:
    /// Arm; lines before sample `fromOffset` of the next polled block do not count.
    void arm(int multiple, int fromOffset = 0);
    void cancel() { armed_ = false; }
    bool armed() const { return armed_; }
    int multiple() const { return multiple_; }

    /// Call once per block while armed; a found event disarms.
    GridEvent poll(const BlockTiming& timing, int numSamples);

private:
    bool armed_ = false;
    int multiple_ = 1;
    int fromOffset_ = 0;
};

}  // namespace mgs
