// Transport tracker and next-bar scheduler: bar lines in any metre, gaps, tempo, loops, jumps.
#include <cmath>
#include <cstdint>
#include <vector>

#include "check.h"
#include "core/scheduler.h"
#include "core/transport.h"
#include "sim_host.h"

namespace {

struct Meter {
    int numerator;
    int denominator;
};

const Meter kMeters[] = {{4, 4}, {3, 4}, {6, 8}, {7, 8}};
const int kBlockSizes[] = {32, 64, 100, 256, 441, 512, 1024, 2048};

/// Absolute samples of every bar line the tracker + scheduler find, block by block.
std::vector<std::int64_t> barLines(SimHost host, int blockSize, int positionEvery,
                                   std::int64_t totalSamples) {
    mgs::TransportTracker tracker;
    tracker.prepare(host.sampleRate);
    std::vector<std::int64_t> lines;
    int block = 0;
    while (host.sample < totalSamples) {
        const std::int64_t blockStart = host.sample;
        const bool withPosition = positionEvery <= 1 || block % positionEvery == 0;
        const mgs::BlockTiming t = tracker.advance(host.step(blockSize, withPosition), blockSize);
        for (int from = 0;;) {
            const mgs::GridEvent e = mgs::findBarLine(t, blockSize, 1, from);
            if (!e.found) break;
            lines.push_back(blockStart + e.offset);
            from = e.offset + 1;
        }
        ++block;
    }
    return lines;
}

std::vector<std::int64_t> expectedLines(double sampleRate, double bpm, Meter m, std::int64_t total) {
    std::vector<std::int64_t> lines;
    const double barSamples = m.numerator * 4.0 / m.denominator * sampleRate * 60.0 / bpm;
    for (int k = 0;; ++k) {
        const auto s = static_cast<std::int64_t>(std::ceil(k * barSamples - 1e-6));
        if (s >= total) break;
        lines.push_back(s);
    }
    return lines;
}

}  // namespace

TEST(bar_lines_every_metre_and_block_size) {
    for (const Meter m : kMeters) {
        for (const int blockSize : kBlockSizes) {
            SimHost host;
            host.sampleRate = 44100.0;
            host.bpm = 97.0;
            host.numerator = m.numerator;
            host.denominator = m.denominator;
            const std::int64_t total = 44100 * 20;
            const auto got = barLines(host, blockSize, 1, total);
            const auto want = expectedLines(44100.0, 97.0, m, total);
            CHECK_EQ(got.size(), want.size());
            CHECK(got == want);
        }
    }
}

TEST(metre_changes_bar_length) {
    // 3/4 and 4/4 at the same tempo give different grids; 6/8 and 3/4 the same one.
    SimHost h;
    h.numerator = 3;
    const auto threeFour = barLines(h, 512, 1, 48000 * 10);
    h.numerator = 4;
    const auto fourFour = barLines(h, 512, 1, 48000 * 10);
    h.numerator = 6;
    h.denominator = 8;
    const auto sixEight = barLines(h, 512, 1, 48000 * 10);
    CHECK(threeFour != fourFour);
    CHECK(threeFour == sixEight);
    CHECK_EQ(threeFour[1], 72000);  // 3 quarters at 120 BPM = 1.5 s
    CHECK_EQ(fourFour[1], 96000);
}

TEST(blocks_without_position_are_extrapolated) {
    for (const Meter m : kMeters) {
        for (const int blockSize : {32, 512, 2048}) {
            SimHost host;
            host.bpm = 133.0;
            host.numerator = m.numerator;
            host.denominator = m.denominator;
            const std::int64_t total = 48000 * 15;
            // JUCE's LV2 client: a position on a few blocks only.
            const auto sparse = barLines(host, blockSize, 167, total);
            CHECK(sparse == expectedLines(48000.0, 133.0, m, total));
        }
    }
}

