// The test host's transport: a timeline with exact tempo, metre, bar start, loop and jumps.
#pragma once

#include <juce_audio_processors/juce_audio_processors.h>

namespace testhost
{

/** How the host fills PositionInfo's "ppq of the last bar start". */
enum class BarStartMode
{
    exact,  // the true bar line (bars counted from barOriginPpq in the current metre)
    none,   // left out, as some hosts do
    ardour, // Ardour 7.3's VST3 reading in 3/4: bar number x 4 quarters
};

/** The transport the plugin is shown, advanced block by block.

    Positions are kept in quarter notes (ppq). The timeline's sample position follows ppq (a
    loop or jump moves it too), counted at the current tempo from ppq 0. A DAW splits a block at
    the loop end; so does samplesUntilLoopEnd() for the caller.
*/
class Transport final : public juce::AudioPlayHead
{
public:
    void setSampleRate (double rate) noexcept { sampleRate = rate; }
    void setTempo (double newBpm) noexcept;
    void setMetre (int numerator, int denominator) noexcept;
    void setPlaying (bool shouldPlay) noexcept { playing = shouldPlay; }
    void jumpTo (double ppq) noexcept;
    void setLoop (bool enabled, double startPpq, double endPpq) noexcept;
    void setBarStartMode (BarStartMode mode) noexcept { barStartMode = mode; }
    void setBarOrigin (double ppq) noexcept { barOriginPpq = ppq; }
    /** false: blocks without a musical position (no ppq, tempo or metre; playing and the
        sample position only). */
    void setPositionAvailable (bool available) noexcept { positionAvailable = available; }

    /** Frames of a block of `frames` before the loop end is reached (== frames if not). */
    int samplesUntilLoopEnd (int frames) const noexcept;
    /** Moves the timeline past a processed block (wrapping to the loop start at its end). */
    void advance (int frames) noexcept;

    juce::Optional<PositionInfo> getPosition() const override;

    double ppq() const noexcept { return ppqPosition; }
    double bpm() const noexcept { return tempoBpm; }
    bool isPlaying() const noexcept { return playing; }
    bool hasPosition() const noexcept { return positionAvailable; }
    double quartersPerBar() const noexcept { return metreNumerator * 4.0 / metreDenominator; }
    juce::int64 timelineSamples() const noexcept { return timelineSample; }
    juce::int64 hostSamples() const noexcept { return hostSample; }

private:
    double samplesPerQuarter() const noexcept { return sampleRate * 60.0 / tempoBpm; }
    double lastBarStart() const noexcept;

    double sampleRate = 48000.0;
    double tempoBpm = 120.0;
    int metreNumerator = 4;
    int metreDenominator = 4;
    bool playing = false;
    bool looping = false;
    double loopStartPpq = 0.0;
    double loopEndPpq = 0.0;
    double ppqPosition = 0.0;
    double barOriginPpq = 0.0;
    juce::int64 timelineSample = 0;
    juce::int64 hostSample = 0; // samples processed since load, never jumps
    BarStartMode barStartMode = BarStartMode::exact;
    bool positionAvailable = true;
};

} // namespace testhost
