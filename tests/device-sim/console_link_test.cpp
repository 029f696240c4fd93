// split_batch: the console client's unpacking of batch frames into single events.

#include "anxin/sim/console_link.hpp"

#include <gtest/gtest.h>

using anxin::sim::split_batch;

TEST(SplitBatch, EventsInOrderWithCommasAndBracketsInsideStrings) {
    const std::string frame =
        R"({"batch":{"events":[{"offer":{"call":{"id":"c-1","notes":[{"text":"a, b] {c\" }"}]}}},)"
        R"({"queue":{"offered":30,"shown":20}},{"withdrawn":{"call_id":"c-0","reason":"taken"}}]}})";
    std::vector<std::string_view> ev;
    ASSERT_TRUE(split_batch(frame, ev));
    ASSERT_EQ(ev.size(), 3u);
    EXPECT_EQ(ev[0], R"({"offer":{"call":{"id":"c-1","notes":[{"text":"a, b] {c\" }"}]}}})");
    EXPECT_EQ(ev[1], R"({"queue":{"offered":30,"shown":20}})");
    EXPECT_EQ(ev[2], R"({"withdrawn":{"call_id":"c-0","reason":"taken"}})");
}

TEST(SplitBatch, NotABatch) {
    std::vector<std::string_view> ev;
    EXPECT_FALSE(split_batch(R"({"pong":{}})", ev));
    EXPECT_FALSE(split_batch(R"({"batch":{"events":[{"a":{}]}})", ev));
    EXPECT_FALSE(split_batch(R"({"batch":{"events":[{"a":"}]}})", ev));
    EXPECT_TRUE(split_batch(R"({"batch":{"events":[]}})", ev));
    EXPECT_TRUE(ev.empty());
}
