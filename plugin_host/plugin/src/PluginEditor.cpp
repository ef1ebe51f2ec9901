// The plugin window: generate/re-roll/cancel, settings, progress, takes (A/B, drag out, reveal).
#include "PluginEditor.h"

#include "PluginProcessor.h"
#include "Settings.h"
#include "Worker.h"

namespace mgs {

namespace {
const juce::Colour kBackground{0xff1d2126};
const juce::Colour kPanel{0xff272c33};
const juce::Colour kAccent{0xff4fb3a9};
const juce::Colour kWarn{0xffe0a040};

juce::String takeName(int index) { return juce::String::charToString(static_cast<juce::juce_wchar>('A' + index)); }
}  // namespace

TakeList::TakeList(MusicGenProcessor& processor) : processor_(processor) {}

void TakeList::setTakes(const juce::Array<TakeRecord>& takes, int selected, int playing) {
    bool same = takes.size() == takes_.size() && selected == selected_ && playing == playing_;
    for (int i = 0; same && i < takes.size(); ++i)
        same = takes[i].path == takes_[i].path && takes[i].loaded == takes_[i].loaded;
    if (same) return;
    takes_ = takes;
    selected_ = selected;
    playing_ = playing;
    repaint();
}

int TakeList::rowAt(int y) const {
    const int row = y / kRowHeight;
    return row >= 0 && row < takes_.size() ? row : -1;
}

juce::String TakeList::selectedPath() const {
    for (const auto& t : takes_)
        if (t.index == selected_) return t.path;
    return takes_.isEmpty() ? juce::String() : takes_[0].path;
}

void TakeList::paint(juce::Graphics& g) {
    g.fillAll(kPanel);
    g.setFont(14.0f);
    if (takes_.isEmpty()) {
        g.setColour(juce::Colours::grey);
        g.drawText("no takes yet: press Generate", getLocalBounds().reduced(8, 0).removeFromTop(kRowHeight),
                   juce::Justification::centredLeft);
        return;
    }
    for (int row = 0; row < takes_.size(); ++row) {
        const auto& t = takes_[row];
        auto r = juce::Rectangle<int>(0, row * kRowHeight, getWidth(), kRowHeight);
        if (t.index == selected_) {
            g.setColour(kAccent.withAlpha(0.25f));
            g.fillRect(r);
        }
        g.setColour(t.loaded ? juce::Colours::white : kWarn);
        juce::String text = takeName(t.index) + (t.index == playing_ ? "  \xe2\x96\xb6  " : "     ");
        text += juce::String(t.bpm, 1) + " BPM, " + juce::String(t.bars) + " bars, seed " + juce::String(t.seed);
        text += t.loaded ? "   " + juce::File(t.path).getFileName() + "  (drag into the DAW)" : "   " + t.error;
        g.drawText(juce::String::fromUTF8(text.toRawUTF8()), r.reduced(8, 0), juce::Justification::centredLeft);
    }
}

void TakeList::mouseDown(const juce::MouseEvent& e) {
    dragging_ = false;
    const int row = rowAt(e.y);
    if (row < 0) return;
    if (auto* p = processor_.parameters.getParameter(param::take)) {
        const int index = takes_[row].index;
        p->beginChangeGesture();
        p->setValueNotifyingHost(p->convertTo0to1(static_cast<float>(index)));
        p->endChangeGesture();
        selected_ = index;
        repaint();
    }
}

void TakeList::mouseDrag(const juce::MouseEvent& e) {
    const int row = rowAt(e.getMouseDownY());
    if (dragging_ || row < 0 || e.getDistanceFromDragStart() < 6) return;
    const juce::File file(takes_[row].path);
    if (!file.existsAsFile()) return;
    dragging_ = true;
    // The file stays where the sidecar wrote it; the DAW copies or references it.
    juce::DragAndDropContainer::performExternalDragDropOfFiles({file.getFullPathName()}, false, this);
}

MusicGenEditor::MusicGenEditor(MusicGenProcessor& processor)
    : juce::AudioProcessorEditor(processor), processor_(processor), takes_(processor) {
    setSize(760, 560);
    title_.setText("MusicGen Sidecar", juce::dontSendNotification);
    title_.setFont(juce::Font(22.0f, juce::Font::bold));
    status_.setFont(juce::Font(16.0f));
    status_.setColour(juce::Label::textColourId, juce::Colours::white);
    status_.setJustificationType(juce::Justification::topLeft);
    sidecar_.setFont(juce::Font(14.0f));
    transport_.setFont(juce::Font(14.0f));
    tempoWarning_.setColour(juce::Label::textColourId, kWarn);
    eta_.setJustificationType(juce::Justification::centredRight);
    for (auto* l : {&title_, &status_, &sidecar_, &transport_, &tempoWarning_, &eta_}) addAndMakeVisible(*l);

    generate_.setColour(juce::TextButton::buttonColourId, kAccent.darker(0.3f));
    generate_.onClick = [this] { processor_.pressGenerate(); };
    reroll_.onClick = [this] { processor_.worker().reroll(); };
    cancel_.onClick = [this] { processor_.worker().cancel(); };
    reveal_.onClick = [this] {
        const juce::File file(takes_.selectedPath());
        if (file.exists()) file.revealToUser();
    };
    for (auto* b : {&generate_, &reroll_, &cancel_, &reveal_}) addAndMakeVisible(*b);
    addAndMakeVisible(progressBar_);

    addSlider(mix_, mixLabel_, param::mix, "Mix (input / take)");
    addSlider(bars_, barsLabel_, param::bars, "Capture bars");
    addSlider(takeBars_, takeBarsLabel_, param::takeBars, "Take bars");
    addSlider(playQuantize_, playQuantizeLabel_, param::playQuantizeBars, "Start every N bars");
    addSlider(variations_, variationsLabel_, param::variations, "Variations");
    buttonAttachments_.push_back(std::make_unique<ButtonAttachment>(processor_.parameters, param::captureQuantize, captureQuantize_));
    buttonAttachments_.push_back(std::make_unique<ButtonAttachment>(processor_.parameters, param::loop, loop_));
    addAndMakeVisible(captureQuantize_);
    addAndMakeVisible(loop_);

    const PluginSettings s = processor_.worker().settings();
    const PluginSettings shown = s.effective();
    auto setupEditor = [this](juce::TextEditor& editor, juce::Label& label, const char* text, const juce::String& value) {
        label.setText(text, juce::dontSendNotification);
        label.setFont(juce::Font(13.0f));
        editor.setText(value, false);
        editor.onReturnKey = [this] { pushSettings(); };
        editor.onFocusLost = [this] { pushSettings(); };
        addAndMakeVisible(label);
        addAndMakeVisible(editor);
    };
    setupEditor(host_, hostLabel_, "Sidecar host", shown.host);
    setupEditor(port_, portLabel_, "Port", juce::String(shown.port));
    setupEditor(token_, tokenLabel_, "Token", s.token);
    token_.setPasswordCharacter(static_cast<juce::juce_wchar>(0x2022));
    setupEditor(prompt_, promptLabel_, "Prompt (optional)", s.prompt);
    setupEditor(key_, keyLabel_, "Key", s.key);
    setupEditor(seed_, seedLabel_, "Seed (-1 random)", juce::String(s.seed));
    presetLabel_.setText("Preset", juce::dontSendNotification);
    presetLabel_.setFont(juce::Font(13.0f));
    preset_.setEditableText(true);
    preset_.setText(s.preset, juce::dontSendNotification);
    preset_.onChange = [this] { pushSettings(); };
    addAndMakeVisible(presetLabel_);
    addAndMakeVisible(preset_);

    takesLabel_.setText("Takes (click: play at the next bar line; drag: into the session)", juce::dontSendNotification);
    takesLabel_.setFont(juce::Font(13.0f));
    addAndMakeVisible(takesLabel_);
    addAndMakeVisible(takes_);
    const juce::String shot = environment("MUSICGEN_SIDECAR_SCREENSHOT");
    if (shot.isNotEmpty() && juce::File::isAbsolutePath(shot)) screenshot_ = juce::File(shot);
    timerCallback();
    startTimerHz(10);
}

MusicGenEditor::~MusicGenEditor() { stopTimer(); }

void MusicGenEditor::addSlider(juce::Slider& slider, juce::Label& label, const char* id, const char* text) {
    slider.setSliderStyle(juce::Slider::LinearHorizontal);
    slider.setTextBoxStyle(juce::Slider::TextBoxRight, false, 48, 20);
    label.setText(text, juce::dontSendNotification);
    label.setFont(juce::Font(13.0f));
    sliderAttachments_.push_back(std::make_unique<SliderAttachment>(processor_.parameters, id, slider));
    addAndMakeVisible(slider);
    addAndMakeVisible(label);
}

void MusicGenEditor::pushSettings() {
    PluginSettings s = processor_.worker().settings();
    s.host = host_.getText().trim();
    s.port = port_.getText().getIntValue() > 0 ? port_.getText().getIntValue() : s.port;
    s.token = token_.getText();
    s.prompt = prompt_.getText();
    s.key = key_.getText().trim();
    s.seed = seed_.getText().trim().isEmpty() ? -1 : seed_.getText().getLargeIntValue();
    s.preset = preset_.getText().trim();
    processor_.worker().setSettings(s);
}

void MusicGenEditor::timerCallback() {
    if (screenshot_ != juce::File() && ++ticks_ == 30) {  // 3 s in: the sidecar has answered
        const juce::Image image = createComponentSnapshot(getLocalBounds());
        juce::FileOutputStream out(screenshot_);
        if (out.openedOk()) {
            out.setPosition(0);
            out.truncate();
            juce::PNGImageFormat().writeImageToStream(image, out);
        }
    }
    const StatusSnapshot s = processor_.worker().snapshot();
    status_.setText(s.status, juce::dontSendNotification);
    juce::String side = "sidecar " + s.host + ":" + juce::String(s.port) + "  " + s.sidecarState;
    if (s.model.isNotEmpty()) side += "  (" + s.model + " on " + s.device + ")";
    sidecar_.setText(side, juce::dontSendNotification);
    sidecar_.setColour(juce::Label::textColourId, s.sidecarState == "ready" ? kAccent : kWarn);
    const double barPpq = s.numerator * 4.0 / juce::jmax(1, s.denominator);
    const auto bar = static_cast<juce::int64>(std::floor(s.ppq / barPpq)) + 1;
    juce::String clock = s.hasHostPosition ? (s.playing ? "host playing" : "host stopped (free clock)") : "no host transport (free clock)";
    transport_.setText("bar " + juce::String(bar) + "   " + juce::String(s.bpm, 2) + " BPM   " + juce::String(s.numerator) + "/" +
                           juce::String(s.denominator) + "   " + clock + "   take: " + s.playerState,
                       juce::dontSendNotification);
    tempoWarning_.setText(s.tempoMismatch ? "The host tempo moved away from the take's tempo" : juce::String(),
                          juce::dontSendNotification);
    progress_ = s.requestState == "running" || s.requestState == "done" ? s.progress : (s.requestState == "queued" ? -1.0 : 0.0);
    eta_.setText(s.requestState == "running" && s.etaSeconds >= 0 ? "ETA " + juce::String(juce::roundToInt(s.etaSeconds)) + " s"
                                                                  : s.requestState,
                 juce::dontSendNotification);
    cancel_.setEnabled(s.requestState == "sending" || s.requestState == "queued" || s.requestState == "running");
    takes_.setTakes(s.takes, s.selectedTake, s.playerState == "playing" ? s.playerTake : -1);
    reveal_.setEnabled(takes_.selectedPath().isNotEmpty());
    const auto presets = processor_.worker().presets();
    if (presets != shownPresets_) {
        shownPresets_ = presets;
        const juce::String current = preset_.getText();
        preset_.clear(juce::dontSendNotification);
        preset_.addItemList(presets, 1);
        preset_.setText(current, juce::dontSendNotification);
    }
}

void MusicGenEditor::paint(juce::Graphics& g) { g.fillAll(kBackground); }

void MusicGenEditor::resized() {
    auto area = getLocalBounds().reduced(12);
    auto top = area.removeFromTop(30);
    title_.setBounds(top.removeFromLeft(260));
    sidecar_.setBounds(top);
    status_.setBounds(area.removeFromTop(44));
    transport_.setBounds(area.removeFromTop(22));
    tempoWarning_.setBounds(area.removeFromTop(20));
    auto buttons = area.removeFromTop(36);
    generate_.setBounds(buttons.removeFromLeft(160).reduced(2));
    reroll_.setBounds(buttons.removeFromLeft(100).reduced(2));
    cancel_.setBounds(buttons.removeFromLeft(100).reduced(2));
    eta_.setBounds(buttons.removeFromRight(110));
    progressBar_.setBounds(buttons.reduced(6, 8));
    area.removeFromTop(6);

    auto columns = area.removeFromTop(200);
    auto left = columns.removeFromLeft(columns.getWidth() / 2).reduced(0, 0);
    auto right = columns.withTrimmedLeft(12);
    auto row = [](juce::Rectangle<int>& r) { return r.removeFromTop(30); };
    for (auto [slider, label] : {std::pair{&mix_, &mixLabel_}, {&bars_, &barsLabel_}, {&takeBars_, &takeBarsLabel_},
                                 {&playQuantize_, &playQuantizeLabel_}, {&variations_, &variationsLabel_}}) {
        auto r = row(left);
        label->setBounds(r.removeFromLeft(130));
        slider->setBounds(r);
    }
    auto toggles = row(left);
    captureQuantize_.setBounds(toggles.removeFromLeft(200));
    loop_.setBounds(toggles);

    auto field = [&](juce::Label& label, juce::Component& editor) {
        auto r = row(right).reduced(0, 3);
        label.setBounds(r.removeFromLeft(120));
        editor.setBounds(r);
    };
    auto hostRow = row(right).reduced(0, 3);
    hostLabel_.setBounds(hostRow.removeFromLeft(120));
    host_.setBounds(hostRow.removeFromLeft(hostRow.getWidth() - 110));
    portLabel_.setBounds(hostRow.removeFromLeft(40));
    port_.setBounds(hostRow);
    field(tokenLabel_, token_);
    field(presetLabel_, preset_);
    field(promptLabel_, prompt_);
    field(keyLabel_, key_);
    field(seedLabel_, seed_);

    area.removeFromTop(6);
    auto takesHeader = area.removeFromTop(24);
    reveal_.setBounds(takesHeader.removeFromRight(140).reduced(1));
    takesLabel_.setBounds(takesHeader);
    takes_.setBounds(area);
}

}  // namespace mgs
