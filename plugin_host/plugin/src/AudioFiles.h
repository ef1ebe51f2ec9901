// Audio files: the capture WAV (written atomically) and a delivered stem loaded at the host rate.
#pragma once

#include <memory>
#include <vector>

#include <juce_core/juce_core.h>

#include "core/take_player.h"

namespace mgs {

/// Write `channels` (equal lengths) as 24-bit PCM at `sampleRate` to `file`, via
/// `<file>.part` and a rename. Returns an empty string, or what went wrong.
juce::String writeWavAtomically(const juce::File& file, const std::vector<std::vector<float>>& channels,
                                double sampleRate);

struct TakeInfo {
    int index = 0;
    double bpm = 120.0;  ///< quarter notes a minute
    int bars = 0;
    int numerator = 4;
    int denominator = 4;
};

struct LoadedTake {
    std::unique_ptr<TakeAudio> take;  ///< null on failure
    juce::String error;
    double fileSampleRate = 0.0;
};

/// Read `file` (WAV/AIFF), resample to `hostSampleRate`, keep at most 2 channels.
LoadedTake loadTake(const juce::File& file, double hostSampleRate, const TakeInfo& info);

}  // namespace mgs
