// One hosted plugin instance: load, feed input, drive parameters/MIDI, render, keep the output.
#pragma once

#include "Transport.h"

#include <juce_audio_formats/juce_audio_formats.h>
#include <juce_audio_processors/juce_audio_processors.h>

#include <memory>
#include <vector>

namespace testhost
{

/** What one render call measured. */
struct RenderStats
{
    juce::int64 firstSample = 0; // index of the render's first frame in the whole output
    int blocks = 0;
    juce::int64 frames = 0;
    std::uint64_t allocations = 0;   // heap calls on the audio thread inside processBlock
    std::uint64_t deallocations = 0;
    std::uint64_t pluginAllocations = 0; // of those, made with the plugin's code on the stack
    std::uint64_t pluginDeallocations = 0;
    double meanBlockMicroseconds = 0.0;
    double medianBlockMicroseconds = 0.0;
    double p99BlockMicroseconds = 0.0;
    double maxBlockMicroseconds = 0.0;
    double meanBlockLoad = 0.0; // processBlock time / block duration, mean over blocks
    std::vector<std::string> allocationSites;

    struct Block
    {
        int frames;
        double ppq;      // the position the plugin was shown for the block's first frame
        double bpm;
        bool playing;
        bool positioned; // false: the block had no position
    };
    std::vector<Block> timeline; // one entry per processBlock call
};

/** The plugin under test, with its input source, transport and the output recorded so far. */
class HostSession
{
public:
    HostSession();
    ~HostSession();

    /** Loads a VST3 or LV2 bundle (by its .vst3 suffix, else LV2) and prepares it. Returns an
        error message, empty on success. */
    juce::String load (const juce::File& bundle, double sampleRate, int maxBlockFrames, int channels);

    juce::String setInputFile (const juce::File& wav, bool loop);
    void setInputSine (double frequencyHz, float gain);
    void setInputSilence();

    /** Sets a parameter by name or id (case-insensitive) to a plain 0..1 value. */
    juce::String setParameter (const juce::String& nameOrId, float normalisedValue);
    /** A note-on at the next block's first frame, and its note-off `lengthFrames` later. */
    void queueNote (int note, int velocity, int lengthFrames);

    /** Renders `frames`, in blocks cycling through `blockSizes`; `realtime` paces the blocks
        at wall-clock speed and lets the message loop run in between. */
    RenderStats render (juce::int64 frames, const std::vector<int>& blockSizes, bool realtime);

    juce::String saveOutput (const juce::File& wav) const;
    void clearOutput();

    juce::var describeParameters() const;
    juce::String stateBase64() const;
    juce::String pluginName() const;
    int latencySamples() const;

    Transport& transport() noexcept { return playhead; }
    bool isLoaded() const noexcept { return plugin != nullptr; }

private:
    void fillInput (int frames);
    void processOne (int frames, RenderStats& stats, std::vector<double>& blockMicroseconds);

    juce::AudioPluginFormatManager formats;
    std::unique_ptr<juce::AudioPluginInstance> plugin;
    Transport playhead;
    double sampleRate = 48000.0;
    int maxBlock = 2048;
    int channelCount = 2;

    juce::AudioBuffer<float> inputSource; // looped or played once
    bool inputLoops = true;
    juce::int64 inputPosition = 0;
    double sinePhase = 0.0;
    double sineFrequencyHz = 0.0;
    float sineGain = 0.0f;

    juce::AudioBuffer<float> block;
    juce::MidiBuffer midi;
    int pendingNote = -1;
    int pendingVelocity = 0;
    int noteOffCountdown = -1;
    int noteOffNumber = -1;

    std::vector<std::vector<float>> output;
};

} // namespace testhost
