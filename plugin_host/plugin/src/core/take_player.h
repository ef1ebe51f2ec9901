// Take player: a delivered take, locked to the host's bar grid (start, loop, switch, re-sync).
#pragma once

#include <cstdint>
#include <vector>

#include "core/scheduler.h"
#include "core/transport.h"

namespace mgs {

/// One take's audio at the host rate; immutable once handed to the audio thread.
struct TakeAudio {
    std::vector<std::vector<float>> channels;
    std::int64_t frames = 0;
    double bpm = 120.0;   ///< the take's tempo, quarter notes a minute
    int bars = 0;         ///< 0: unknown, the file's length decides
    int numerator = 4;
    int denominator = 4;
    int index = 0;        ///< variation index
    double sampleRate = 48000.0;

    double framesPerPpq() const { return sampleRate * 60.0 / bpm; }
    /// Frames of one pass of the loop: `bars` bars at the take's tempo, at most the file.
    std::int64_t loopFrames() const;
};

/// Where the take stands; the audio thread owns it (no allocation, no locks).
class TakePlayer {
public:
    enum class State : std::uint8_t { idle, armed, playing, finished };

    struct BlockResult {
        bool started = false;
        int startOffset = 0;
        std::int64_t startBar = 0;
        double startPpq = 0.0;
        bool switched = false;
        std::int64_t switchBar = 0;
        int resyncs = 0;
        bool tempoMismatch = false;
    };

    /// Tolerance before the running position is moved to where the ppq says it should be.
    static constexpr double kResyncToleranceFrames = 2.0;

    /// Start `take` at the next bar line whose index is a multiple of `multiple`.
    void arm(const TakeAudio* take, int multiple);
    /// Play `take` instead of the current one from the next bar line, on the same grid.
    void switchTo(const TakeAudio* take);
    void stop();
    /// Forget every reference to `take` (it is about to be freed).
    void forget(const TakeAudio* take);

    /// Add `gain` × the take into `out` (numOut channels of numSamples). Silent while the
    /// transport is stopped; follows loops and jumps by re-deriving the position from ppq.
    BlockResult render(const BlockTiming& timing, int numSamples, float* const* out, int numOut,
                       float gain, bool loop);

    State state() const { return state_; }
    const TakeAudio* current() const { return current_; }
    const TakeAudio* armedTake() const { return armed_; }
    const TakeAudio* pendingSwitch() const { return pending_; }
    double startPpq() const { return startPpq_; }
    std::int64_t position() const { return pos_; }

    /// The frame of `take` that sounds at `ppq`. A loop repeats both ways from `startPpq`;
    /// a one-shot gives −1 before its start and past its end.
    static std::int64_t frameAt(const TakeAudio& take, double startPpq, double ppq, bool loop);
    static double exactFrameAt(const TakeAudio& take, double startPpq, double ppq, bool loop);

private:
    void renderSpan(int from, int to, float* const* out, int numOut, float gain, bool loop);

    State state_ = State::idle;
    const TakeAudio* current_ = nullptr;
    const TakeAudio* armed_ = nullptr;
    const TakeAudio* pending_ = nullptr;
    NextBarScheduler startScheduler_;
    NextBarScheduler switchScheduler_;
    double startPpq_ = 0.0;
    std::int64_t pos_ = -1;
    bool wasRunning_ = false;
};

}  // namespace mgs
