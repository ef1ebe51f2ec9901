// Worker, request side: capture → WAV → /sidecar/continue, replies matched by id, stems → audio.
#include <cmath>

#include "AudioFiles.h"
#include "PluginProcessor.h"
#include "Worker.h"

namespace mgs {

namespace {
double now() { return juce::Time::getMillisecondCounterHiRes() / 1000.0; }

juce::String argString(const juce::OSCMessage& m, int i) {
    if (i >= m.size()) return {};
    const auto& a = m[i];
    if (a.isString()) return a.getString();
    if (a.isInt32()) return juce::String(a.getInt32());
    if (a.isFloat32()) return juce::String(a.getFloat32());
    return {};
}

double argNumber(const juce::OSCMessage& m, int i, double fallback) {
    if (i >= m.size()) return fallback;
    const auto& a = m[i];
    if (a.isFloat32()) return a.getFloat32();
    if (a.isInt32()) return a.getInt32();
    if (a.isString()) return a.getString().getDoubleValue();
    return fallback;
}

const char* sourceName(TriggerSource s) {
    switch (s) {
        case TriggerSource::parameter: return "parameter";
        case TriggerSource::midi: return "midi";
        case TriggerSource::button: return "button";
        case TriggerSource::file: return "file";
    }
    return "parameter";
}

juce::String playerStateName(int state) {
    switch (static_cast<TakePlayer::State>(state)) {
        case TakePlayer::State::idle: return "idle";
        case TakePlayer::State::armed: return "armed";
        case TakePlayer::State::playing: return "playing";
        case TakePlayer::State::finished: return "stopped";
    }
    return "idle";
}

juce::String takeName(int index) { return juce::String::charToString(static_cast<juce::juce_wchar>('A' + index)); }
}  // namespace

void Worker::handleAudioEvent(const AudioEvent& e) {
    switch (e.type) {
        case AudioEvent::Type::trigger: {
            {
                std::lock_guard<std::mutex> lock(mutex_);
                ++snapshot_.triggers;
            }
            event("trigger", {{"source", sourceName(e.source)}, {"quantize", e.quantized}});
            if (e.quantized) setStatus("capturing at the next bar line");
            break;
        }
        case AudioEvent::Type::triggerIgnored:
            setStatus("already waiting for the next bar line to capture");
            break;
        case AudioEvent::Type::capture: handleCapture(e); break;
        case AudioEvent::Type::reroll: doReroll(); break;
        case AudioEvent::Type::cancel: doCancel(); break;
        case AudioEvent::Type::started: {
            {
                std::lock_guard<std::mutex> lock(mutex_);
                snapshot_.playerTake = e.slot;
                snapshot_.playerStartPpq = e.ppq;
                snapshot_.playerStartBar = e.bar;
                snapshot_.playerStartSample = e.sample;
            }
            event("started", {{"take", e.slot}, {"start_bar", static_cast<juce::int64>(e.bar)}, {"start_ppq", e.ppq}, {"start_sample", static_cast<juce::int64>(e.sample)}});
            setStatus("playing take " + takeName(e.slot) + " from bar " + juce::String(e.bar + 1));
            break;
        }
        case AudioEvent::Type::switched:
            event("switched", {{"take", e.slot}, {"bar", static_cast<juce::int64>(e.bar)}});
            setStatus("switched to take " + takeName(e.slot) + " at bar " + juce::String(e.bar + 1));
            break;
        case AudioEvent::Type::tempoMismatch: {
            double takeBpm = 0.0;
            {
                std::lock_guard<std::mutex> lock(mutex_);
                snapshot_.tempoMismatch = e.flag;
                const int slot = processor_.view.playerSlot.load();
                for (const auto& t : snapshot_.takes)
                    if (t.index == slot) takeBpm = t.bpm;
            }
            event("tempo_mismatch", {{"mismatch", e.flag}, {"host_bpm", e.bpm}, {"take_bpm", takeBpm}});
            setStatus(e.flag ? "host tempo " + juce::String(e.bpm, 2) + " BPM is not the take's " +
                                   juce::String(takeBpm, 2) + " BPM: it plays at its own tempo, back on the grid at each bar line"
                             : "host tempo matches the take again");
            break;
        }
        case AudioEvent::Type::released:
            if (e.generation != generation_) break;  // from before prepareToPlay: already freed
            for (auto it = owned_.begin(); it != owned_.end(); ++it) {
                if (it->take.get() == e.take) {
                    owned_.erase(it);
                    break;
                }
            }
            break;
        case AudioEvent::Type::overflow: break;
    }
}

void Worker::handleCapture(const AudioEvent& e) {
    if (request_.active()) {
        setStatus("busy: request " + request_.id + " is " + request_.state + "; press Cancel first");
        return;
    }
    if (sampleRate_ <= 0.0) return;
    std::int64_t frames = e.frames;
    const std::int64_t start = e.endSample - frames;
    const bool shortened = start < 0;
    if (shortened) frames = e.endSample;
    if (frames < static_cast<std::int64_t>(sampleRate_ * 0.1)) {
        setStatus("nothing to capture yet: play some bars through the plugin first");
        return;
    }
    const double bpm = e.bpm * e.denominator / 4.0;  // in beats of the metre's denominator
    if (bpm < 20.0 || bpm > 300.0 || e.numerator > 16) {
        setStatus("cannot ask the sidecar: " + juce::String(bpm, 1) + " beats a minute in " +
                  juce::String(e.numerator) + "/" + juce::String(e.denominator) +
                  " is outside its 20..300 BPM, 1..16 beats a bar");
        return;
    }
    std::vector<std::vector<float>> audio(2, std::vector<float>(static_cast<std::size_t>(frames)));
    float* out[2] = {audio[0].data(), audio[1].data()};
    if (!processor_.ring.read(e.endSample - frames, frames, out, static_cast<std::int64_t>(sampleRate_))) {
        setStatus("the capture was overwritten before it could be saved; press Generate again");
        return;
    }
    const juce::String id = nextId();
    request_ = Request{};
    request_.id = id;
    request_.state = "capturing";
    const PluginSettings s = settings().effective();
    const juce::File wav = s.captureFolder().getChildFile(id + ".wav");
    const juce::String error = writeWavAtomically(wav, audio, sampleRate_);
    if (error.isNotEmpty()) {
        setStatus("could not write the capture: " + error);
        finishRequest("error");
        return;
    }
    const double seconds = static_cast<double>(frames) / sampleRate_;
    const double barSeconds = e.numerator * 4.0 / e.denominator * 60.0 / e.bpm;
    const int bars = juce::jmax(1, static_cast<int>(std::lround(seconds / barSeconds)));
    const auto& params = processor_.parameters;
    const int takeBars = static_cast<int>(params.getRawParameterValue(param::takeBars)->load());
    const int variations = static_cast<int>(params.getRawParameterValue(param::variations)->load());
    const bool loop = params.getRawParameterValue(param::loop)->load() > 0.5f;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        ++snapshot_.captures;
        snapshot_.capturePath = wav.getFullPathName();
        snapshot_.captureBars = bars;
        snapshot_.captureBpm = bpm;
        snapshot_.captureBeatsPerBar = e.numerator;
        snapshot_.captureSeconds = seconds;
        snapshot_.captureEndPpq = e.ppq;
        snapshot_.captureStartPpq = e.ppq - seconds * e.bpm / 60.0;
    }
    event("capture", {{"path", wav.getFullPathName()}, {"bars", bars}, {"seconds", seconds},
                      {"end_ppq", e.ppq}, {"end_sample", static_cast<juce::int64>(e.endSample)}});

