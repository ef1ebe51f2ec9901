// The plugin's audio processor: pass-through, bar ring, capture at bar lines, bar-locked takes.
#pragma once

#include <array>
#include <atomic>
#include <memory>
#include <vector>

#include <juce_audio_processors/juce_audio_processors.h>

#include "Messages.h"
#include "core/bar_ring.h"
#include "core/scheduler.h"
#include "core/spsc_queue.h"
#include "core/take_player.h"
#include "core/transport.h"

namespace mgs {

class Worker;

/// Parameter IDs, in index order (INTERFACE.md).
namespace param {
inline constexpr const char* generate = "generate";
inline constexpr const char* mix = "mix";
inline constexpr const char* bars = "bars";
inline constexpr const char* takeBars = "take_bars";
inline constexpr const char* captureQuantize = "capture_quantize";
inline constexpr const char* playQuantizeBars = "play_quantize_bars";
inline constexpr const char* variations = "variations";
inline constexpr const char* loop = "loop";
inline constexpr const char* take = "take";
inline constexpr const char* reroll = "reroll";
inline constexpr const char* cancel = "cancel";
}  // namespace param

inline constexpr int kTriggerNote = 60;
inline constexpr int kRerollNote = 61;
inline constexpr int kCancelNote = 62;
/// Seconds of input the ring keeps (32 bars of 4/4 at 80 BPM), plus a guard for the reader.
inline constexpr double kRingSeconds = 96.0;
inline constexpr double kRingGuardSeconds = 4.0;

/// What the audio thread last saw, for the worker and the window (relaxed atomics).
struct TransportView {
    std::atomic<double> bpm{120.0};
    std::atomic<double> ppq{0.0};
    std::atomic<int> numerator{4};
    std::atomic<int> denominator{4};
    std::atomic<bool> playing{false};
    std::atomic<bool> hasHostPosition{false};
    std::atomic<int> playerState{0};
    std::atomic<int> playerSlot{-1};
    std::atomic<std::int64_t> blocks{0};
    std::atomic<std::int64_t> resyncs{0};
    std::atomic<std::int64_t> droppedEvents{0};
};

class MusicGenProcessor : public juce::AudioProcessor {
public:
    MusicGenProcessor();
    ~MusicGenProcessor() override;

    void prepareToPlay(double sampleRate, int maximumExpectedSamplesPerBlock) override;
    void releaseResources() override;
    bool isBusesLayoutSupported(const BusesLayout& layouts) const override;
    void processBlock(juce::AudioBuffer<float>& buffer, juce::MidiBuffer& midi) override;
    using juce::AudioProcessor::processBlock;

    juce::AudioProcessorEditor* createEditor() override;
    bool hasEditor() const override { return true; }
    const juce::String getName() const override { return JucePlugin_Name; }
    bool acceptsMidi() const override { return true; }
    bool producesMidi() const override { return false; }
    bool isMidiEffect() const override { return false; }
    double getTailLengthSeconds() const override { return 0.0; }
    int getNumPrograms() override { return 1; }
    int getCurrentProgram() override { return 0; }
    void setCurrentProgram(int) override {}
    const juce::String getProgramName(int) override { return {}; }
    void changeProgramName(int, const juce::String&) override {}
    void getStateInformation(juce::MemoryBlock& destData) override;
    void setStateInformation(const void* data, int sizeInBytes) override;

    /// The window's Generate button or the trigger file (any thread): the next audio block.
    void pressGenerate(TriggerSource source = TriggerSource::button) {
        (source == TriggerSource::file ? fileTrigger_ : buttonTrigger_).store(true);
    }

    juce::AudioProcessorValueTreeState parameters;
    Worker& worker() { return *worker_; }

    // Shared with the worker (lock-free).
    BarRing ring;
    SpscQueue<AudioEvent, 512> events;
    SpscQueue<AudioCommand, 64> commands;
    TransportView view;
    std::atomic<int> generation{0};  ///< bumped by prepareToPlay: older commands are ignored
    std::atomic<double> sampleRateNow{0.0};

private:
    struct Press {
        int kind = 0;  ///< 0 generate, 1 reroll, 2 cancel
        int offset = 0;
        TriggerSource source = TriggerSource::parameter;
    };

    static juce::AudioProcessorValueTreeState::ParameterLayout createLayout();
    HostPosition readPlayhead();
    void drainCommands();
    void retire(const TakeAudio* take);
    void releaseLingering();
    void post(const AudioEvent& event);
    void handlePress(const Press& press, int chunkOffset, const BlockTiming& timing, std::int64_t chunkStart);
    void postCapture(int offset, const BlockTiming& timing, std::int64_t chunkStart, bool quantized,
                     TriggerSource source);
    const TakeAudio* desiredTake() const;
    void processChunk(juce::AudioBuffer<float>& buffer, int start, int length, const HostPosition& position,
                      const Press* presses, int numPresses);

    std::unique_ptr<Worker> worker_;

    std::atomic<float>* pGenerate_ = nullptr;
    std::atomic<float>* pMix_ = nullptr;
    std::atomic<float>* pBars_ = nullptr;
    std::atomic<float>* pCaptureQuantize_ = nullptr;
    std::atomic<float>* pPlayQuantize_ = nullptr;
    std::atomic<float>* pLoop_ = nullptr;
    std::atomic<float>* pTake_ = nullptr;
    std::atomic<float>* pReroll_ = nullptr;
    std::atomic<float>* pCancel_ = nullptr;
    std::atomic<bool> buttonTrigger_{false};
    std::atomic<bool> fileTrigger_{false};

    // Audio-thread state.
    TransportTracker tracker_;
    TakePlayer player_;
    NextBarScheduler captureScheduler_;
    TriggerSource captureSource_ = TriggerSource::parameter;
    std::array<const TakeAudio*, kMaxTakes> slots_{};
    std::array<const TakeAudio*, 16> lingering_{};
    bool lastGenerate_ = false;
    bool lastReroll_ = false;
    bool lastCancel_ = false;
    bool lastMismatch_ = false;
    float lastMix_ = 0.5f;
    int maxBlock_ = 0;
    int activeGeneration_ = 0;
    juce::AudioBuffer<float> scratch_;
    std::int64_t droppedEvents_ = 0;

    JUCE_DECLARE_NON_COPYABLE_WITH_LEAK_DETECTOR(MusicGenProcessor)
};

}  // namespace mgs
