// A simulated host transport for the core tests: exact ppq per block, optional gaps.
#pragma once

#include <cstdint>

#include "core/transport.h"

struct SimHost {
    double sampleRate = 48000.0;
    double bpm = 120.0;
    int numerator = 4;
    int denominator = 4;
    double ppq = 0.0;
    bool playing = true;
    std::int64_t sample = 0;  ///< absolute samples since the start

    /// Position for the next block (`withPosition` false: the host sends nothing), then
    /// advances the host by `n` samples.
    mgs::HostPosition step(int n, bool withPosition = true) {
        mgs::HostPosition p;
        if (withPosition) {
            p.hasPpq = true;
            p.ppq = ppq;
            p.hasBpm = true;
            p.bpm = bpm;
            p.hasTimeSignature = true;
            p.numerator = numerator;
            p.denominator = denominator;
            p.hasPlaying = true;
            p.isPlaying = playing;
        }
        if (playing) ppq += n * bpm / 60.0 / sampleRate;
        sample += n;
        return p;
    }
};
