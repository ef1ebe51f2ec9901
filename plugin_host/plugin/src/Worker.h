// Worker thread: captures to WAV, requests over OSC, loads stems, watches liveness, reports status.
#pragma once

#include <deque>
#include <memory>
#include <mutex>
#include <vector>

#include <juce_core/juce_core.h>
#include <juce_osc/juce_osc.h>

#include "Messages.h"
#include "Settings.h"
#include "SidecarClient.h"
#include "StatusReport.h"

namespace mgs {

class MusicGenProcessor;

class Worker : private juce::Thread {
public:
    explicit Worker(MusicGenProcessor& processor);
    ~Worker() override;

    void start();
    void stop();

    // Any thread.
    void reroll();
    void cancel();
    void setSettings(const PluginSettings& settings);
    PluginSettings settings() const;
    StatusSnapshot snapshot() const;
    juce::StringArray presets() const;
    /// Called by prepareToPlay (the audio thread is not running).
    void audioPrepared(double sampleRate, int generation);
    void writeState(juce::XmlElement& root) const;
    void readState(const juce::XmlElement& root);

private:
    enum class UiCommand { reroll, cancel, reconnect, prepared, restore };

    struct Owned {
        std::unique_ptr<TakeAudio> take;
        int generation = 0;
    };

    struct Request {
        juce::String id;
        juce::String state = "idle";
        double sentAt = 0.0;
        double lastHeardAt = 0.0;
        int stemsInstalled = 0;
        int stemsSeen = 0;
        juce::int64 seed = -1;
        bool cancelSent = false;
        juce::Array<juce::OSCArgument> arguments;  ///< after `clip …`, without id and seed
        juce::String clip;
        double bpmQuarter = 120.0;
        int numerator = 4, denominator = 4, takeBars = 4;
        bool active() const;
    };

    void run() override;
    void onMessage(const juce::OSCMessage& message);  // receiver thread
    void push(UiCommand command);
    void handleAudioEvent(const AudioEvent& e);
    void handleReply(const juce::OSCMessage& m);
    void handleStem(const juce::OSCMessage& m);
    void handleCapture(const AudioEvent& e);
    void sendRequest(const juce::String& id, juce::int64 seed);
    void doReroll();
    void doCancel();
    void reconnect();
    void restoreTakes();
    bool installTake(TakeRecord record, bool newSet, bool arm);
    void tick(double now);
    void setStatus(const juce::String& line);
    void event(const juce::String& name, const juce::NamedValueSet& fields = {});
    void finishRequest(const juce::String& state);
    juce::String nextId();
    void refreshView();

    MusicGenProcessor& processor_;
    SidecarClient client_;
    StatusFiles files_;

    // Guarded by mutex_: shared with the window, the host's state calls and the receiver.
    mutable std::mutex mutex_;
    PluginSettings settings_;
    StatusSnapshot snapshot_;
    juce::StringArray presets_;
    juce::Array<TakeRecord> restoredTakes_;
    std::deque<juce::OSCMessage> inbox_;
    std::deque<UiCommand> commands_;
    double preparedRate_ = 0.0;
    int preparedGeneration_ = 0;

    // Worker thread only.
    juce::WaitableEvent wake_;
    std::vector<Owned> owned_;
    Request request_;
    juce::StringArray pastIds_;
    double sampleRate_ = 0.0;
    int generation_ = 0;
    double lastPingAt_ = 0.0;
    double lastPongAt_ = 0.0;
    int pingsSent_ = 0;
    double lastSnapshotAt_ = 0.0;
    bool dirty_ = true;
    bool connected_ = false;
    bool askedPresets_ = false;
    int counter_ = 0;
    juce::String instance_;
    juce::File triggerFile_;
    double lastTriggerCheckAt_ = 0.0;
    double stallSeconds_ = 30.0, pingSeconds_ = 2.0, acceptSeconds_ = 5.0;
};

}  // namespace mgs
