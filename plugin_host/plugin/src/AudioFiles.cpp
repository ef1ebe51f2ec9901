// Audio files: the capture WAV (written atomically) and a delivered stem loaded at the host rate.
#include "AudioFiles.h"

#include <juce_audio_basics/juce_audio_basics.h>
#include <juce_audio_formats/juce_audio_formats.h>

namespace mgs {

juce::String writeWavAtomically(const juce::File& file, const std::vector<std::vector<float>>& channels,
                                double sampleRate) {
    if (channels.empty() || channels[0].empty()) return "nothing to write (no audio captured)";
    const juce::File folder = file.getParentDirectory();
    if (!folder.createDirectory()) return "cannot create the folder " + folder.getFullPathName();
    const juce::File part = file.withFileExtension(file.getFileExtension() + ".part");
    part.deleteFile();
    {
        auto stream = std::make_unique<juce::FileOutputStream>(part);
        if (!stream->openedOk()) return "cannot write " + part.getFullPathName();
        juce::WavAudioFormat wav;
        std::unique_ptr<juce::AudioFormatWriter> writer(wav.createWriterFor(
            stream.get(), sampleRate, static_cast<unsigned int>(channels.size()), 24, {}, 0));
        if (writer == nullptr) return "the WAV writer refused " + juce::String(sampleRate) + " Hz";
        stream.release();  // the writer owns the stream now
        std::vector<const float*> pointers;
        for (const auto& c : channels) pointers.push_back(c.data());
        if (!writer->writeFromFloatArrays(pointers.data(), static_cast<int>(pointers.size()),
                                          static_cast<int>(channels[0].size())))
            return "writing " + part.getFullPathName() + " failed (disk full?)";
    }
    if (!part.moveFileTo(file)) return "cannot rename " + part.getFullPathName();
    return {};
}

LoadedTake loadTake(const juce::File& file, double hostSampleRate, const TakeInfo& info) {
    LoadedTake result;
    if (!file.existsAsFile()) {
        result.error = "stem file " + file.getFullPathName() + " does not exist";
        return result;
    }
    juce::AudioFormatManager formats;
    formats.registerBasicFormats();
    std::unique_ptr<juce::AudioFormatReader> reader(formats.createReaderFor(file));
    if (reader == nullptr) {
        result.error = "stem file " + file.getFullPathName() + " is not readable audio";
        return result;
    }
    const auto frames = static_cast<int>(std::min<juce::int64>(reader->lengthInSamples, 1 << 28));
    const int channels = static_cast<int>(juce::jlimit(1u, 2u, reader->numChannels));
    if (frames <= 0 || reader->sampleRate <= 0.0) {
        result.error = "stem file " + file.getFullPathName() + " holds no audio";
        return result;
    }
    juce::AudioBuffer<float> source(channels, frames);
    if (!reader->read(&source, 0, frames, 0, true, channels > 1)) {
        result.error = "stem file " + file.getFullPathName() + " could not be read to the end";
        return result;
    }
    result.fileSampleRate = reader->sampleRate;

    auto take = std::make_unique<TakeAudio>();
    take->sampleRate = hostSampleRate;
    take->bpm = info.bpm;
    take->bars = info.bars;
    take->numerator = info.numerator;
    take->denominator = info.denominator;
    take->index = info.index;
    const double ratio = reader->sampleRate / hostSampleRate;  // source frames per output frame
    const auto outFrames = static_cast<juce::int64>(std::llround(frames / ratio));
    take->frames = outFrames;
    take->channels.assign(static_cast<std::size_t>(channels), std::vector<float>(static_cast<std::size_t>(outFrames)));
    for (int c = 0; c < channels; ++c) {
        float* dest = take->channels[static_cast<std::size_t>(c)].data();
        if (std::abs(ratio - 1.0) < 1e-9) {
            juce::FloatVectorOperations::copy(dest, source.getReadPointer(c), static_cast<int>(outFrames));
            continue;
        }
        // Pad the source so the interpolator can read past the end without garbage.
        std::vector<float> padded(static_cast<std::size_t>(frames) + 64, 0.0f);
        juce::FloatVectorOperations::copy(padded.data(), source.getReadPointer(c), frames);
        juce::LagrangeInterpolator interpolator;
        // The interpolator lags its input by its base latency: start that far in, so the
        // take's first frame stays on the bar line.
        const auto lag = static_cast<std::size_t>(juce::LagrangeInterpolator::getBaseLatency());
        interpolator.process(ratio, padded.data() + lag, dest, static_cast<int>(outFrames));
    }
    result.take = std::move(take);
    return result;
}

}  // namespace mgs