    juce::Array<juce::OSCArgument> args;
    auto pair = [&args](const char* key, juce::OSCArgument value) {
        args.add(juce::OSCArgument(juce::String(key)));
        args.add(value);
    };
    pair("clip_start", 0.0f);
    pair("clip_end", static_cast<float>(seconds));
    pair("bpm", static_cast<float>(bpm));
    pair("beats_per_bar", e.numerator);
    pair("bars", takeBars);
    pair("variations", variations);
    pair("loop", loop ? 1 : 0);
    if (sampleRate_ >= 8000.0 && sampleRate_ <= 192000.0) pair("sample_rate", static_cast<int>(std::lround(sampleRate_)));
    if (s.preset.isNotEmpty()) pair("preset", s.preset);
    if (s.prompt.isNotEmpty()) pair("prompt", s.prompt);
    if (s.key.isNotEmpty()) pair("key", s.key);
    request_.clip = wav.getFullPathName();
    request_.arguments = args;
    request_.bpmQuarter = e.bpm;
    request_.numerator = e.numerator;
    request_.denominator = e.denominator;
    request_.takeBars = takeBars;
    sendRequest(id, s.seed);
    if (shortened && request_.state == "sending")
        setStatus("only " + juce::String(bars) + " bar(s) recorded so far: sent those");
}

