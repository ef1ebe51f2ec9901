// Transport tracker: turns what the host says (or doesn't) into a bar grid for each block.
#pragma once

#include <cstdint>

namespace mgs {

/// What the host's playhead reported for one block; any part may be missing.
struct HostPosition {
    bool hasPpq = false;
    double ppq = 0.0;
    bool hasBpm = false;
    double bpm = 120.0;  ///< quarter notes a minute
    bool hasTimeSignature = false;
    int numerator = 4;
    int denominator = 4;
    bool hasPlaying = false;
    bool isPlaying = false;
    /// Host timeline position in samples (LV2 time:frame). Used only when there is no ppq.
    bool hasTimeInSamples = false;
    std::int64_t timeInSamples = 0;
};

/// The ppq a position without one implies: timeInSamples at a constant tempo since sample 0
/// (a host that sends frame and tempo but no beat, like jalv 1.6.6 through JUCE 7's LV2
/// client). Bar counts are not used: under JACK xruns jack_transport's bar disagreed with its
/// frame, and the frame is what the host's timeline plays. Without frame and tempo there is
/// no ppq: `position` is returned unchanged.
HostPosition withDerivedPpq(const HostPosition& position, double sampleRate);

/// Where the grid stands at the first sample of a block.
enum class ClockSource : std::uint8_t {
    host,          ///< the host gave a ppq for this block
    extrapolated,  ///< no position this block: carried on from the last one
    freeRunning,   ///< the host is stopped or has no transport: our own clock at host tempo
};

struct BlockTiming {
    double ppqStart = 0.0;
    double ppqPerSample = 0.0;
    double bpm = 120.0;
    int numerator = 4;
    int denominator = 4;
    double gridOriginPpq = 0.0;  ///< a bar line; bars are counted from here
    ClockSource source = ClockSource::freeRunning;
    /// the host transport is rolling (reported, or extrapolated from the last report)
    bool hostPlaying = false;
    /// the host has never given a ppq: the free clock stands in for a transport
    bool noHostTransport = true;
    bool discontinuity = false;  ///< jump, loop, start/stop: the ppq is not where we expected
    bool tempoChanged = false;
    bool meterChanged = false;

    double barPpq() const { return numerator * 4.0 / denominator; }
    double ppqAt(int sampleOffset) const { return ppqStart + ppqPerSample * sampleOffset; }
    /// Bar index (from the grid origin) that `ppq` lies in.
    std::int64_t barIndexAt(double ppq) const;
    /// ppq of bar `index`.
    double barStartPpq(std::int64_t index) const { return gridOriginPpq + index * barPpq(); }
    /// True while takes may sound: the host rolls, or there is no host transport at all.
    bool takesRun() const { return hostPlaying || noHostTransport; }
};

/// Samples spanned by `ppq` quarter notes at `bpm`, at `sampleRate`.
double samplesPerPpq(double bpm, double sampleRate);

class TransportTracker {
public:
    /// A reported ppq within this of where our clock says it should be is the same place
    /// (our sample-exact clock is kept); farther away it is a jump. The larger of 2 samples
    /// and 1/480 quarter note: hosts that round ppq to ticks (Ardour: 1/1920) stay smooth.
    static constexpr double kJumpToleranceSamples = 2.0;
    static constexpr double kJumpTolerancePpq = 1.0 / 480.0;

    void prepare(double sampleRate);
    void reset();

    /// Timing for a block of `numSamples` starting now; then advances past it. A position
    /// without ppq but with frame and tempo gets its ppq from `withDerivedPpq`.
    BlockTiming advance(const HostPosition& reported, int numSamples);

    double sampleRate() const { return sampleRate_; }
    std::int64_t samplesProcessed() const { return samplesProcessed_; }

private:
    double sampleRate_ = 48000.0;
    double bpm_ = 120.0;
    int numerator_ = 4;
    int denominator_ = 4;
    double gridOriginPpq_ = 0.0;
    double expectedPpq_ = 0.0;  ///< ppq of the next block's first sample, as we predict it
    bool everHadPpq_ = false;
    bool lastPlaying_ = false;
    bool started_ = false;
    std::int64_t samplesProcessed_ = 0;
};

}  // namespace mgs
