// Bar ring: the last seconds of input, preallocated, written by the audio thread only.
#include "core/bar_ring.h"

#include <algorithm>
#include <cstring>

namespace mgs {

void BarRing::allocate(int channels, std::int64_t capacityFrames) {
    channels_ = std::max(1, channels);
    capacity_ = std::max<std::int64_t>(1, capacityFrames);
    data_.assign(static_cast<std::size_t>(channels_),
                 std::vector<float>(static_cast<std::size_t>(capacity_), 0.0f));
    written_.store(0, std::memory_order_release);
}

void BarRing::clear() { written_.store(0, std::memory_order_release); }

void BarRing::write(const float* const* input, int numInputChannels, int numFrames) {
    if (capacity_ <= 0 || numFrames <= 0) return;
    const std::int64_t start = written_.load(std::memory_order_relaxed);
    int done = 0;
    while (done < numFrames) {
        const std::int64_t pos = (start + done) % capacity_;
        const int chunk = static_cast<int>(std::min<std::int64_t>(numFrames - done, capacity_ - pos));
        for (int c = 0; c < channels_; ++c) {
            float* dest = data_[static_cast<std::size_t>(c)].data() + pos;
            const int source = std::min(c, numInputChannels - 1);
            if (source < 0 || input[source] == nullptr)
                std::memset(dest, 0, sizeof(float) * static_cast<std::size_t>(chunk));
            else
                std::memcpy(dest, input[source] + done, sizeof(float) * static_cast<std::size_t>(chunk));
        }
        done += chunk;
    }
    written_.store(start + numFrames, std::memory_order_release);
}

bool BarRing::read(std::int64_t start, std::int64_t numFrames, float* const* out,
                   std::int64_t guardFrames) const {
    if (numFrames < 0 || start < 0) return false;
    const std::int64_t end = start + numFrames;
    if (end > written()) return false;
    if (written() - start > capacity_ - guardFrames) return false;
    std::int64_t done = 0;
    while (done < numFrames) {
        const std::int64_t pos = (start + done) % capacity_;
        const std::int64_t chunk = std::min(numFrames - done, capacity_ - pos);
        for (int c = 0; c < channels_; ++c)
            std::memcpy(out[c] + done, data_[static_cast<std::size_t>(c)].data() + pos,
                        sizeof(float) * static_cast<std::size_t>(chunk));
        done += chunk;
    }
    // The writer may have lapped the start while we copied: check again.
    return written() - start <= capacity_;
}

}  // namespace mgs
