// One hosted plugin instance (see HostSession.h).

#include "HostSession.h"

#include "AllocationCounter.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <thread>

namespace testhost
{

HostSession::HostSession()
{
    // addFormat takes ownership of a raw pointer (JUCE 7's API).
    formats.addFormat (std::make_unique<juce::VST3PluginFormat>().release());
    formats.addFormat (std::make_unique<juce::LV2PluginFormat>().release());
}

HostSession::~HostSession()
{
    if (plugin != nullptr)
        plugin->releaseResources();
}

juce::String HostSession::load (const juce::File& bundle, double rate, int maxBlockFrames, int channels)
{
    const bool isVst3 = bundle.getFileExtension().equalsIgnoreCase (".vst3");
    juce::AudioPluginFormat* format = nullptr;
    for (auto* candidate : formats.getFormats())
        if (candidate->getName() == (isVst3 ? "VST3" : "LV2"))
            format = candidate;
    if (format == nullptr)
        return "no hosting format for " + bundle.getFullPathName();

    juce::OwnedArray<juce::PluginDescription> found;
    if (isVst3)
        format->findAllTypesForFile (found, bundle.getFullPathName());
    else
        // LV2 is found by URI over the search path: look in the bundle's folder.
        for (const auto& id : format->searchPathsForPlugins (juce::FileSearchPath (bundle.getParentDirectory().getFullPathName()), false, false))
            format->findAllTypesForFile (found, id);

    if (found.isEmpty())
        return "no plugin found in " + bundle.getFullPathName();

    juce::String error;
    plugin = format->createInstanceFromDescription (*found.getFirst(), rate, maxBlockFrames, error);
    if (plugin == nullptr)
        return "could not instantiate " + found.getFirst()->name + ": " + error;

    sampleRate = rate;
    maxBlock = maxBlockFrames;
    channelCount = channels;

    // Ask for the channel count on both sides; keep whatever layout the plugin accepts.
    const auto set = juce::AudioChannelSet::canonicalChannelSet (channels);
    juce::AudioProcessor::BusesLayout layout;
    layout.inputBuses.add (set);
    layout.outputBuses.add (set);
    plugin->setBusesLayout (layout);

    plugin->setPlayHead (&playhead);
    plugin->setRateAndBufferSizeDetails (rate, maxBlockFrames);
    plugin->prepareToPlay (rate, maxBlockFrames);
    playhead.setSampleRate (rate);

    const int bufferChannels = std::max ({ channels, plugin->getTotalNumInputChannels(), plugin->getTotalNumOutputChannels() });
    block.setSize (bufferChannels, maxBlockFrames);
    midi.ensureSize (4096);
    output.assign ((size_t) channels, {});
    attributeToObjectsUnder (bundle.getFullPathName().toStdString());
    return {};
}

juce::String HostSession::setInputFile (const juce::File& wav, bool loop)
{
    juce::AudioFormatManager readers;
    readers.registerBasicFormats();
    std::unique_ptr<juce::AudioFormatReader> reader (readers.createReaderFor (wav));
    if (reader == nullptr)
        return "cannot read " + wav.getFullPathName();
    if (std::abs (reader->sampleRate - sampleRate) > 0.5)
        return "input rate " + juce::String (reader->sampleRate) + " differs from the host rate " + juce::String (sampleRate);

    inputSource.setSize ((int) reader->numChannels, (int) reader->lengthInSamples);
    reader->read (&inputSource, 0, (int) reader->lengthInSamples, 0, true, true);
    inputLoops = loop;
    inputPosition = 0;
    sineFrequencyHz = 0.0;
    return {};
}

void HostSession::setInputSine (double frequencyHz, float gain)
{
    inputSource.setSize (0, 0);
    sineFrequencyHz = frequencyHz;
    sineGain = gain;
}

void HostSession::setInputSilence()
{
    inputSource.setSize (0, 0);
    sineFrequencyHz = 0.0;
}

juce::String HostSession::setParameter (const juce::String& nameOrId, float value)
{
    for (auto* parameter : plugin->getParameters())
    {
        const auto* hosted = dynamic_cast<juce::HostedAudioProcessorParameter*> (parameter);
        const bool matches = parameter->getName (256).equalsIgnoreCase (nameOrId)
                             || (hosted != nullptr && hosted->getParameterID().equalsIgnoreCase (nameOrId));
        if (matches)
        {
            parameter->setValueNotifyingHost (juce::jlimit (0.0f, 1.0f, value));
            return {};
        }
    }
    return "no parameter named " + nameOrId;
}

void HostSession::queueNote (int note, int velocity, int lengthFrames)
{
    pendingNote = note;
    pendingVelocity = velocity;
    noteOffNumber = note;
    noteOffCountdown = lengthFrames;
}

void HostSession::fillInput (int frames)
{
    block.clear();
    if (inputSource.getNumSamples() > 0)
    {
        const auto length = (juce::int64) inputSource.getNumSamples();
        for (int i = 0; i < frames; ++i)
        {
            if (inputPosition >= length)
            {
                if (! inputLoops)
                    break;
                inputPosition = 0;
            }
            for (int ch = 0; ch < block.getNumChannels(); ++ch)
                block.setSample (ch, i, inputSource.getSample (ch % inputSource.getNumChannels(), (int) inputPosition));
            ++inputPosition;
        }
    }
    else if (sineFrequencyHz > 0.0)
    {
        const double step = juce::MathConstants<double>::twoPi * sineFrequencyHz / sampleRate;
        for (int i = 0; i < frames; ++i)
        {
            const auto sample = sineGain * (float) std::sin (sinePhase);
            sinePhase = std::fmod (sinePhase + step, juce::MathConstants<double>::twoPi);
            for (int ch = 0; ch < block.getNumChannels(); ++ch)
                block.setSample (ch, i, sample);
        }
    }
}

void HostSession::processOne (int frames, RenderStats& stats, std::vector<double>& blockMicroseconds)
{
    stats.timeline.push_back ({ frames, playhead.ppq(), playhead.bpm(), playhead.isPlaying(), playhead.hasPosition() });
    fillInput (frames);
    midi.clear();
    if (pendingNote >= 0)
    {
        midi.addEvent (juce::MidiMessage::noteOn (1, pendingNote, (juce::uint8) pendingVelocity), 0);
        pendingNote = -1;
    }
    if (noteOffCountdown >= 0 && pendingNote < 0)
    {
        if (noteOffCountdown < frames)
        {
            midi.addEvent (juce::MidiMessage::noteOff (1, noteOffNumber), noteOffCountdown);
            noteOffCountdown = -1;
        }
        else
        {
            noteOffCountdown -= frames;
        }
    }

    juce::AudioBuffer<float> view (block.getArrayOfWritePointers(), block.getNumChannels(), frames);
    const auto started = std::chrono::steady_clock::now();
    AllocationTally tally;
    {
        CountingScope scope;
        plugin->processBlock (view, midi);
        tally = scope.tally();
    }
    const auto elapsed = std::chrono::duration<double, std::micro> (std::chrono::steady_clock::now() - started).count();

    stats.allocations += tally.allocations;
    stats.deallocations += tally.deallocations;
    stats.pluginAllocations += tally.pluginAllocations;
    stats.pluginDeallocations += tally.pluginDeallocations;
    blockMicroseconds.push_back (elapsed);
    stats.meanBlockLoad += elapsed / (1.0e6 * frames / sampleRate);

    for (size_t ch = 0; ch < output.size(); ++ch)
    {
        const float* data = view.getReadPointer ((int) ch % view.getNumChannels());
        output[ch].insert (output[ch].end(), data, data + frames);
    }
    playhead.advance (frames);
    ++stats.blocks;
    stats.frames += frames;
}

RenderStats HostSession::render (juce::int64 frames, const std::vector<int>& blockSizes, bool realtime)
{
    RenderStats stats;
    stats.firstSample = output.empty() ? 0 : (juce::int64) output[0].size();
    for (auto& channel : output)
        channel.reserve (channel.size() + (size_t) frames);
    std::vector<double> blockMicroseconds;
    blockMicroseconds.reserve ((size_t) (frames / 16 + 16));
    stats.timeline.reserve ((size_t) (frames / 16 + 16));
    resetCountedAllocationSites();

    const auto wallStart = std::chrono::steady_clock::now();
    size_t sizeIndex = 0;
    juce::int64 done = 0;

    while (done < frames)
    {
        int size = std::min (blockSizes[sizeIndex++ % blockSizes.size()], maxBlock);
        size = (int) std::min<juce::int64> (size, frames - done);
        const int beforeLoopEnd = playhead.samplesUntilLoopEnd (size);
        processOne (beforeLoopEnd, stats, blockMicroseconds);
        if (beforeLoopEnd < size)
            processOne (size - beforeLoopEnd, stats, blockMicroseconds);
        done += size;

        if (realtime)
        {
            const auto due = wallStart + std::chrono::duration<double> ((double) done / sampleRate);
            while (std::chrono::steady_clock::now() < due)
                juce::MessageManager::getInstance()->runDispatchLoopUntil (1);
        }
    }

    if (! blockMicroseconds.empty())
    {
        double sum = 0.0;
        for (auto us : blockMicroseconds)
            sum += us;
        stats.meanBlockMicroseconds = sum / (double) blockMicroseconds.size();
        stats.meanBlockLoad /= (double) blockMicroseconds.size();
        std::sort (blockMicroseconds.begin(), blockMicroseconds.end());
        stats.maxBlockMicroseconds = blockMicroseconds.back();
        stats.medianBlockMicroseconds = blockMicroseconds[blockMicroseconds.size() / 2];
        stats.p99BlockMicroseconds = blockMicroseconds[(size_t) ((double) (blockMicroseconds.size() - 1) * 0.99)];
    }
    stats.allocationSites = describeFirstCountedAllocations();
    return stats;
}

juce::String HostSession::saveOutput (const juce::File& wav) const
{
    wav.deleteFile();
    std::unique_ptr<juce::OutputStream> stream = wav.createOutputStream();
    if (stream == nullptr)
        return "cannot write " + wav.getFullPathName();

    juce::WavAudioFormat format;
    std::unique_ptr<juce::AudioFormatWriter> writer (format.createWriterFor (stream.get(), sampleRate, (unsigned int) output.size(), 32, {}, 0));
    if (writer == nullptr)
        return "cannot make a WAV writer for " + wav.getFullPathName();
    stream.release(); // the writer owns it now

    std::vector<const float*> channels;
    for (const auto& channel : output)
        channels.push_back (channel.data());
    writer->writeFromFloatArrays (channels.data(), (int) channels.size(), output.empty() ? 0 : (int) output[0].size());
    return {};
}

void HostSession::clearOutput()
{
    for (auto& channel : output)
        channel.clear();
}

juce::var HostSession::describeParameters() const
{
    juce::Array<juce::var> list;
    for (auto* parameter : plugin->getParameters())
    {
        juce::DynamicObject::Ptr entry (new juce::DynamicObject()); // reference-counted
        const auto* hosted = dynamic_cast<const juce::HostedAudioProcessorParameter*> (parameter);
        entry->setProperty ("index", parameter->getParameterIndex());
        entry->setProperty ("name", parameter->getName (256));
        entry->setProperty ("id", hosted != nullptr ? hosted->getParameterID() : juce::String());
        entry->setProperty ("value", parameter->getValue());
        entry->setProperty ("text", parameter->getCurrentValueAsText());
        list.add (juce::var (entry.get()));
    }
    return list;
}

juce::String HostSession::stateBase64() const
{
    juce::MemoryBlock state;
    plugin->getStateInformation (state);
    return state.toBase64Encoding();
}

juce::String HostSession::pluginName() const
{
    return plugin != nullptr ? plugin->getName() : juce::String();
}

int HostSession::latencySamples() const
{
    return plugin != nullptr ? plugin->getLatencySamples() : 0;
}

} // namespace testhost
