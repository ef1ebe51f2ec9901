// Take player: starts on the bar line to the sample, loops, follows loops/jumps/stop, A/B switch.
#include <cstdint>
#include <vector>

#include "check.h"
#include "core/take_player.h"
#include "core/transport.h"
#include "sim_host.h"

namespace {

/// A take whose frame i holds the value offset + i + 1 (0 means silence in the output).
mgs::TakeAudio rampTake(double sampleRate, double bpm, int bars, int numerator, int denominator,
                        float offset = 0.0f) {
    mgs::TakeAudio take;
    take.sampleRate = sampleRate;
    take.bpm = bpm;
    take.bars = bars;
    take.numerator = numerator;
    take.denominator = denominator;
    take.frames = static_cast<std::int64_t>(bars * numerator * 4.0 / denominator * sampleRate * 60.0 / bpm + 0.5);
    take.channels.assign(1, std::vector<float>(static_cast<std::size_t>(take.frames)));
    for (std::int64_t i = 0; i < take.frames; ++i)
        take.channels[0][static_cast<std::size_t>(i)] = offset + static_cast<float>(i + 1);
    return take;
}

struct Run {
    SimHost host;
    mgs::TransportTracker tracker;
    mgs::TakePlayer player;
    std::vector<float> output;
    int positionEvery = 1;
    int block = 0;
    std::int64_t startedAt = -1;
    std::int64_t startBar = -1;
    int switches = 0;

    explicit Run(SimHost h) : host(h) { tracker.prepare(h.sampleRate); }

    void play(std::int64_t samples, int blockSize, bool loop = true) {
        std::vector<float> buffer(static_cast<std::size_t>(blockSize));
        const std::int64_t end = host.sample + samples;
        while (host.sample < end) {
            const std::int64_t start = host.sample;
            const bool withPosition = positionEvery <= 1 || block % positionEvery == 0;
            const auto timing = tracker.advance(host.step(blockSize, withPosition), blockSize);
            std::fill(buffer.begin(), buffer.end(), 0.0f);
            float* out[1] = {buffer.data()};
            const auto r = player.render(timing, blockSize, out, 1, 1.0f, loop);
            if (r.started) {
                startedAt = start + r.startOffset;
                startBar = r.startBar;
            }
            switches += r.switched ? 1 : 0;
            output.insert(output.end(), buffer.begin(), buffer.end());
            ++block;
        }
    }
};

}  // namespace

TEST(take_starts_on_the_next_bar_line_and_loops_in_every_block_size) {
    for (const int blockSize : {32, 64, 100, 256, 512, 1000, 2048}) {
        for (const int positionEvery : {1, 97}) {
            SimHost host;
            host.ppq = 5.0;  // inside bar 1 of 4/4 at 120 BPM, 48 kHz
            const auto take = rampTake(48000.0, 120.0, 1, 4, 4);
            Run run(host);
            run.positionEvery = positionEvery;
            run.player.arm(&take, 1);
            run.play(48000 * 6, blockSize);
            CHECK_EQ(run.startedAt, 72000);  // ppq 8 is 3 quarters = 1.5 s away
            CHECK_EQ(run.startBar, 2);
            bool exact = true;
            for (std::int64_t s = 0; s < 48000 * 6; ++s) {
                const float want = s < 72000 ? 0.0f : static_cast<float>((s - 72000) % 96000 + 1);
                exact = exact && run.output[static_cast<std::size_t>(s)] == want;
            }
            CHECK(exact);
        }
    }
}

TEST(take_waits_for_an_n_bar_boundary_in_odd_metres) {
    struct Case {
        int numerator, denominator, multiple;
        double startPpq;
    };
    // 3/4: bars of 3 quarters, next multiple of 2 after ppq 4 is bar 2 (ppq 6).
    // 7/8: bars of 3.5 quarters, next multiple of 4 after ppq 1 is bar 4 (ppq 14).
    for (const Case c : {Case{3, 4, 2, 6.0}, Case{7, 8, 4, 14.0}, Case{6, 8, 1, 3.0}}) {
        SimHost host;
        host.sampleRate = 44100.0;
        host.bpm = 97.0;
        host.numerator = c.numerator;
        host.denominator = c.denominator;
        host.ppq = c.numerator == 3 ? 4.0 : 1.0;
        const auto take = rampTake(44100.0, 97.0, 2, c.numerator, c.denominator);
        Run run(host);
        run.player.arm(&take, c.multiple);
        run.play(44100 * 20, 441);
        const double wantSamples = (c.startPpq - host.ppq) * 44100.0 * 60.0 / 97.0;
        CHECK_EQ(run.startedAt, static_cast<std::int64_t>(std::ceil(wantSamples - 1e-6)));
        const auto s = static_cast<std::size_t>(run.startedAt);
        CHECK_EQ(run.output[s - 1], 0.0f);
        CHECK_EQ(run.output[s], 1.0f);
        // One loop later it is back at frame 0.
        CHECK_EQ(run.output[s + static_cast<std::size_t>(take.loopFrames())], 1.0f);
    }
}

