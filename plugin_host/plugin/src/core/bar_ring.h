// Bar ring: the last seconds of input, preallocated, written by the audio thread only.
#pragma once

#include <atomic>
#include <cstdint>
#include <vector>

namespace mgs {

/// A ring of the most recent input frames, addressed by absolute frame index (frames
/// written since the last clear). One writer (the audio thread); readers on other threads
/// copy a range that the writer is not overwriting (see `read`).
class BarRing {
public:
    /// Allocates `channels` × `capacityFrames` (not on the audio thread).
    void allocate(int channels, std::int64_t capacityFrames);
    void clear();

    int channels() const { return channels_; }
    std::int64_t capacityFrames() const { return capacity_; }
    /// Absolute index one past the last frame written (acquire: data before it is visible).
    std::int64_t written() const { return written_.load(std::memory_order_acquire); }

    /// Audio thread: append `numFrames` frames; `input[c]` may be null (silence).
    /// Channels beyond `numInputChannels` repeat the last one.
    void write(const float* const* input, int numInputChannels, int numFrames);

    /// Copy frames [start, start + numFrames) into `out[c]` (each numFrames long).
    /// False when part of the range is not written yet, or was overwritten already, or is
    /// within `guardFrames` of being overwritten.
    bool read(std::int64_t start, std::int64_t numFrames, float* const* out,
              std::int64_t guardFrames = 0) const;

private:
    int channels_ = 0;
    std::int64_t capacity_ = 0;
    std::vector<std::vector<float>> data_;
    std::atomic<std::int64_t> written_{0};
};

}  // namespace mgs
