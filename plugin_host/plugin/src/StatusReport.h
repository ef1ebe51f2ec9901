// Status report: what the window shows, written as a JSON snapshot and a JSON-lines event log.
#pragma once

#include <juce_core/juce_core.h>

namespace mgs {

struct TakeRecord {
    int index = 0;
    juce::String path;
    juce::String requestId;
    juce::int64 seed = -1;
    double bpm = 120.0;  ///< quarter notes a minute
    int bars = 0;
    int numerator = 4;
    int denominator = 4;
    bool loaded = false;
    juce::String error;
};

struct StatusSnapshot {
    juce::String status = "starting";
    // sidecar
    juce::String sidecarState = "unknown";
    juce::String model, device, version, host;
    int port = 0;
    // request
    juce::String requestId;
    juce::String requestState = "idle";
    double progress = 0.0;
    double etaSeconds = -1.0;
    juce::String errorCode, errorMessage;
    bool cancelConfirmed = false;
    // capture
    juce::String capturePath;
    int captureBars = 0;
    double captureBpm = 0.0;
    int captureBeatsPerBar = 0;
    double captureSeconds = 0.0;
    double captureStartPpq = 0.0, captureEndPpq = 0.0;
    // takes and player
    juce::Array<TakeRecord> takes;
    int selectedTake = 0;
    juce::String playerState = "idle";
    int playerTake = -1;
    double playerStartPpq = 0.0;
    juce::int64 playerStartBar = 0;
    juce::int64 playerStartSample = 0;
    // transport
    double bpm = 120.0;
    int numerator = 4, denominator = 4;
    double ppq = 0.0;
    bool playing = false, hasHostPosition = false;
    bool tempoMismatch = false;
    // counters
    juce::int64 triggers = 0, captures = 0, requests = 0, stems = 0, unknownReplies = 0, blocks = 0,
                resyncs = 0;

    juce::var toVar() const;
};

/// Writes the snapshot file (atomically) and appends events; both optional (env paths).
class StatusFiles {
public:
    StatusFiles();
    void writeSnapshot(const StatusSnapshot& snapshot);
    void event(const juce::String& name, const juce::NamedValueSet& fields = {});
    bool snapshotEnabled() const { return snapshotFile_ != juce::File(); }

private:
    juce::File snapshotFile_;
    juce::File eventFile_;
};

}  // namespace mgs
