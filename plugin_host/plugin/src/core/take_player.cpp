// Take player: a delivered take, locked to the host's bar grid (start, loop, switch, re-sync).
#include "core/take_player.h"

#include <algorithm>
#include <cmath>

namespace mgs {

namespace {
constexpr double kFrameEpsilon = 1e-3;
constexpr double kTempoMatch = 1e-4;  // relative: host and take tempi count as equal
}  // namespace

std::int64_t TakeAudio::loopFrames() const {
    if (bars <= 0) return frames;
    const double barPpq = numerator * 4.0 / denominator;
    const auto exact = static_cast<std::int64_t>(std::llround(bars * barPpq * framesPerPpq()));
    return std::max<std::int64_t>(1, std::min(exact, frames));
}

double TakePlayer::exactFrameAt(const TakeAudio& take, double startPpq, double ppq, bool loop) {
    double frame = (ppq - startPpq) * take.framesPerPpq();
    const auto length = static_cast<double>(take.loopFrames());
    if (loop) {  // a loop lies on the grid both ways: before its start too (a host loop back)
        double wrapped = std::fmod(frame + kFrameEpsilon, length);
        if (wrapped < 0.0) wrapped += length;
        return std::max(0.0, wrapped - kFrameEpsilon);
    }
    if (frame < -kFrameEpsilon) return -1.0;
    frame = std::max(0.0, frame);
    return frame >= length - kFrameEpsilon ? -1.0 : frame;
}

std::int64_t TakePlayer::frameAt(const TakeAudio& take, double startPpq, double ppq, bool loop) {
    const double frame = exactFrameAt(take, startPpq, ppq, loop);
    if (frame < 0.0) return -1;
    return static_cast<std::int64_t>(std::floor(frame + kFrameEpsilon));
}

void TakePlayer::arm(const TakeAudio* take, int multiple) {
    if (take == nullptr) return;
    armed_ = take;
    startScheduler_.arm(multiple);
    if (state_ != State::playing) state_ = State::armed;
}

void TakePlayer::switchTo(const TakeAudio* take) {
    if (take == nullptr || state_ != State::playing) return;
    if (take == current_) {
        pending_ = nullptr;
        switchScheduler_.cancel();
        return;
    }
    pending_ = take;
    switchScheduler_.arm(1);
}

void TakePlayer::stop() {
    state_ = State::idle;
    current_ = armed_ = pending_ = nullptr;
    startScheduler_.cancel();
    switchScheduler_.cancel();
    pos_ = -1;
}

void TakePlayer::forget(const TakeAudio* take) {
    if (take == nullptr) return;
    if (pending_ == take) {
        pending_ = nullptr;
        switchScheduler_.cancel();
    }
    if (armed_ == take) {
        armed_ = nullptr;
        startScheduler_.cancel();
        if (state_ == State::armed) state_ = State::idle;
    }
    if (current_ == take) {
        current_ = nullptr;
        pos_ = -1;
        state_ = armed_ != nullptr ? State::armed : State::idle;
    }
}

void TakePlayer::renderSpan(int from, int to, float* const* out, int numOut, float gain, bool loop) {
    if (current_ == nullptr || pos_ < 0 || from >= to) return;
    const TakeAudio& take = *current_;
    const std::int64_t length = take.loopFrames();
    const int takeChannels = static_cast<int>(take.channels.size());
    if (takeChannels == 0 || length <= 0) return;
    int i = from;
    while (i < to) {
        if (pos_ >= length) {
            if (!loop) {
                pos_ = -1;
                state_ = State::finished;
                return;
            }
            pos_ -= length;
        }
        const int chunk = static_cast<int>(std::min<std::int64_t>(to - i, length - pos_));
        for (int c = 0; c < numOut; ++c) {
            const float* source = take.channels[static_cast<std::size_t>(std::min(c, takeChannels - 1))].data() + pos_;
            float* dest = out[c] + i;
            for (int s = 0; s < chunk; ++s) dest[s] += gain * source[s];
        }
        pos_ += chunk;
        i += chunk;
    }
}

TakePlayer::BlockResult TakePlayer::render(const BlockTiming& timing, int numSamples,
                                           float* const* out, int numOut, float gain, bool loop) {
    BlockResult result;
    if (!timing.takesRun()) {
        wasRunning_ = false;
        return result;
    }
    const bool needResync = !wasRunning_ || timing.discontinuity;
    wasRunning_ = true;

    // Cut points inside the block, each followed by a fresh position from the ppq.
    int cuts[5];
    int numCuts = 0;
    int startAt = -1;
    int switchAt = -1;
    GridEvent startEvent;
    GridEvent switchEvent;
    if (armed_ != nullptr && startScheduler_.armed()) {
        startEvent = startScheduler_.poll(timing, numSamples);
        if (startEvent.found) startAt = startEvent.offset;
    }
    if (pending_ != nullptr && switchScheduler_.armed() && state_ == State::playing) {
        switchEvent = switchScheduler_.poll(timing, numSamples);
        if (switchEvent.found) switchAt = switchEvent.offset;
    }
    if (startAt >= 0) cuts[numCuts++] = startAt;
    if (switchAt >= 0) cuts[numCuts++] = switchAt;

    if (current_ != nullptr && state_ == State::playing) {
        const double hostBpm = timing.bpm;
        result.tempoMismatch = std::fabs(hostBpm - current_->bpm) > kTempoMatch * current_->bpm;
        const double expected = exactFrameAt(*current_, startPpq_, timing.ppqStart, loop);
        const bool off = (expected < 0.0) != (pos_ < 0) ||
                         (expected >= 0.0 && std::fabs(expected - static_cast<double>(pos_)) >
                                                 kResyncToleranceFrames &&
                          !result.tempoMismatch);
        if (needResync || off) cuts[numCuts++] = 0;
        if (result.tempoMismatch) {  // drifting: back onto the grid at every bar line
            const GridEvent line = findBarLine(timing, numSamples, 1, 0);
            if (line.found) cuts[numCuts++] = line.offset;
        }
        if (!loop && timing.ppqStart < startPpq_) {  // a one-shot before its start: wait for it
            const double samples = (startPpq_ - timing.ppqStart) / timing.ppqPerSample;
            const auto at = static_cast<std::int64_t>(std::ceil(samples - kFrameEpsilon));
            if (at < numSamples) cuts[numCuts++] = static_cast<int>(at);
        }
    }
    std::sort(cuts, cuts + numCuts);
    numCuts = static_cast<int>(std::unique(cuts, cuts + numCuts) - cuts);

    int i = 0;
    for (int k = 0; k <= numCuts; ++k) {
        const int cut = k < numCuts ? cuts[k] : numSamples;
        renderSpan(i, cut, out, numOut, gain, loop);
        if (k == numCuts) break;
        i = cut;
        if (cut == startAt) {
            current_ = armed_;
            armed_ = nullptr;
            pending_ = nullptr;
            switchScheduler_.cancel();
            switchAt = -1;
            startPpq_ = startEvent.ppq;
            state_ = State::playing;
            result.started = true;
            result.startOffset = cut;
            result.startBar = startEvent.bar;
            result.startPpq = startEvent.ppq;
        }
        if (cut == switchAt && pending_ != nullptr) {
            current_ = pending_;
            pending_ = nullptr;
            result.switched = true;
            result.switchBar = switchEvent.bar;
        }
        if (current_ != nullptr && state_ != State::armed) {
            const std::int64_t frame = frameAt(*current_, startPpq_, timing.ppqAt(cut), loop);
            if (frame != pos_) ++result.resyncs;
            pos_ = frame;
            if (frame >= 0 && state_ == State::finished) state_ = State::playing;
        }
    }
    if (result.started) result.resyncs = std::max(0, result.resyncs - 1);
    return result;
}

}  // namespace mgs
