// Worker thread: captures to WAV, requests over OSC, loads stems, watches liveness, reports status.
#include "Worker.h"

#include <cmath>

#include "AudioFiles.h"
#include "PluginProcessor.h"

namespace mgs {

namespace {
double now() { return juce::Time::getMillisecondCounterHiRes() / 1000.0; }

}  // namespace

bool Worker::Request::active() const {
    return state == "capturing" || state == "sending" || state == "queued" || state == "running" ||
           state == "cancelling";
}

Worker::Worker(MusicGenProcessor& processor)
    : juce::Thread("MusicGenSidecar worker"),
      processor_(processor),
      client_([this](const juce::OSCMessage& m) { onMessage(m); }) {
    instance_ = juce::String::toHexString(juce::Random::getSystemRandom().nextInt()).paddedLeft('0', 8);
    stallSeconds_ = environmentSeconds("MUSICGEN_SIDECAR_STALL_SECONDS", 30.0);
    pingSeconds_ = environmentSeconds("MUSICGEN_SIDECAR_PING_SECONDS", 2.0);
    acceptSeconds_ = environmentSeconds("MUSICGEN_SIDECAR_ACCEPT_SECONDS", 5.0);
    const juce::String trigger = environment("MUSICGEN_SIDECAR_TRIGGER_FILE");
    if (trigger.isNotEmpty() && juce::File::isAbsolutePath(trigger)) triggerFile_ = juce::File(trigger);
}

Worker::~Worker() {
    stop();
    client_.close();  // before the members its callback uses go away
}

void Worker::start() {
    push(UiCommand::reconnect);
    startThread();
}

void Worker::stop() {
    signalThreadShouldExit();
    wake_.signal();
    stopThread(4000);
}

void Worker::push(UiCommand command) {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        commands_.push_back(command);
    }
    wake_.signal();
}

void Worker::reroll() { push(UiCommand::reroll); }
void Worker::cancel() { push(UiCommand::cancel); }

void Worker::setSettings(const PluginSettings& settings) {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (settings == settings_) return;
        settings_ = settings;
    }
    push(UiCommand::reconnect);
}

PluginSettings Worker::settings() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return settings_;
}

StatusSnapshot Worker::snapshot() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return snapshot_;
}

juce::StringArray Worker::presets() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return presets_;
}

void Worker::audioPrepared(double sampleRate, int generation) {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        preparedRate_ = sampleRate;
        preparedGeneration_ = generation;
    }
    push(UiCommand::prepared);
}

void Worker::writeState(juce::XmlElement& root) const {
    std::lock_guard<std::mutex> lock(mutex_);
    settings_.writeTo(root);
    auto* takes = root.createNewChildElement("Takes");
    for (const auto& t : snapshot_.takes) {
        auto* e = takes->createNewChildElement("Take");
        e->setAttribute("index", t.index);
        e->setAttribute("path", t.path);
        e->setAttribute("request_id", t.requestId);
        e->setAttribute("seed", juce::String(t.seed));
        e->setAttribute("bpm", t.bpm);
        e->setAttribute("bars", t.bars);
        e->setAttribute("numerator", t.numerator);
        e->setAttribute("denominator", t.denominator);
    }
}

void Worker::readState(const juce::XmlElement& root) {
    juce::Array<TakeRecord> takes;
    if (const auto* list = root.getChildByName("Takes")) {
        for (const auto* e : list->getChildWithTagNameIterator("Take")) {
            TakeRecord t;
            t.index = e->getIntAttribute("index");
            t.path = e->getStringAttribute("path");
            t.requestId = e->getStringAttribute("request_id");
            t.seed = e->getStringAttribute("seed", "-1").getLargeIntValue();
            t.bpm = e->getDoubleAttribute("bpm", 120.0);
            t.bars = e->getIntAttribute("bars");
            t.numerator = e->getIntAttribute("numerator", 4);
            t.denominator = e->getIntAttribute("denominator", 4);
            takes.add(t);
        }
    }
    {
        std::lock_guard<std::mutex> lock(mutex_);
        settings_ = PluginSettings::readFrom(root.getChildByName("Settings"));
        restoredTakes_ = takes;
    }
    push(UiCommand::reconnect);
    push(UiCommand::restore);
}

void Worker::onMessage(const juce::OSCMessage& message) {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (inbox_.size() < 4096) inbox_.push_back(message);
    }
    wake_.signal();
}