void Worker::sendRequest(const juce::String& id, juce::int64 seed) {
    juce::Array<juce::OSCArgument> args;
    args.add(juce::OSCArgument(id));
    args.add(juce::OSCArgument(juce::String("clip")));
    args.add(juce::OSCArgument(request_.clip));
    args.addArray(request_.arguments);
    if (seed >= 0) {
        args.add(juce::OSCArgument(juce::String("seed")));
        args.add(juce::OSCArgument(static_cast<juce::int32>(juce::jmin<juce::int64>(seed, 2147483647))));
    }
    request_.id = id;
    request_.seed = seed;
    request_.sentAt = now();
    request_.lastHeardAt = request_.sentAt;
    request_.state = "sending";
    {
        std::lock_guard<std::mutex> lock(mutex_);
        ++snapshot_.requests;
        snapshot_.requestId = id;
        snapshot_.requestState = "sending";
        snapshot_.progress = 0.0;
        snapshot_.etaSeconds = -1.0;
        snapshot_.errorCode = snapshot_.errorMessage = {};
        snapshot_.cancelConfirmed = false;
    }
    if (!connected_ || !client_.send("/sidecar/continue", args)) {
        setStatus("could not send the request to the sidecar (check host and port)");
        finishRequest("error");
        return;
    }
    event("sent", {{"id", id}, {"address", "/sidecar/continue"}});
    setStatus("sent " + id + "; waiting for the sidecar");
}

void Worker::doReroll() {
    if (request_.active()) {
        setStatus("busy: request " + request_.id + " is " + request_.state + "; press Cancel first");
        return;
    }
    if (request_.clip.isEmpty()) {
        setStatus("nothing to re-roll yet: press Generate first");
        return;
    }
    juce::int64 seed = juce::Random::getSystemRandom().nextInt(0x7fffffff);
    if (seed == request_.seed) seed = (seed + 1) % 0x7fffffff;
    pastIds_.add(request_.id);
    sendRequest(nextId(), seed);
}

void Worker::doCancel() {
    if (!request_.active()) {
        setStatus("nothing to cancel");
        return;
    }
    client_.send("/sidecar/cancel", {juce::OSCArgument(request_.id)});
    request_.state = "cancelling";
    request_.cancelSent = true;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        snapshot_.requestState = "cancelling";
    }
    event("sent", {{"id", request_.id}, {"address", "/sidecar/cancel"}});
    setStatus("cancel sent for " + request_.id + "; waiting for the sidecar to confirm");
}

void Worker::finishRequest(const juce::String& state) {
    request_.state = state;
    if (pastIds_.size() > 64) pastIds_.removeRange(0, pastIds_.size() - 64);
    std::lock_guard<std::mutex> lock(mutex_);
    snapshot_.requestState = state;
    dirty_ = true;
}

