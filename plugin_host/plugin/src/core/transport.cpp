// Transport tracker: bar grid from host ppq, tempo and metre; extrapolation; a free clock.
#include "core/transport.h"

#include <algorithm>
#include <cmath>

namespace mgs {

namespace {
constexpr double kGridEpsilonPpq = 1e-9;

bool validMeter(int numerator, int denominator) {
    return numerator >= 1 && numerator <= 64 && denominator >= 1 && denominator <= 64;
}
}  // namespace

std::int64_t BlockTiming::barIndexAt(double ppq) const {
    return static_cast<std::int64_t>(std::floor((ppq - gridOriginPpq) / barPpq() + kGridEpsilonPpq));
}

double samplesPerPpq(double bpm, double sampleRate) { return sampleRate * 60.0 / bpm; }

HostPosition withDerivedPpq(const HostPosition& position, double sampleRate) {
    if (position.hasPpq || !position.hasTimeInSamples || !position.hasBpm) return position;
    if (!(position.bpm > 0.0) || !std::isfinite(position.bpm) || !(sampleRate > 0.0)) return position;
    HostPosition p = position;
    p.hasPpq = true;
    p.ppq = static_cast<double>(position.timeInSamples) / samplesPerPpq(position.bpm, sampleRate);
    return p;
}

void TransportTracker::prepare(double sampleRate) {
    sampleRate_ = sampleRate > 0.0 ? sampleRate : 48000.0;
    reset();
}

void TransportTracker::reset() {
    bpm_ = 120.0;
    numerator_ = 4;
    denominator_ = 4;
    gridOriginPpq_ = 0.0;
    expectedPpq_ = 0.0;
    everHadPpq_ = false;
    lastPlaying_ = false;
    started_ = false;
    samplesProcessed_ = 0;
}

BlockTiming TransportTracker::advance(const HostPosition& reported, int numSamples) {
    const HostPosition position = withDerivedPpq(reported, sampleRate_);
    BlockTiming t;
    const double oldBpm = bpm_;
    const int oldNum = numerator_;
    const int oldDen = denominator_;

    if (position.hasBpm && position.bpm > 0.0 && std::isfinite(position.bpm))
        bpm_ = position.bpm;
    if (position.hasTimeSignature && validMeter(position.numerator, position.denominator)) {
        numerator_ = position.numerator;
        denominator_ = position.denominator;
    }
    t.tempoChanged = started_ && bpm_ != oldBpm;
    t.meterChanged = started_ && (numerator_ != oldNum || denominator_ != oldDen);

    const bool hasPpq = position.hasPpq && std::isfinite(position.ppq);
    const bool playing = position.hasPlaying ? position.isPlaying : (hasPpq ? true : lastPlaying_);
    const double tolerancePpq =
        std::max(kJumpTolerancePpq, kJumpToleranceSamples / samplesPerPpq(bpm_, sampleRate_));

    double ppq = expectedPpq_;
    if (hasPpq && playing) {
        t.source = ClockSource::host;
        t.discontinuity = !started_ || !lastPlaying_ || std::fabs(position.ppq - expectedPpq_) > tolerancePpq;
        if (t.discontinuity) ppq = position.ppq;  // else: our clock, the host's rounding aside
        everHadPpq_ = true;
    } else if (!hasPpq && playing) {
        t.source = ClockSource::extrapolated;  // rolling, but this block came without a position
        t.discontinuity = !started_ || !lastPlaying_;
    } else {
        // Stopped (or no transport): a free-running clock at host tempo. When the host
        // reports a ppq while stopped, the clock starts from there.
        t.source = ClockSource::freeRunning;
        if (hasPpq) {
            everHadPpq_ = true;
            if (lastPlaying_ || !started_) ppq = position.ppq;
        }
        t.discontinuity = !started_ || lastPlaying_;
    }
    const bool hostPlaying = t.source != ClockSource::freeRunning;

    if (t.meterChanged) {
        // A new metre starts a new grid at the old grid's last bar line at or before here.
        const double oldBar = oldNum * 4.0 / oldDen;
        const double k = std::floor((ppq - gridOriginPpq_) / oldBar + kGridEpsilonPpq);
        gridOriginPpq_ = gridOriginPpq_ + k * oldBar;
    }

    t.ppqStart = ppq;
    t.bpm = bpm_;
    t.numerator = numerator_;
    t.denominator = denominator_;
    t.gridOriginPpq = gridOriginPpq_;
    t.ppqPerSample = 1.0 / samplesPerPpq(bpm_, sampleRate_);
    t.hostPlaying = hostPlaying;
    t.noHostTransport = !everHadPpq_;

    expectedPpq_ = ppq + t.ppqPerSample * numSamples;
    lastPlaying_ = hostPlaying;
    started_ = true;
    samplesProcessed_ += numSamples;
    return t;
}

}  // namespace mgs
