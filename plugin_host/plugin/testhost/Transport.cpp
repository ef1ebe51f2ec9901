// The test host's transport (see Transport.h).

#include "Transport.h"

#include <cmath>

namespace testhost
{

void Transport::setTempo (double newBpm) noexcept
{
    tempoBpm = newBpm;
    timelineSample = (juce::int64) std::llround (ppqPosition * samplesPerQuarter());
}

void Transport::setMetre (int numerator, int denominator) noexcept
{
    metreNumerator = numerator;
    metreDenominator = denominator;
}

void Transport::jumpTo (double ppq) noexcept
{
    ppqPosition = ppq;
    timelineSample = (juce::int64) std::llround (ppq * samplesPerQuarter());
}

void Transport::setLoop (bool enabled, double startPpq, double endPpq) noexcept
{
    looping = enabled;
    loopStartPpq = startPpq;
    loopEndPpq = endPpq;
}

int Transport::samplesUntilLoopEnd (int frames) const noexcept
{
    if (! (playing && looping) || ppqPosition >= loopEndPpq)
        return frames;
    const auto toEnd = (juce::int64) std::llround ((loopEndPpq - ppqPosition) * samplesPerQuarter());
    return toEnd > 0 && toEnd < frames ? (int) toEnd : frames;
}

void Transport::advance (int frames) noexcept
{
    hostSample += frames;
    if (! playing)
        return;

    const double next = ppqPosition + frames / samplesPerQuarter();
    const double endTolerance = 0.5 / samplesPerQuarter(); // half a sample

    if (looping && ppqPosition < loopEndPpq && next >= loopEndPpq - endTolerance)
    {
        jumpTo (loopStartPpq);
        return;
    }
    ppqPosition = next;
    timelineSample += frames;
}

double Transport::lastBarStart() const noexcept
{
    const double barQuarters = quartersPerBar();
    const double bars = std::floor ((ppqPosition - barOriginPpq) / barQuarters + 1.0e-9);

    switch (barStartMode)
    {
        case BarStartMode::ardour: return bars * 4.0;
        case BarStartMode::exact:
        case BarStartMode::none: break;
    }
    return barOriginPpq + bars * barQuarters;
}

juce::Optional<juce::AudioPlayHead::PositionInfo> Transport::getPosition() const
{
    PositionInfo info;
    if (! positionAvailable)
    {
        // A host that gives no musical position still says whether it plays and where it is
        // in samples (an empty answer would reach a VST3 as "stopped": JUCE's hosting wrapper
        // then leaves every flag of the ProcessContext clear).
        info.setIsPlaying (playing);
        info.setTimeInSamples (timelineSample);
        return info;
    }

    info.setBpm (tempoBpm);
    info.setTimeSignature (TimeSignature { metreNumerator, metreDenominator });
    info.setPpqPosition (ppqPosition);
    if (barStartMode != BarStartMode::none)
        info.setPpqPositionOfLastBarStart (lastBarStart());
    info.setBarCount ((juce::int64) std::floor ((ppqPosition - barOriginPpq) / quartersPerBar() + 1.0e-9));
    info.setTimeInSamples (timelineSample);
    info.setTimeInSeconds ((double) timelineSample / sampleRate);
    info.setIsPlaying (playing);
    info.setIsLooping (looping);
    if (looping)
        info.setLoopPoints (LoopPoints { loopStartPpq, loopEndPpq });
    return info;
}

} // namespace testhost