void Worker::handleReply(const juce::OSCMessage& m) {
    const juce::String address = m.getAddressPattern().toString();
    const double t = now();
    if (address == "/sidecar/pong") {
        const juce::String state = argString(m, 3);
        juce::String was;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            was = snapshot_.sidecarState;
            snapshot_.version = argString(m, 0);
            snapshot_.model = argString(m, 1);
            snapshot_.device = argString(m, 2);
            snapshot_.sidecarState = state;
        }
        lastPongAt_ = t;
        if (was != state) {
            event("pong", {{"state", state}, {"model", argString(m, 1)}});
            setStatus("sidecar " + state + " (" + argString(m, 1) + " on " + argString(m, 2) + ")");
        }
        if (!askedPresets_ && state == "ready") {
            askedPresets_ = true;
            client_.send("/sidecar/presets", {});
        }
        return;
    }
    if (address == "/sidecar/presets/reply") {
        juce::StringArray names;
        for (int i = 1; i + 1 < m.size() + 1 && i < m.size(); i += 2) names.add(argString(m, i));
        std::lock_guard<std::mutex> lock(mutex_);
        presets_ = names;
        return;
    }
    const juce::String id = argString(m, 0);
    if (address == "/sidecar/error" && id.isEmpty()) {
        setStatus("the sidecar refused a message (" + argString(m, 1) + "): " + argString(m, 2));
        if (request_.state == "sending") finishRequest("error");
        return;
    }
    if (id.isEmpty() || id != request_.id || (!request_.active() && address != "/sidecar/status/reply")) {
        if (id.isNotEmpty() && (pastIds_.contains(id) || id == request_.id)) {
            event("late_reply", {{"id", id}, {"address", address}});
            return;
        }
        {
            std::lock_guard<std::mutex> lock(mutex_);
            ++snapshot_.unknownReplies;
        }
        event("unknown_reply", {{"id", id}, {"address", address}});
        setStatus("ignored a reply for unknown request '" + id + "' (" + address + ")");
        return;
    }
    request_.lastHeardAt = t;
    event("reply", {{"id", id}, {"address", address}});
    if (address == "/sidecar/accepted") {
        if (request_.state == "sending") request_.state = "queued";
        {
            std::lock_guard<std::mutex> lock(mutex_);
            snapshot_.requestState = request_.state;
        }
        const int position = static_cast<int>(argNumber(m, 1, 0));
        setStatus(position == 0 ? "accepted; generating next" : "queued at position " + juce::String(position));
    } else if (address == "/sidecar/progress") {
        if (request_.state != "cancelling") request_.state = "running";
        const double fraction = argNumber(m, 1, 0.0);
        const double eta = argNumber(m, 2, -1.0);
        {
            std::lock_guard<std::mutex> lock(mutex_);
            snapshot_.requestState = request_.state;
            snapshot_.progress = fraction;
            snapshot_.etaSeconds = eta;
        }
        event("progress", {{"id", id}, {"fraction", fraction}, {"eta_seconds", eta}});
        if (request_.state == "running")
            setStatus("generating " + juce::String(juce::roundToInt(fraction * 100)) + " %" +
                      (eta >= 0.0 ? ", about " + juce::String(juce::roundToInt(eta)) + " s left" : juce::String()));
    } else if (address == "/sidecar/stem") {
        handleStem(m);
    } else if (address == "/sidecar/done") {
        finishRequest("done");
        {
            std::lock_guard<std::mutex> lock(mutex_);
            snapshot_.progress = 1.0;
            snapshot_.etaSeconds = 0.0;
        }
        event("done", {{"id", id}, {"files", static_cast<int>(argNumber(m, 1, 0))}});
        setStatus("done: " + juce::String(request_.stemsInstalled) + " take(s) loaded from " + id);
    } else if (address == "/sidecar/error") {
        finishRequest("error");
        {
            std::lock_guard<std::mutex> lock(mutex_);
            snapshot_.errorCode = argString(m, 1);
            snapshot_.errorMessage = argString(m, 2);
        }
        event("error", {{"id", id}, {"code", argString(m, 1)}, {"message", argString(m, 2)}});
        setStatus("sidecar error (" + argString(m, 1) + "): " + argString(m, 2));
    } else if (address == "/sidecar/cancelled") {
        finishRequest("cancelled");
        {
            std::lock_guard<std::mutex> lock(mutex_);
            snapshot_.cancelConfirmed = true;
        }
        event("cancelled", {{"id", id}});
        setStatus("cancelled (confirmed by the sidecar)");
    } else if (address == "/sidecar/status/reply" && request_.cancelSent) {
        const juce::String state = argString(m, 1);
        setStatus("cancel: the sidecar says " + id + " is " + state);
        if (state != "queued" && state != "running") finishRequest(state == "done" ? "done" : "cancelled");
    }
}

