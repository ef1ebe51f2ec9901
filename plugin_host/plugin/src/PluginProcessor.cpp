// The plugin's audio processor: pass-through, bar ring, capture at bar lines, bar-locked takes.
#include "PluginProcessor.h"

#include <cmath>

#include "PluginEditor.h"
#include "Worker.h"

namespace mgs {

namespace {
bool rising(std::atomic<float>* p, bool& last) {
    const bool now = p->load(std::memory_order_relaxed) > 0.5f;
    const bool edge = now && !last;
    last = now;
    return edge;
}

int rounded(std::atomic<float>* p) { return static_cast<int>(std::lround(p->load(std::memory_order_relaxed))); }
}  // namespace

MusicGenProcessor::MusicGenProcessor()
    : juce::AudioProcessor(BusesProperties()
                               .withInput("Input", juce::AudioChannelSet::stereo(), true)
                               .withOutput("Output", juce::AudioChannelSet::stereo(), true)),
      parameters(*this, nullptr, "MusicGenSidecar", createLayout()) {
    pGenerate_ = parameters.getRawParameterValue(param::generate);
    pMix_ = parameters.getRawParameterValue(param::mix);
    pBars_ = parameters.getRawParameterValue(param::bars);
    pCaptureQuantize_ = parameters.getRawParameterValue(param::captureQuantize);
    pPlayQuantize_ = parameters.getRawParameterValue(param::playQuantizeBars);
    pLoop_ = parameters.getRawParameterValue(param::loop);
    pTake_ = parameters.getRawParameterValue(param::take);
    pReroll_ = parameters.getRawParameterValue(param::reroll);
    pCancel_ = parameters.getRawParameterValue(param::cancel);
    worker_ = std::make_unique<Worker>(*this);
    worker_->start();
}

MusicGenProcessor::~MusicGenProcessor() { worker_->stop(); }

juce::AudioProcessorValueTreeState::ParameterLayout MusicGenProcessor::createLayout() {
    using juce::AudioParameterBool;
    using juce::AudioParameterFloat;
    using juce::AudioParameterInt;
    using juce::ParameterID;
    juce::AudioProcessorValueTreeState::ParameterLayout layout;
    layout.add(std::make_unique<AudioParameterBool>(ParameterID{param::generate, 1}, "Generate", false));
    layout.add(std::make_unique<AudioParameterFloat>(
        ParameterID{param::mix, 1}, "Mix", juce::NormalisableRange<float>(0.0f, 1.0f), 0.5f,
        juce::AudioParameterFloatAttributes().withStringFromValueFunction(
            [](float value, int) { return juce::String(value, 2); })));
    layout.add(std::make_unique<AudioParameterInt>(ParameterID{param::bars, 1}, "Capture bars", 1, 32, 4));
    layout.add(std::make_unique<AudioParameterInt>(ParameterID{param::takeBars, 1}, "Take bars", 1, 32, 4));
    layout.add(std::make_unique<AudioParameterBool>(ParameterID{param::captureQuantize, 1}, "Capture quantize", true));
    layout.add(std::make_unique<AudioParameterInt>(ParameterID{param::playQuantizeBars, 1},
                                                   "Playback quantize (bars)", 1, 16, 1));
    layout.add(std::make_unique<AudioParameterInt>(ParameterID{param::variations, 1}, "Variations", 1, 8, 1));
    layout.add(std::make_unique<AudioParameterBool>(ParameterID{param::loop, 1}, "Loop", true));
    layout.add(std::make_unique<AudioParameterInt>(ParameterID{param::take, 1}, "Take", 0, kMaxTakes - 1, 0));
    layout.add(std::make_unique<AudioParameterBool>(ParameterID{param::reroll, 1}, "Re-roll", false));
    layout.add(std::make_unique<AudioParameterBool>(ParameterID{param::cancel, 1}, "Cancel", false));
    return layout;
}

bool MusicGenProcessor::isBusesLayoutSupported(const BusesLayout& layouts) const {
    const auto out = layouts.getMainOutputChannelSet();
    if (out != juce::AudioChannelSet::mono() && out != juce::AudioChannelSet::stereo()) return false;
    const auto in = layouts.getMainInputChannelSet();
    return in == out || in.isDisabled();
}

void MusicGenProcessor::prepareToPlay(double sampleRate, int maximumExpectedSamplesPerBlock) {
    // Some hosts (DawDreamer) prepare again before every render: with the same rate and
    // block size keep the ring, the takes and the clock (the transport re-syncs by itself).
    if (maxBlock_ > 0 && sampleRate == sampleRateNow.load() && maximumExpectedSamplesPerBlock <= maxBlock_) {
        lastMix_ = pMix_->load();
        return;
    }
    // The audio thread is not running here: its state can be reset directly.
    maxBlock_ = juce::jmax(32, maximumExpectedSamplesPerBlock);
    scratch_.setSize(2, maxBlock_, false, true, false);
    tracker_.prepare(sampleRate);
    player_.stop();
    captureScheduler_.cancel();
    slots_.fill(nullptr);
    lingering_.fill(nullptr);
    AudioCommand stale;
    while (commands.pop(stale)) {
    }
    ring.allocate(2, static_cast<std::int64_t>((kRingSeconds + kRingGuardSeconds) * sampleRate));
    lastMix_ = pMix_->load();
    lastGenerate_ = pGenerate_->load() > 0.5f;
    lastReroll_ = pReroll_->load() > 0.5f;
    lastCancel_ = pCancel_->load() > 0.5f;
    activeGeneration_ = generation.fetch_add(1) + 1;
    sampleRateNow.store(sampleRate);
    worker_->audioPrepared(sampleRate, activeGeneration_);
}

void MusicGenProcessor::releaseResources() {}

HostPosition MusicGenProcessor::readPlayhead() {
    HostPosition p;
    auto* playHead = getPlayHead();
    if (playHead == nullptr) return p;
    const auto position = playHead->getPosition();
    if (!position.hasValue()) return p;
    if (const auto ppq = position->getPpqPosition()) {
        p.hasPpq = true;
        p.ppq = *ppq;
    }
    if (const auto bpm = position->getBpm()) {
        p.hasBpm = true;
        p.bpm = *bpm;
    }
    if (const auto sig = position->getTimeSignature()) {
        p.hasTimeSignature = true;
        p.numerator = sig->numerator;
        p.denominator = sig->denominator;
    }
    if (const auto samples = position->getTimeInSamples()) {
        p.hasTimeInSamples = true;
        p.timeInSamples = *samples;
    }
    p.hasPlaying = true;
    p.isPlaying = position->getIsPlaying();
    return p;
}

void MusicGenProcessor::post(const AudioEvent& event) {
    if (!events.push(event)) ++droppedEvents_;
}

void MusicGenProcessor::retire(const TakeAudio* take) {
    if (take == nullptr) return;
    for (auto& slot : lingering_) {
        if (slot == nullptr) {
            slot = take;
            return;
        }
    }
    // No room to wait: stop using it now and hand it back.
    player_.forget(take);
    AudioEvent e;
    e.type = AudioEvent::Type::released;
    e.take = take;
    e.generation = activeGeneration_;
    post(e);
}

void MusicGenProcessor::releaseLingering() {
    for (auto& take : lingering_) {
        if (take == nullptr || take == player_.current() || take == player_.armedTake() ||
            take == player_.pendingSwitch())
            continue;
        AudioEvent e;
        e.type = AudioEvent::Type::released;
        e.take = take;
        e.generation = activeGeneration_;
        post(e);
        take = nullptr;
    }
}

const TakeAudio* MusicGenProcessor::desiredTake() const {
    const int selected = juce::jlimit(0, kMaxTakes - 1, rounded(pTake_));
    if (slots_[static_cast<std::size_t>(selected)] != nullptr) return slots_[static_cast<std::size_t>(selected)];
    for (const auto* take : slots_)
        if (take != nullptr) return take;
    return nullptr;
}

void MusicGenProcessor::drainCommands() {
    AudioCommand c;
    while (commands.pop(c)) {
        if (c.generation != activeGeneration_) continue;  // from before prepareToPlay: never seen
        if (c.type == AudioCommand::Type::clear) {
            for (auto& slot : slots_) {
                retire(slot);
                slot = nullptr;
            }
            player_.stop();
            continue;
        }
        if (c.slot < 0 || c.slot >= kMaxTakes || c.take == nullptr) continue;
        if (c.newSet) {
            for (auto& slot : slots_) {
                retire(slot);
                slot = nullptr;
            }
        }
        auto& slot = slots_[static_cast<std::size_t>(c.slot)];
        retire(slot);
        slot = c.take;
        if (c.arm) player_.arm(desiredTake(), juce::jmax(1, rounded(pPlayQuantize_)));
    }
    releaseLingering();
}

void MusicGenProcessor::postCapture(int offset, const BlockTiming& timing, std::int64_t chunkStart, bool quantized,
                                    TriggerSource source) {
    const int bars = juce::jlimit(1, 32, rounded(pBars_));
    const double frames = bars * timing.barPpq() / timing.ppqPerSample;
    const auto maxFrames = ring.capacityFrames() - static_cast<std::int64_t>(kRingGuardSeconds * tracker_.sampleRate());
    AudioEvent e;
    e.type = AudioEvent::Type::capture;
    e.source = source;
    e.quantized = quantized;
    e.endSample = chunkStart + offset;
    e.frames = juce::jmin(static_cast<std::int64_t>(std::llround(frames)), maxFrames);
    e.ppq = timing.ppqAt(offset);
    e.bpm = timing.bpm;
    e.numerator = timing.numerator;
    e.denominator = timing.denominator;
    e.bar = bars;
    post(e);
}

void MusicGenProcessor::handlePress(const Press& press, int chunkOffset, const BlockTiming& timing,
                                    std::int64_t chunkStart) {
    AudioEvent e;
    e.source = press.source;
    if (press.kind == 1 || press.kind == 2) {
        e.type = press.kind == 1 ? AudioEvent::Type::reroll : AudioEvent::Type::cancel;
        post(e);
        return;
    }
    const bool quantize = pCaptureQuantize_->load(std::memory_order_relaxed) > 0.5f;
    e.quantized = quantize;
    if (captureScheduler_.armed()) {
        e.type = AudioEvent::Type::triggerIgnored;
        post(e);
        return;
    }
    e.type = AudioEvent::Type::trigger;
    post(e);
    if (quantize) {
        captureSource_ = press.source;
        captureScheduler_.arm(1, chunkOffset);
    } else {
        postCapture(chunkOffset, timing, chunkStart, false, press.source);
    }
}

void MusicGenProcessor::processBlock(juce::AudioBuffer<float>& buffer, juce::MidiBuffer& midi) {
    juce::ScopedNoDenormals noDenormals;
    const int numSamples = buffer.getNumSamples();
    for (int c = getTotalNumInputChannels(); c < buffer.getNumChannels(); ++c) buffer.clear(c, 0, numSamples);
    if (numSamples <= 0 || maxBlock_ == 0) return;

    drainCommands();

    // Presses: parameter edges at the block start, MIDI notes at their sample, the button.
    std::array<Press, 16> presses{};
    int numPresses = 0;
    auto add = [&](int kind, int offset, TriggerSource source) {
        if (numPresses < static_cast<int>(presses.size())) presses[static_cast<std::size_t>(numPresses++)] = {kind, offset, source};
    };
    if (rising(pGenerate_, lastGenerate_)) add(0, 0, TriggerSource::parameter);
    if (rising(pReroll_, lastReroll_)) add(1, 0, TriggerSource::parameter);
    if (rising(pCancel_, lastCancel_)) add(2, 0, TriggerSource::parameter);
    if (buttonTrigger_.exchange(false)) add(0, 0, TriggerSource::button);
    if (fileTrigger_.exchange(false)) add(0, 0, TriggerSource::file);
    for (const auto metadata : midi) {
        const auto message = metadata.getMessage();
        if (!message.isNoteOn()) continue;
        const int note = message.getNoteNumber();
        const int kind = note == kTriggerNote ? 0 : note == kRerollNote ? 1 : note == kCancelNote ? 2 : -1;
        if (kind >= 0) add(kind, juce::jlimit(0, numSamples - 1, metadata.samplePosition), TriggerSource::midi);
    }

    const HostPosition position = readPlayhead();
    for (int start = 0; start < numSamples; start += maxBlock_) {
        const int length = juce::jmin(maxBlock_, numSamples - start);
        processChunk(buffer, start, length, start == 0 ? position : HostPosition{}, presses.data(), numPresses);
    }
    if (droppedEvents_ > 0) view.droppedEvents.store(droppedEvents_, std::memory_order_relaxed);
    view.blocks.fetch_add(1, std::memory_order_relaxed);
}

void MusicGenProcessor::processChunk(juce::AudioBuffer<float>& buffer, int start, int length,
                                     const HostPosition& position, const Press* presses, int numPresses) {
    const std::int64_t chunkStart = tracker_.samplesProcessed();
    const BlockTiming timing = tracker_.advance(position, length);
    const int numChannels = buffer.getNumChannels();
    const int numInputs = juce::jmin(getTotalNumInputChannels(), numChannels);

    // The input goes into the ring before anything is mixed into the buffer.
    const float* inputs[2] = {nullptr, nullptr};
    for (int c = 0; c < juce::jmin(2, numInputs); ++c) inputs[c] = buffer.getReadPointer(c, start);
    ring.write(inputs, juce::jmax(1, juce::jmin(2, numInputs)), length);

    for (int i = 0; i < numPresses; ++i)
        if (presses[i].offset >= start && presses[i].offset < start + length)
            handlePress(presses[i], presses[i].offset - start, timing, chunkStart);
    if (captureScheduler_.armed()) {
        const GridEvent line = captureScheduler_.poll(timing, length);
        if (line.found) postCapture(line.offset, timing, chunkStart, true, captureSource_);
    }

    // A/B: the selected take replaces the playing one at the next bar line.
    const TakeAudio* desired = desiredTake();
    if (desired != nullptr) {
        if (player_.armedTake() != nullptr && player_.armedTake() != desired)
            player_.arm(desired, juce::jmax(1, rounded(pPlayQuantize_)));
        else if (player_.armedTake() == nullptr && player_.state() == TakePlayer::State::playing &&
                 desired != player_.current() && desired != player_.pendingSwitch())
            player_.switchTo(desired);
    }

    scratch_.clear(0, length);
    float* takeOut[2] = {scratch_.getWritePointer(0), scratch_.getWritePointer(1)};
    const bool loop = pLoop_->load(std::memory_order_relaxed) > 0.5f;
    const auto result = player_.render(timing, length, takeOut, 2, 1.0f, loop);

    const float mix = juce::jlimit(0.0f, 1.0f, pMix_->load(std::memory_order_relaxed));
    for (int c = 0; c < numChannels; ++c) {
        buffer.applyGainRamp(c, start, length, 1.0f - lastMix_, 1.0f - mix);
        buffer.addFromWithRamp(c, start, scratch_.getReadPointer(juce::jmin(c, 1)), length, lastMix_, mix);
    }
    lastMix_ = mix;

    if (result.started) {
        AudioEvent e;
        e.type = AudioEvent::Type::started;
        e.slot = player_.current() != nullptr ? player_.current()->index : -1;
        e.bar = result.startBar;
        e.ppq = result.startPpq;
        e.sample = chunkStart + result.startOffset;
        post(e);
    }
    if (result.switched) {
        AudioEvent e;
        e.type = AudioEvent::Type::switched;
        e.slot = player_.current() != nullptr ? player_.current()->index : -1;
        e.bar = result.switchBar;
        post(e);
    }
    const bool mismatch = result.tempoMismatch && player_.state() == TakePlayer::State::playing;
    if (mismatch != lastMismatch_ && player_.current() != nullptr) {
        AudioEvent e;
        e.type = AudioEvent::Type::tempoMismatch;
        e.flag = mismatch;
        e.bpm = timing.bpm;
        post(e);
        lastMismatch_ = mismatch;
    }
    if (result.resyncs > 0) view.resyncs.fetch_add(result.resyncs, std::memory_order_relaxed);
    releaseLingering();

    view.bpm.store(timing.bpm, std::memory_order_relaxed);
    view.ppq.store(timing.ppqAt(length), std::memory_order_relaxed);
    view.numerator.store(timing.numerator, std::memory_order_relaxed);
    view.denominator.store(timing.denominator, std::memory_order_relaxed);
    view.playing.store(timing.hostPlaying, std::memory_order_relaxed);
    view.hasHostPosition.store(!timing.noHostTransport, std::memory_order_relaxed);
    view.playerState.store(static_cast<int>(player_.state()), std::memory_order_relaxed);
    view.playerSlot.store(player_.current() != nullptr ? player_.current()->index : -1, std::memory_order_relaxed);
}

void MusicGenProcessor::getStateInformation(juce::MemoryBlock& destData) {
    juce::XmlElement root("MusicGenSidecar");
    root.setAttribute("version", 1);
    if (auto params = parameters.copyState().createXml()) root.addChildElement(params.release());
    worker_->writeState(root);
    copyXmlToBinary(root, destData);
}

void MusicGenProcessor::setStateInformation(const void* data, int sizeInBytes) {
    const auto xml = getXmlFromBinary(data, sizeInBytes);
    if (xml == nullptr || !xml->hasTagName("MusicGenSidecar")) return;
    if (const auto* params = xml->getChildByName(parameters.state.getType()))
        parameters.replaceState(juce::ValueTree::fromXml(*params));
    worker_->readState(*xml);
}

juce::AudioProcessorEditor* MusicGenProcessor::createEditor() { return new MusicGenEditor(*this); }

}  // namespace mgs

juce::AudioProcessor* JUCE_CALLTYPE createPluginFilter() { return new mgs::MusicGenProcessor(); }