TEST(extrapolated_block_reports_source_and_no_discontinuity) {
    mgs::TransportTracker tracker;
    tracker.prepare(48000.0);
    SimHost host;
    const auto first = tracker.advance(host.step(256), 256);
    CHECK(first.source == mgs::ClockSource::host);
    CHECK(first.discontinuity);
    const auto gap = tracker.advance(host.step(256, false), 256);
    CHECK(gap.source == mgs::ClockSource::extrapolated);
    CHECK(!gap.discontinuity);
    CHECK(gap.hostPlaying);
    CHECK_NEAR(gap.ppqStart, 256 * 2.0 / 48000.0, 1e-12);
    const auto back = tracker.advance(host.step(256), 256);
    CHECK(back.source == mgs::ClockSource::host);
    CHECK(!back.discontinuity);
}

TEST(tempo_change_moves_bar_lines) {
    // 120 BPM for bar 0..1, then 90 BPM from ppq 8 (a bar line): bar 3 is 4 quarters later.
    mgs::TransportTracker tracker;
    tracker.prepare(48000.0);
    SimHost host;
    std::vector<std::int64_t> lines;
    bool sawTempoChange = false;
    while (host.sample < 48000 * 12) {
        if (host.ppq >= 8.0 - 1e-12 && host.bpm == 120.0) host.bpm = 90.0;
        const std::int64_t start = host.sample;
        const auto t = tracker.advance(host.step(480), 480);
        sawTempoChange = sawTempoChange || t.tempoChanged;
        CHECK(!t.discontinuity || start == 0);
        const auto e = mgs::findBarLine(t, 480);
        if (e.found) lines.push_back(start + e.offset);
    }
    CHECK(sawTempoChange);
    CHECK(lines.size() >= 4);
    CHECK_EQ(lines[1], 96000);            // 4 quarters at 120
    CHECK_EQ(lines[2], 192000);           // ppq 8 reached at 4 s
    CHECK_EQ(lines[3], 192000 + 128000);  // 4 quarters at 90 = 2.666 s
}

TEST(loop_jump_is_a_discontinuity_with_a_bar_line_at_its_start) {
    mgs::TransportTracker tracker;
    tracker.prepare(48000.0);
    SimHost host;
    host.ppq = 12.0;  // the host starts playing in bar 3
    const auto first = tracker.advance(host.step(512), 512);
    CHECK(first.discontinuity);
    CHECK_EQ(first.barIndexAt(first.ppqStart), 3);
    for (int i = 0; i < 20; ++i) CHECK(!tracker.advance(host.step(512), 512).discontinuity);
    host.ppq = 4.0;  // loop back to bar 1
    const auto looped = tracker.advance(host.step(512), 512);
    CHECK(looped.discontinuity);
    const auto e = mgs::findBarLine(looped, 512);
    CHECK(e.found);
    CHECK_EQ(e.offset, 0);
    CHECK_EQ(e.bar, 1);
    host.ppq = 30.5;  // jump forward
    const auto jumped = tracker.advance(host.step(512), 512);
    CHECK(jumped.discontinuity);
    CHECK_EQ(jumped.barIndexAt(jumped.ppqStart), 7);
}

TEST(stopped_host_runs_a_free_clock_at_host_tempo) {
    mgs::TransportTracker tracker;
    tracker.prepare(48000.0);
    SimHost host;
    host.playing = false;
    host.bpm = 90.0;
    host.ppq = 2.0;
    auto t = tracker.advance(host.step(480), 480);
    CHECK(t.source == mgs::ClockSource::freeRunning);
    CHECK(!t.hostPlaying);
    CHECK(!t.noHostTransport);
    CHECK(!t.takesRun());
    CHECK_NEAR(t.ppqStart, 2.0, 1e-12);
    t = tracker.advance(host.step(480), 480);
    CHECK_NEAR(t.ppqStart, 2.0 + 480 * 1.5 / 48000.0, 1e-12);  // 90 BPM = 1.5 quarters a second
    CHECK_NEAR(t.bpm, 90.0, 0.0);
    // The free clock finds bar lines (for a capture while stopped).
    int found = 0;
    for (int i = 0; i < 400; ++i) found += mgs::findBarLine(tracker.advance(host.step(480), 480), 480).found;
    CHECK_EQ(found, 2);  // 400 × 10 ms at 1.5 quarters a second: ppq 2.03 → 8.03, lines at 4 and 8
    host.playing = true;
    t = tracker.advance(host.step(480), 480);
    CHECK(t.discontinuity);
    CHECK(t.source == mgs::ClockSource::host);
    CHECK_NEAR(t.ppqStart, 2.0, 1e-12);
}