void Worker::handleStem(const juce::OSCMessage& m) {
    TakeRecord record;
    record.index = juce::jlimit(0, kMaxTakes - 1, static_cast<int>(argNumber(m, 1, 0)));
    record.path = argString(m, 2);
    record.requestId = request_.id;
    record.seed = request_.seed;
    record.bpm = request_.bpmQuarter;
    record.bars = request_.takeBars;
    record.numerator = request_.numerator;
    record.denominator = request_.denominator;
    for (int i = 3; i + 1 < m.size(); i += 2) {
        const juce::String key = argString(m, i);
        if (key == "bpm") record.bpm = argNumber(m, i + 1, record.bpm) * 4.0 / request_.denominator;
        else if (key == "bars") record.bars = static_cast<int>(argNumber(m, i + 1, record.bars));
        else if (key == "seed") record.seed = static_cast<juce::int64>(argNumber(m, i + 1, -1));
    }
    {
        std::lock_guard<std::mutex> lock(mutex_);
        ++snapshot_.stems;
        if (request_.stemsSeen == 0) snapshot_.takes.clear();
    }
    ++request_.stemsSeen;
    const bool first = request_.stemsInstalled == 0;
    if (installTake(record, first, first)) ++request_.stemsInstalled;
}

bool Worker::installTake(TakeRecord record, bool newSet, bool arm) {
    bool ok = false;
    if (sampleRate_ <= 0.0) {
        record.error = "waiting for the host to start audio";
    } else {
        TakeInfo info{record.index, record.bpm, record.bars, record.numerator, record.denominator};
        LoadedTake loaded = loadTake(juce::File(record.path), sampleRate_, info);
        if (loaded.take == nullptr) {
            record.error = loaded.error;
            event("stem_failed", {{"id", record.requestId}, {"index", record.index}, {"path", record.path},
                                  {"message", loaded.error}});
            setStatus("take " + takeName(record.index) + " could not be loaded: " + loaded.error);
        } else {
            AudioCommand c;
            c.type = AudioCommand::Type::install;
            c.slot = record.index;
            c.newSet = newSet;
            c.arm = arm;
            c.take = loaded.take.get();
            c.generation = generation_;
            const auto frames = loaded.take->frames;
            owned_.push_back({std::move(loaded.take), generation_});
            if (processor_.commands.push(c)) {
                ok = true;
                record.loaded = true;
                event("stem_loaded", {{"id", record.requestId}, {"index", record.index}, {"path", record.path},
                                      {"frames", static_cast<juce::int64>(frames)}});
                if (arm) {
                    const int every = static_cast<int>(
                        processor_.parameters.getRawParameterValue(param::playQuantizeBars)->load());
                    event("armed", {{"take", record.index}, {"quantize_bars", every}});
                    setStatus("take " + takeName(record.index) + " armed: starts at the next " +
                              (every > 1 ? juce::String(every) + "-bar boundary" : juce::String("bar line")));
                }
            } else {
                owned_.pop_back();
                record.error = "the audio thread is not taking takes (is the host processing?)";
            }
        }
    }
    std::lock_guard<std::mutex> lock(mutex_);
    for (int i = snapshot_.takes.size(); --i >= 0;)
        if (snapshot_.takes.getReference(i).index == record.index) snapshot_.takes.remove(i);
    snapshot_.takes.add(record);
    dirty_ = true;
    return ok;
}

void Worker::restoreTakes() {
    juce::Array<TakeRecord> takes;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (sampleRate_ <= 0.0) return;  // loaded once prepareToPlay says the rate
        takes.swapWith(restoredTakes_);
        if (!takes.isEmpty()) snapshot_.takes.clear();
    }
    bool first = true;
    for (auto record : takes) {
        record.loaded = false;
        record.error = {};
        if (installTake(record, first, first)) first = false;
    }
}

void Worker::refreshView() {
    const auto& v = processor_.view;
    std::lock_guard<std::mutex> lock(mutex_);
    const juce::String playerState = playerStateName(v.playerState.load());
    const int playerTake = v.playerSlot.load();
    const bool playing = v.playing.load();
    if (playerState != snapshot_.playerState || playerTake != snapshot_.playerTake || playing != snapshot_.playing)
        dirty_ = true;
    snapshot_.playerState = playerState;
    if (playerTake >= 0) snapshot_.playerTake = playerTake;
    snapshot_.playing = playing;
    snapshot_.bpm = v.bpm.load();
    snapshot_.numerator = v.numerator.load();
    snapshot_.denominator = v.denominator.load();
    snapshot_.ppq = v.ppq.load();
    snapshot_.hasHostPosition = v.hasHostPosition.load();
    snapshot_.blocks = v.blocks.load();
    snapshot_.resyncs = v.resyncs.load();
    snapshot_.selectedTake = static_cast<int>(processor_.parameters.getRawParameterValue(param::take)->load());
}

}  // namespace mgs
