// Audio-callback cost per block at 64 and 512 frames, passing through and playing a take.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <vector>

#include "PluginProcessor.h"

#if MUSICGEN_COUNT_ALLOCATIONS
#include "core/alloc_counter.h"
#endif

namespace {

/// A host transport: always playing, 4/4 at 120 BPM, ppq advancing with the samples.
class BenchPlayHead : public juce::AudioPlayHead {
public:
    explicit BenchPlayHead(double sampleRate) : sampleRate_(sampleRate) {}
    juce::Optional<PositionInfo> getPosition() const override {
        PositionInfo info;
        info.setBpm(120.0);
        info.setTimeSignature(TimeSignature{4, 4});
        info.setPpqPosition(static_cast<double>(sample_) / sampleRate_ * 2.0);
        info.setTimeInSamples(sample_);
        info.setIsPlaying(true);
        return info;
    }
    void advance(int n) { sample_ += n; }

private:
    double sampleRate_;
    juce::int64 sample_ = 0;
};

struct Result {
    double meanMicros = 0.0;
    double medianMicros = 0.0;
    double p99Micros = 0.0;
    double blockMicros = 0.0;
    unsigned long long allocations = 0;
    bool played = false;
};

std::unique_ptr<mgs::TakeAudio> makeTake(double sampleRate) {
    auto take = std::make_unique<mgs::TakeAudio>();
    take->sampleRate = sampleRate;
    take->bpm = 120.0;
    take->bars = 4;
    take->frames = static_cast<std::int64_t>(8.0 * sampleRate);
    take->channels.assign(2, std::vector<float>(static_cast<std::size_t>(take->frames)));
    for (std::int64_t i = 0; i < take->frames; ++i)
        take->channels[0][static_cast<std::size_t>(i)] = take->channels[1][static_cast<std::size_t>(i)] =
            0.1f * static_cast<float>((i % 200) - 100) / 100.0f;
    return take;
}

Result run(int blockSize, bool withTake, double seconds) {
    constexpr double kRate = 48000.0;
    mgs::MusicGenProcessor processor;
    processor.setPlayConfigDetails(2, 2, kRate, blockSize);
    BenchPlayHead playHead(kRate);
    processor.setPlayHead(&playHead);
    processor.prepareToPlay(kRate, blockSize);
    const auto take = makeTake(kRate);
    if (withTake) {
        mgs::AudioCommand c;
        c.slot = 0;
        c.newSet = true;
        c.arm = true;
        c.take = take.get();
        c.generation = processor.generation.load();
        processor.commands.push(c);
    }
    juce::AudioBuffer<float> buffer(2, blockSize);
    juce::MidiBuffer midi;
    const int blocks = static_cast<int>(seconds * kRate / blockSize);
    std::vector<double> times;
    times.reserve(static_cast<std::size_t>(blocks));
    auto fill = [&] {
        for (int c = 0; c < 2; ++c)
            for (int i = 0; i < blockSize; ++i) buffer.setSample(c, i, 0.01f * static_cast<float>(i % 7));
    };
    for (int i = 0; i < 16; ++i) {  // warm-up
        fill();
        processor.processBlock(buffer, midi);
        playHead.advance(blockSize);
    }
#if MUSICGEN_COUNT_ALLOCATIONS
    mgs::alloc::beginCounting();
#endif
    for (int b = 0; b < blocks; ++b) {
        fill();
        const auto t0 = std::chrono::steady_clock::now();
        processor.processBlock(buffer, midi);
        const auto t1 = std::chrono::steady_clock::now();
        playHead.advance(blockSize);
        times.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
    }
    Result r;
#if MUSICGEN_COUNT_ALLOCATIONS
    r.allocations = mgs::alloc::endCounting();
#endif
    r.played = processor.view.playerState.load() == static_cast<int>(mgs::TakePlayer::State::playing);
    processor.releaseResources();
    std::sort(times.begin(), times.end());
    double sum = 0.0;
    for (const double t : times) sum += t;
    r.meanMicros = sum / static_cast<double>(times.size());
    r.medianMicros = times[times.size() / 2];
    r.p99Micros = times[static_cast<std::size_t>(0.99 * static_cast<double>(times.size() - 1))];
    r.blockMicros = blockSize / kRate * 1e6;
    return r;
}

}  // namespace

int main(int argc, char** argv) {
    juce::ScopedJuceInitialiser_GUI juce;
    // Keep the bench's pings away from a real sidecar.
    setenv("MUSICGEN_SIDECAR_PORT", "9", 0);
    const double seconds = argc > 1 ? std::atof(argv[1]) : 20.0;
    std::printf("audio callback cost, 48 kHz stereo, %.0f s of audio per case (per block: mean, median, p99)\n",
                seconds);
    std::printf("%-7s %-13s %9s %9s %9s %9s %8s %8s %8s %s\n", "frames", "case", "mean_us", "median_us", "p99_us",
                "block_us", "mean_%", "median_%", "p99_%", "allocations");
    bool ok = true;
#if MUSICGEN_COUNT_ALLOCATIONS
    {  // the counter itself counts: one allocation here must read as one
        mgs::alloc::beginCounting();
        auto probe = std::make_unique<int>(1);
        const auto counted = mgs::alloc::endCounting();
        std::printf("allocation counter self-check: %llu of 1 counted\n", static_cast<unsigned long long>(counted));
        ok = counted == 1 && *probe == 1;
    }
#endif
    for (const int blockSize : {64, 512}) {
        for (const bool withTake : {false, true}) {
            const Result r = run(blockSize, withTake, seconds);
            const char* name = withTake ? "playing take" : "pass-through";
#if MUSICGEN_COUNT_ALLOCATIONS
            const juce::String allocations(static_cast<juce::int64>(r.allocations));
#else
            const juce::String allocations("(build with -DMUSICGEN_COUNT_ALLOCATIONS=ON)");
#endif
            std::printf("%-7d %-13s %9.2f %9.2f %9.2f %9.1f %7.3f%% %7.3f%% %7.3f%% %s%s\n", blockSize, name,
                        r.meanMicros, r.medianMicros, r.p99Micros, r.blockMicros,
                        100.0 * r.meanMicros / r.blockMicros, 100.0 * r.medianMicros / r.blockMicros,
                        100.0 * r.p99Micros / r.blockMicros, allocations.toRawUTF8(),
                        withTake && !r.played ? "  (take did not play!)" : "");
            ok = ok && (!withTake || r.played);
        }
    }
    std::printf("target: mean under 2%% of the block duration\n");
    return ok ? 0 : 1;
}