TEST(no_host_transport_means_takes_run_on_the_free_clock) {
    mgs::TransportTracker tracker;
    tracker.prepare(44100.0);
    mgs::HostPosition none;
    const auto t = tracker.advance(none, 64);
    CHECK(t.noHostTransport);
    CHECK(t.takesRun());
    CHECK_NEAR(t.bpm, 120.0, 0.0);
    const auto t2 = tracker.advance(none, 64);
    CHECK_NEAR(t2.ppqStart, 64 * 2.0 / 44100.0, 1e-12);
}

TEST(scheduler_fires_once_on_n_bar_boundaries) {
    mgs::TransportTracker tracker;
    tracker.prepare(48000.0);
    SimHost host;
    host.ppq = 5.0;  // inside bar 1
    mgs::NextBarScheduler s;
    s.arm(4);
    std::int64_t firedAt = -1;
    std::int64_t bar = -1;
    int fires = 0;
    while (host.sample < 48000 * 40) {
        const std::int64_t start = host.sample;
        const auto t = tracker.advance(host.step(333), 333);
        const auto e = s.poll(t, 333);
        if (e.found) {
            ++fires;
            firedAt = start + e.offset;
            bar = e.bar;
        }
    }
    CHECK_EQ(fires, 1);
    CHECK_EQ(bar, 4);  // the next multiple of 4 bars after bar 1
    CHECK_EQ(firedAt, (16 - 5) * 24000);  // 11 quarters at 2 quarters a second
    CHECK(!s.armed());
}

TEST(scheduler_ignores_a_line_before_the_arming_sample) {
    mgs::TransportTracker tracker;
    tracker.prepare(48000.0);
    SimHost host;
    host.ppq = 4.0 - 100 * 2.0 / 48000.0;  // bar line 100 samples into the block
    const auto t = tracker.advance(host.step(512), 512);
    mgs::NextBarScheduler s;
    s.arm(1, 200);  // armed by a MIDI note at sample 200
    CHECK(!s.poll(t, 512).found);
    s.arm(1, 50);
    const auto e = s.poll(t, 512);
    CHECK(e.found);
    CHECK_EQ(e.offset, 100);
}

TEST(host_ppq_rounded_to_ticks_keeps_a_smooth_clock) {
    // Ardour rounds its ppq to 1/1920 quarter-note ticks: ~12 samples at 120 BPM, 48 kHz.
    for (const int blockSize : {64, 512, 1000}) {
        mgs::TransportTracker tracker;
        tracker.prepare(48000.0);
        SimHost host;
        host.numerator = 3;
        std::vector<std::int64_t> lines;
        int jumps = 0;
        while (host.sample < 48000 * 12) {
            const std::int64_t start = host.sample;
            auto position = host.step(blockSize);
            position.ppq = std::round(position.ppq * 1920.0) / 1920.0;
            const auto t = tracker.advance(position, blockSize);
            jumps += t.discontinuity && start > 0 ? 1 : 0;
            const auto e = mgs::findBarLine(t, blockSize);
            if (e.found) lines.push_back(start + e.offset);
        }
        CHECK_EQ(jumps, 0);
        CHECK(lines == expectedLines(48000.0, 120.0, {3, 4}, 48000 * 12));
    }
}

