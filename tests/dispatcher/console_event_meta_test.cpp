// describe_console_json finds in rendered events what describe_console_event reads from the
// message, for every event kind the feed treats specially, without being fooled by look-alikes
// inside strings; it survives truncated and garbage input.

#include "anxin/dispatcher/console_event_meta.hpp"

#include "anxin/dispatcher/event_bus.hpp"

#include "console.pb.h"

#include <gtest/gtest.h>

namespace cv = anxin::console::v1;
using anxin::dispatcher::console_event_meta;
using anxin::dispatcher::describe_console_event;
using anxin::dispatcher::describe_console_json;
using anxin::dispatcher::to_console_json;

namespace {

void expect_same(const cv::ConsoleEvent& ev) {
    const auto a = describe_console_event(ev);
    const auto b = describe_console_json(to_console_json(ev));
    EXPECT_EQ(a.kind, b.kind) << to_console_json(ev);
    EXPECT_EQ(a.answer, b.answer) << to_console_json(ev);
    EXPECT_EQ(a.call_id, b.call_id) << to_console_json(ev);
    EXPECT_EQ(a.priority, b.priority) << to_console_json(ev);
    EXPECT_EQ(a.received_ms, b.received_ms) << to_console_json(ev);
}

cv::ConsoleEvent offer(const std::string& id, int priority, std::int64_t received_ms) {
    cv::ConsoleEvent ev;
    auto* c = ev.mutable_offer()->mutable_call();
    c->set_id(id);
    c->set_state("offered");
    c->set_received_ms(received_ms);
    c->set_priority(priority);
    auto* n = c->add_notes();
    n->set_text(R"(a note with "priority":1 and "id":"c-fake" and {"call":{ in it \)");
    ev.mutable_offer()->mutable_resident()->set_name("Ann \"Nan\" Lee");
    ev.mutable_offer()->mutable_resident()->add_recent_calls()->set_id("c-old");
    return ev;
}

}  // namespace

TEST(ConsoleEventMeta, OfferHasItsCallIdPriorityAndReceivedTime) {
    auto ev = offer("c-123", 2, 1700000000123);
    const auto m = describe_console_json(to_console_json(ev));
    EXPECT_EQ(m.kind, "offer");
    EXPECT_FALSE(m.answer);
    EXPECT_EQ(m.call_id, "c-123");
    EXPECT_EQ(m.priority, 2);
    EXPECT_EQ(m.received_ms, 1700000000123);
    EXPECT_EQ(m.coalescing_key(), "");
    expect_same(ev);
}

TEST(ConsoleEventMeta, EveryKindAgreesWithTheMessage) {
    cv::ConsoleEvent ev;
    ev.mutable_withdrawn()->set_call_id("c-1");
    ev.mutable_withdrawn()->set_reason("taken");
    expect_same(ev);
    ev.Clear();
    ev.set_req("r-7");
    ev.mutable_accepted()->mutable_call()->set_id("c-2");
    ev.mutable_accepted()->mutable_resident()->set_name("x");
    expect_same(ev);
    ev.Clear();
    ev.mutable_call_changed()->mutable_call()->set_id("c-3");
    ev.mutable_call_changed()->mutable_call()->set_priority(1);
    expect_same(ev);
    ev.Clear();
    ev.mutable_closed()->set_call_id("c-4");
    expect_same(ev);
    ev.Clear();
    ev.mutable_cancelled()->set_call_id("c-5");
    ev.mutable_cancelled()->set_cancelled_ms(5);
    expect_same(ev);
    ev.Clear();
    ev.mutable_summary()->set_open(3);
    expect_same(ev);
    ev.Clear();
    ev.mutable_queue()->set_offered(30);
    expect_same(ev);
    ev.Clear();
    ev.set_req("p");
    ev.mutable_pong()->set_server_time_ms(9);
    expect_same(ev);
    ev.Clear();
    ev.mutable_logged_out();
    expect_same(ev);
}

TEST(ConsoleEventMeta, CoalescingKeys) {
    cv::ConsoleEvent ev;
    ev.mutable_call_changed()->mutable_call()->set_id("c-9");
    EXPECT_EQ(describe_console_json(to_console_json(ev)).coalescing_key(), "call_changed:c-9");
    ev.Clear();
    ev.mutable_summary();
    EXPECT_EQ(describe_console_json(to_console_json(ev)).coalescing_key(), "summary");
    ev.Clear();
    ev.mutable_board()->set_total(4);
    EXPECT_EQ(describe_console_json(to_console_json(ev)).coalescing_key(), "board");
    ev.Clear();
    ev.mutable_queue()->set_shown(2);
    EXPECT_EQ(describe_console_json(to_console_json(ev)).coalescing_key(), "queue");
    ev.Clear();
    ev.mutable_withdrawn()->set_call_id("c-9");
    EXPECT_EQ(describe_console_json(to_console_json(ev)).coalescing_key(), "");
}

TEST(ConsoleEventMeta, GarbageAndTruncationsAreHarmless) {
    const std::string full = to_console_json(offer("c-123", 1, 42));
    for (std::size_t n = 0; n < full.size(); ++n) {
        const auto m = describe_console_json(std::string_view(full).substr(0, n));
        if (!m.call_id.empty()) {
            EXPECT_TRUE(std::string("c-123").starts_with(m.call_id));
        }
    }
    for (const char* s : {"", "{", "}", "[1,2]", "{\"", "{\"a\"", "{\"a\":", "{\"a\":{\"call\":",
                          "\"x\"", "{\"req\":5}", "{\"offer\":{\"call\":{\"priority\":\"zz\"}}}"})
        (void)describe_console_json(s);
    EXPECT_EQ(describe_console_json("{\"pong\":{}}").kind, "pong");
    EXPECT_EQ(describe_console_json("not json").kind, "");
}