TEST(take_follows_a_host_loop_and_a_jump) {
    SimHost host;
    const auto take = rampTake(48000.0, 120.0, 4, 4, 4);  // 4 bars = 8 s
    Run run(host);
    run.player.arm(&take, 1);
    run.play(48000 * 3, 512);  // starts at sample 0 (ppq 0 is a bar line)
    CHECK_EQ(run.startedAt, 0);
    run.host.ppq = 4.0;  // the host loops back to bar 1
    const std::size_t loopAt = run.output.size();
    run.play(512 * 10, 512);
    CHECK_EQ(run.output[loopAt], static_cast<float>(96000 + 1));  // bar 1's first frame
    CHECK_EQ(run.output[loopAt + 511], static_cast<float>(96000 + 512));
    run.host.ppq = 13.0;  // a jump into bar 3, between its beats
    const std::size_t jumpAt = run.output.size();
    run.play(512, 512);
    CHECK_EQ(run.output[jumpAt], static_cast<float>(13 * 24000 + 1));
    run.host.ppq = 17.0;  // past the take's 4 bars: it loops, frame of ppq 1
    const std::size_t pastAt = run.output.size();
    run.play(512, 512);
    CHECK_EQ(run.output[pastAt], static_cast<float>(24000 + 1));
}

TEST(take_is_silent_while_stopped_and_resumes_on_the_grid) {
    SimHost host;
    const auto take = rampTake(48000.0, 120.0, 2, 4, 4);
    Run run(host);
    run.player.arm(&take, 1);
    run.play(48000, 480);
    run.host.playing = false;
    const std::size_t stoppedAt = run.output.size();
    run.play(48000, 480);
    bool silent = true;
    for (std::size_t i = stoppedAt; i < run.output.size(); ++i) silent = silent && run.output[i] == 0.0f;
    CHECK(silent);
    run.host.playing = true;
    run.host.ppq = 6.5;
    const std::size_t resumedAt = run.output.size();
    run.play(480, 480);
    CHECK_EQ(run.output[resumedAt], static_cast<float>(6.5 * 24000 + 1));
}

TEST(switch_between_takes_happens_at_the_next_bar_line) {
    SimHost host;
    const auto a = rampTake(48000.0, 120.0, 2, 4, 4);
    const auto b = rampTake(48000.0, 120.0, 2, 4, 4, 1000000.0f);
    Run run(host);
    run.player.arm(&a, 1);
    run.play(48000, 256);  // 1 s = ppq 2 (inside bar 0)
    run.player.switchTo(&b);
    run.play(48000 * 2, 256);
    CHECK_EQ(run.switches, 1);
    CHECK_EQ(run.output[95999], 96000.0f);              // take A up to the bar line
    CHECK_EQ(run.output[96000], 1000000.0f + 96001.0f);  // take B, same grid position
}

TEST(before_its_start_a_loop_plays_on_the_grid_and_a_one_shot_waits) {
    for (const bool loop : {true, false}) {
        SimHost host;
        host.ppq = 8.0;
        const auto take = rampTake(48000.0, 120.0, 1, 4, 4);  // 1 bar = 4 quarters
        Run run(host);
        run.player.arm(&take, 1);
        run.play(4800, 480, loop);
        CHECK_EQ(run.startedAt, 0);
        run.host.ppq = 1.0;  // like a host that restarts every render at 0: before the start
        const std::size_t at = run.output.size();
        run.play(48000 * 4, 480, loop);
        if (loop) {
            CHECK_EQ(run.output[at], static_cast<float>(24000 + 1));  // ppq 1 of the 1-bar loop
        } else {
            CHECK_EQ(run.output[at], 0.0f);
            CHECK_EQ(run.output[at + 7 * 24000 - 1], 0.0f);       // still waiting at ppq 7.99
            CHECK_EQ(run.output[at + 7 * 24000], 1.0f);           // ppq 8: its start again
        }
    }
}

TEST(one_shot_take_ends_after_its_bars) {
    SimHost host;
    const auto take = rampTake(48000.0, 120.0, 1, 4, 4);
    Run run(host);
    run.player.arm(&take, 1);
    run.play(48000 * 3, 512, false);
    CHECK_EQ(run.output[95999], 96000.0f);
    CHECK_EQ(run.output[96000], 0.0f);
    CHECK(run.player.state() == mgs::TakePlayer::State::finished);
}

TEST(tempo_away_from_the_take_is_reported_and_kept_on_the_bar_grid) {
    SimHost host;
    host.bpm = 126.0;
    const auto take = rampTake(48000.0, 120.0, 2, 4, 4);
    mgs::TransportTracker tracker;
    tracker.prepare(48000.0);
    mgs::TakePlayer player;
    player.arm(&take, 1);
    std::vector<float> buffer(512);
    float* out[1] = {buffer.data()};
    bool mismatch = false;
    std::int64_t lastBarSample = -1;
    float atLastBar = -1.0f;
    while (host.sample < 48000 * 6) {
        const std::int64_t start = host.sample;
        const auto t = tracker.advance(host.step(512), 512);
        std::fill(buffer.begin(), buffer.end(), 0.0f);
        mismatch = player.render(t, 512, out, 1, 1.0f, true).tempoMismatch || mismatch;
        const auto line = mgs::findBarLine(t, 512);
        if (line.found && line.bar == 3) {
            lastBarSample = start + line.offset;
            atLastBar = buffer[static_cast<std::size_t>(line.offset)];
        }
    }
    CHECK(mismatch);
    CHECK(lastBarSample > 0);
    // Bar 3 of the host is bar 1 of the 2-bar take: its first frame at the take's tempo.
    CHECK_EQ(atLastBar, static_cast<float>(96000 + 1));
}

TEST(forgetting_the_playing_take_silences_it) {
    SimHost host;
    const auto take = rampTake(48000.0, 120.0, 1, 4, 4);
    Run run(host);
    run.player.arm(&take, 1);
    run.play(4800, 480);
    run.player.forget(&take);
    CHECK(run.player.current() == nullptr);
    const std::size_t at = run.output.size();
    run.play(4800, 480);
    CHECK_EQ(run.output[at], 0.0f);
}
