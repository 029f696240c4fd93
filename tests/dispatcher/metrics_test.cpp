// The per-console peak: the busiest console per second, over the last complete seconds only.

#include "anxin/dispatcher/metrics.hpp"

#include <gtest/gtest.h>

using anxin::dispatcher::metrics;
using anxin::dispatcher::per_second_peak;

TEST(PerSecondPeak, BusiestConsoleOfTheLastCompleteSeconds) {
    per_second_peak p;
    // Two consoles in second 100: running totals, the busier one wins for each figure.
    p.record(100, 1, 500);
    p.record(100, 2, 900);
    p.record(100, 1, 4000);
    p.record(105, 9, 10);
    // Second 110 is not complete at 110.
    p.record(110, 50, 50);
    auto f = p.max_over(110);
    EXPECT_EQ(f.frames, 9u);
    EXPECT_EQ(f.bytes, 4000u);
    // At 111 the incomplete second has become the busiest; second 100 is 11 s old.
    f = p.max_over(111);
    EXPECT_EQ(f.frames, 50u);
    EXPECT_EQ(f.bytes, 50u);
    // A slot reused 16 s later forgets the old second.
    p.record(121, 1, 1);
    f = p.max_over(122);
    EXPECT_EQ(f.frames, 1u);
    EXPECT_EQ(f.bytes, 1u);
    EXPECT_EQ(p.max_over(200).frames, 0u);
}

TEST(PerSecondPeak, RenderedWithTheFeedCounters) {
    metrics m;
    m.console_frames_sent = 12;
    m.console_events_coalesced = 3;
    const auto text = m.render({}, true, 0.001);
    EXPECT_NE(text.find("anxin_console_frames_sent_total 12\n"), std::string::npos);
    EXPECT_NE(text.find("anxin_console_events_coalesced_total 3\n"), std::string::npos);
    EXPECT_NE(text.find("anxin_console_max_frames_per_second 0\n"), std::string::npos);
    EXPECT_NE(text.find("anxin_console_max_bytes_per_second 0\n"), std::string::npos);
    EXPECT_NE(text.find("anxin_console_offers_held 0\n"), std::string::npos);
}
