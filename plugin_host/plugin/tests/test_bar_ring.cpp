// Bar ring: what is written comes back, across the wrap; overwritten ranges are refused.
#include <cstdint>
#include <vector>

#include "check.h"
#include "core/bar_ring.h"

TEST(ring_returns_the_written_frames_across_the_wrap) {
    mgs::BarRing ring;
    ring.allocate(2, 1000);
    std::vector<float> left(300), right(300);
    std::int64_t n = 0;
    for (int block = 0; block < 7; ++block) {
        for (int i = 0; i < 300; ++i) {
            left[static_cast<std::size_t>(i)] = static_cast<float>(n + i);
            right[static_cast<std::size_t>(i)] = -static_cast<float>(n + i);
        }
        const float* in[2] = {left.data(), right.data()};
        ring.write(in, 2, 300);
        n += 300;
    }
    CHECK_EQ(ring.written(), 2100);
    std::vector<float> a(900), b(900);
    float* out[2] = {a.data(), b.data()};
    CHECK(ring.read(1200, 900, out));
    bool same = true;
    for (int i = 0; i < 900; ++i)
        same = same && a[static_cast<std::size_t>(i)] == static_cast<float>(1200 + i) &&
               b[static_cast<std::size_t>(i)] == -static_cast<float>(1200 + i);
    CHECK(same);
    CHECK(!ring.read(1000, 900, out));    // frame 1000 was overwritten by frame 2000
    CHECK(!ring.read(1500, 700, out));    // not written yet
    CHECK(!ring.read(1150, 900, out, 100));  // too close to being overwritten
}

TEST(ring_fills_mono_input_into_both_channels) {
    mgs::BarRing ring;
    ring.allocate(2, 64);
    std::vector<float> mono(32, 0.25f);
    const float* in[1] = {mono.data()};
    ring.write(in, 1, 32);
    std::vector<float> a(32), b(32);
    float* out[2] = {a.data(), b.data()};
    CHECK(ring.read(0, 32, out));
    CHECK_EQ(a[31], 0.25f);
    CHECK_EQ(b[31], 0.25f);
}