void Worker::setStatus(const juce::String& line) {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (snapshot_.status == line) return;
        snapshot_.status = line;
    }
    dirty_ = true;
    event("status", {{"message", line}});
}

void Worker::event(const juce::String& name, const juce::NamedValueSet& fields) {
    dirty_ = true;
    files_.event(name, fields);
}

juce::String Worker::nextId() { return "plug-" + instance_ + "-" + juce::String(++counter_); }

void Worker::run() {
    while (!threadShouldExit()) {
        wake_.wait(20);
        std::deque<UiCommand> commands;
        std::deque<juce::OSCMessage> inbox;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            commands.swap(commands_);
            inbox.swap(inbox_);
        }
        for (const auto command : commands) {
            switch (command) {
                case UiCommand::reroll: doReroll(); break;
                case UiCommand::cancel: doCancel(); break;
                case UiCommand::reconnect: reconnect(); break;
                case UiCommand::restore: restoreTakes(); break;
                case UiCommand::prepared: {
                    std::lock_guard<std::mutex> lock(mutex_);
                    sampleRate_ = preparedRate_;
                    generation_ = preparedGeneration_;
                    break;
                }
            }
            if (command == UiCommand::prepared) {
                // The audio thread forgot every take: free them, load them again at this rate.
                owned_.clear();
                {
                    std::lock_guard<std::mutex> lock(mutex_);
                    if (restoredTakes_.isEmpty()) restoredTakes_ = snapshot_.takes;
                }
                restoreTakes();
            }
        }
        AudioEvent e;
        while (processor_.events.pop(e)) handleAudioEvent(e);
        for (const auto& m : inbox) handleReply(m);
        tick(now());
    }
}

void Worker::reconnect() {
    const PluginSettings s = settings().effective();
    client_.setToken(s.token);
    juce::String error;
    connected_ = client_.connect(s.host, s.port, error);
    {
        std::lock_guard<std::mutex> lock(mutex_);
        snapshot_.host = s.host;
        snapshot_.port = s.port;
    }
    if (!connected_) {
        setStatus("cannot reach the sidecar: " + error);
        return;
    }
    askedPresets_ = false;
    lastPingAt_ = 0.0;
    lastPongAt_ = 0.0;
    pingsSent_ = 0;
    dirty_ = true;
}

void Worker::tick(double t) {
    // Liveness: a ping every interval; no pong for three of them is "unreachable".
    if (connected_ && t - lastPingAt_ >= pingSeconds_) {
        lastPingAt_ = t;
        ++pingsSent_;
        client_.send("/sidecar/ping", {});
    }
    const bool silent = lastPongAt_ > 0.0 ? t - lastPongAt_ > 3.0 * pingSeconds_ : pingsSent_ >= 3;
    if (silent && snapshot().sidecarState != "unreachable") {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            snapshot_.sidecarState = "unreachable";
        }
        const auto s = settings().effective();
        setStatus("no sidecar answering at " + s.host + ":" + juce::String(s.port) +
                  " (start it with `sidecar serve`)");
    }
    if (triggerFile_ != juce::File() && t - lastTriggerCheckAt_ >= 0.1) {
        lastTriggerCheckAt_ = t;
        if (triggerFile_.existsAsFile() && triggerFile_.deleteFile()) processor_.pressGenerate(TriggerSource::file);
    }
    // Requests: unanswered, or stalled (no reply and no pong for the stall time).
    if (request_.state == "sending" && t - request_.sentAt > acceptSeconds_) {
        const auto s = settings().effective();
        setStatus("no answer from the sidecar at " + s.host + ":" + juce::String(s.port) + " within " +
                  juce::String(acceptSeconds_, 1) + " s: is `sidecar serve` running?");
        event("unanswered", {{"id", request_.id}});
        finishRequest("unanswered");
    } else if ((request_.state == "queued" || request_.state == "running" || request_.state == "cancelling") &&
               t - juce::jmax(request_.lastHeardAt, lastPongAt_) > stallSeconds_) {
        setStatus("the sidecar stopped answering (nothing for " + juce::String(stallSeconds_, 0) +
                  " s): request " + request_.id + " given up");
        event("stalled", {{"id", request_.id}});
        finishRequest("stalled");
    }
    refreshView();
    if (dirty_ && t - lastSnapshotAt_ >= 0.05) {
        lastSnapshotAt_ = t;
        dirty_ = false;
        files_.writeSnapshot(snapshot());
    }
}

}  // namespace mgs