namespace {

/// Bar lines (as host frames) the tracker finds when the host reports only time:frame and
/// tempo (jalv 1.6.6 through JUCE 7's LV2 client): a position on every `positionEvery`-th
/// block, the transport already at `startFrame` when the plugin starts.
std::vector<std::int64_t> frameOnlyBarLines(std::int64_t startFrame, bool withFrame, int blockSize,
                                            int positionEvery, std::int64_t totalSamples) {
    const double sampleRate = 48000.0;
    const double bpm = 240.0;
    mgs::TransportTracker tracker;
    tracker.prepare(sampleRate);
    std::vector<std::int64_t> lines;
    std::int64_t frame = startFrame;
    for (int block = 0; frame - startFrame < totalSamples; ++block) {
        mgs::HostPosition p;
        if (block % positionEvery == 0) {
            p.hasBpm = true;
            p.bpm = bpm;
            p.hasTimeSignature = true;
            p.hasPlaying = true;
            p.isPlaying = true;
            p.hasTimeInSamples = withFrame;
            p.timeInSamples = frame;
        }
        const mgs::BlockTiming t = tracker.advance(p, blockSize);
        if (withFrame) CHECK(t.source != mgs::ClockSource::freeRunning);
        for (int from = 0;;) {
            const mgs::GridEvent e = mgs::findBarLine(t, blockSize, 1, from);
            if (!e.found) break;
            lines.push_back(frame + e.offset);
            from = e.offset + 1;
        }
        frame += blockSize;
    }
    return lines;
}

}  // namespace

TEST(frame_and_tempo_without_ppq_give_the_hosts_bar_lines) {
    // 240 BPM 4/4: a bar is 48000 frames; the transport is 12345 frames into bar 3.
    const std::int64_t start = 3 * 48000 + 12345;
    for (const int blockSize : {64, 256, 1000}) {
        const auto got = frameOnlyBarLines(start, true, blockSize, 97, 48000 * 6);
        CHECK_EQ(got.size(), std::size_t{6});
        for (std::size_t i = 0; i < got.size(); ++i)
            CHECK_EQ(got[i], static_cast<std::int64_t>(4 + i) * 48000);
    }
    // Without the frame, the same stream runs on the plugin's own clock: bar 0 where it started.
    const auto freeClock = frameOnlyBarLines(start, false, 256, 97, 48000 * 6);
    CHECK(!freeClock.empty());
    CHECK_EQ(freeClock[0], start);
    // Another frame moves the grid with it.
    const auto later = frameOnlyBarLines(start + 1000, true, 256, 97, 48000 * 6);
    CHECK_EQ(later[0], 4 * 48000);
}

TEST(derived_ppq_from_frame_and_tempo) {
    mgs::HostPosition p;
    p.hasBpm = true;
    p.bpm = 90.0;
    p.hasTimeInSamples = true;
    p.timeInSamples = 44100 * 10;  // 10 s at 90 BPM = 15 quarters
    CHECK_NEAR(mgs::withDerivedPpq(p, 44100.0).ppq, 15.0, 1e-12);
    CHECK(mgs::withDerivedPpq(p, 44100.0).hasPpq);
    CHECK_NEAR(mgs::withDerivedPpq(p, 48000.0).ppq, 44100.0 * 10 / 48000.0 * 1.5, 1e-12);
    // A host ppq always wins; no tempo or no frame: nothing derived.
    p.hasPpq = true;
    p.ppq = 2.5;
    CHECK_NEAR(mgs::withDerivedPpq(p, 44100.0).ppq, 2.5, 1e-12);
    p.hasPpq = false;
    p.hasBpm = false;
    CHECK(!mgs::withDerivedPpq(p, 44100.0).hasPpq);
    p.hasBpm = true;
    p.hasTimeInSamples = false;
    CHECK(!mgs::withDerivedPpq(p, 44100.0).hasPpq);
}
