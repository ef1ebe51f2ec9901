// The plugin window: generate/re-roll/cancel, settings, progress, takes (A/B, drag out, reveal).
#pragma once

#include <memory>
#include <vector>

#include <juce_audio_processors/juce_audio_processors.h>
#include <juce_gui_basics/juce_gui_basics.h>
#include <juce_graphics/juce_graphics.h>

#include "StatusReport.h"

namespace mgs {

class MusicGenProcessor;

/// The takes of the last request: click to select (A/B), drag a row into the DAW.
class TakeList : public juce::Component {
public:
    explicit TakeList(MusicGenProcessor& processor);
    void setTakes(const juce::Array<TakeRecord>& takes, int selected, int playing);
    void paint(juce::Graphics& g) override;
    void mouseDown(const juce::MouseEvent& e) override;
    void mouseDrag(const juce::MouseEvent& e) override;
    int selectedIndex() const { return selected_; }
    juce::String selectedPath() const;

private:
    int rowAt(int y) const;
    MusicGenProcessor& processor_;
    juce::Array<TakeRecord> takes_;
    int selected_ = 0;
    int playing_ = -1;
    bool dragging_ = false;
    static constexpr int kRowHeight = 24;
};

class MusicGenEditor : public juce::AudioProcessorEditor, private juce::Timer {
public:
    explicit MusicGenEditor(MusicGenProcessor& processor);
    ~MusicGenEditor() override;
    void paint(juce::Graphics& g) override;
    void resized() override;

private:
    using SliderAttachment = juce::AudioProcessorValueTreeState::SliderAttachment;
    using ButtonAttachment = juce::AudioProcessorValueTreeState::ButtonAttachment;

    void timerCallback() override;
    void pushSettings();
    void addSlider(juce::Slider& slider, juce::Label& label, const char* id, const char* text);

    MusicGenProcessor& processor_;
    juce::Label title_, status_, sidecar_, transport_, tempoWarning_, eta_;
    juce::TextButton generate_{"Generate"}, reroll_{"Re-roll"}, cancel_{"Cancel"}, reveal_{"Reveal in folder"};
    double progress_ = 0.0;
    juce::ProgressBar progressBar_{progress_};
    juce::Slider mix_, bars_, takeBars_, playQuantize_, variations_;
    juce::Label mixLabel_, barsLabel_, takeBarsLabel_, playQuantizeLabel_, variationsLabel_;
    juce::ToggleButton captureQuantize_{"Capture on the bar line"}, loop_{"Loop"};
    juce::Label hostLabel_, portLabel_, tokenLabel_, presetLabel_, promptLabel_, keyLabel_, seedLabel_;
    juce::TextEditor host_, port_, token_, prompt_, key_, seed_;
    juce::ComboBox preset_;
    TakeList takes_;
    juce::Label takesLabel_;
    std::vector<std::unique_ptr<SliderAttachment>> sliderAttachments_;
    std::vector<std::unique_ptr<ButtonAttachment>> buttonAttachments_;
    juce::StringArray shownPresets_;
    juce::File screenshot_;  ///< MUSICGEN_SIDECAR_SCREENSHOT: the window saves itself there once
    int ticks_ = 0;
};

}  // namespace mgs
