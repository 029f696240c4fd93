// The console outbox: one frame per 100 ms for pushed events, answers at once after what waited,
// batches built from the rendered events, coalescing by key, and the bounds.

#include "anxin/dispatcher/console_outbox.hpp"

#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include "console.pb.h"

using anxin::dispatcher::console_outbox;
using namespace std::chrono_literals;

namespace {
const auto t0 = console_outbox::clock::time_point{} + 1h;
}

TEST(ConsoleOutbox, OneEventGoesAsItIsSeveralAsABatch) {
    console_outbox box;
    ASSERT_TRUE(box.push(R"({"pong":{}})", "", false));
    ASSERT_LE(box.due(), t0);
    std::size_t n = 0;
    EXPECT_EQ(box.take_frame(t0, &n), R"({"pong":{}})");
    EXPECT_EQ(n, 1u);
    EXPECT_TRUE(box.empty());
    box.push(R"({"closed":{"call_id":"c-1"}})", "", false);
    box.push(R"({"cancelled":{"call_id":"c-2"}})", "", false);
    const auto frame = box.take_frame(t0 + 100ms, &n);
    EXPECT_EQ(n, 2u);
    EXPECT_EQ(
        frame,
        R"({"batch":{"events":[{"closed":{"call_id":"c-1"}},{"cancelled":{"call_id":"c-2"}}]}})");
    // It is a valid Batch in the protocol's JSON mapping.
    anxin::console::v1::ConsoleEvent ev;
    ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(frame, &ev).ok());
    ASSERT_EQ(ev.batch().events_size(), 2);
    EXPECT_EQ(ev.batch().events(1).cancelled().call_id(), "c-2");
    EXPECT_EQ(box.pending_bytes(), 0u);
}

TEST(ConsoleOutbox, PushedEventsWaitForTheIntervalAnswersDoNot) {
    console_outbox box;
    box.push("{\"a\":{}}", "", false);
    box.take_frame(t0);
    box.push("{\"b\":{}}", "", false);
    EXPECT_EQ(box.due(), t0 + 100ms);
    box.push(R"({"req":"1","pong":{}})", "", true);
    EXPECT_LE(box.due(), t0 + 1ms);
    // The answer goes after what was waiting, in the same frame.
    EXPECT_EQ(box.take_frame(t0 + 1ms), R"({"batch":{"events":[{"b":{}},{"req":"1","pong":{}}]}})");
    box.push("{\"c\":{}}", "", false);
    EXPECT_EQ(box.due(), t0 + 101ms);
}

TEST(ConsoleOutbox, ANewerEventWithTheSameKeyReplacesTheOlder) {
    console_outbox box;
    box.push(R"({"call_changed":{"call":{"id":"c-1","state":"offered"}}})", "call_changed:c-1",
             false);
    box.push(R"({"call_changed":{"call":{"id":"c-2"}}})", "call_changed:c-2", false);
    box.push(R"({"queue":{"offered":1}})", "queue", false);
    box.push(R"({"call_changed":{"call":{"id":"c-1","state":"accepted"}}})", "call_changed:c-1",
             false);
    box.push(R"({"queue":{"offered":2}})", "queue", false);
    EXPECT_EQ(box.pending_events(), 3u);
    EXPECT_EQ(box.coalesced(), 2u);
    EXPECT_EQ(box.take_frame(t0), R"({"batch":{"events":[{"call_changed":{"call":{"id":"c-2"}}},)"
                                  R"({"call_changed":{"call":{"id":"c-1","state":"accepted"}}},)"
                                  R"({"queue":{"offered":2}}]}})");
    // Sent ones are no longer pending: the same key queues again.
    box.push(R"({"queue":{"offered":3}})", "queue", false);
    EXPECT_EQ(box.pending_events(), 1u);
    EXPECT_EQ(box.take_frame(t0 + 100ms), R"({"queue":{"offered":3}})");
}

TEST(ConsoleOutbox, BoundedByEventsAndBytes) {
    console_outbox::limits l;
    l.max_events = 3;
    l.max_bytes = 100;
    console_outbox box(l);
    EXPECT_TRUE(box.push("{\"a\":1}", "", false));
    EXPECT_TRUE(box.push("{\"a\":2}", "", false));
    EXPECT_TRUE(box.push("{\"q\":1}", "queue", false));
    EXPECT_FALSE(box.push("{\"a\":3}", "", false));
    // Replacing a pending event does not add one.
    EXPECT_TRUE(box.push("{\"q\":2}", "queue", false));
    console_outbox small(l);
    EXPECT_FALSE(small.push(std::string(101, 'x'), "", false));
    EXPECT_TRUE(small.push(std::string(100, 'x'), "", false));
}

TEST(ConsoleOutbox, PushedFramesStopAtTheFrameCapAnswersTakeEverything) {
    console_outbox::limits l;
    l.max_frame_bytes = 50;
    console_outbox box(l);
    for (int i = 0; i < 5; ++i)
        box.push("{\"e\":\"" + std::string(20, char('a' + i)) + "\"}", "", false);
    std::size_t n = 0;
    box.take_frame(t0, &n);
    EXPECT_EQ(n, 1u);  // two would pass 50 bytes
    EXPECT_EQ(box.pending_events(), 4u);
    box.push(R"({"req":"x","pong":{}})", "", true);
    box.take_frame(t0 + 1ms, &n);
    EXPECT_EQ(n, 5u);
    EXPECT_TRUE(box.empty());
}
