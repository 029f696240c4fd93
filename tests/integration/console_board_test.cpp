// The supervisors' board (protocol/CONSOLE.md, "The supervisors' board") against real Redis and
// real dispatchers: hundreds of waiting calls of mixed priorities, a supervisor who gets a
// summary and the watched window instead of a call_changed per call, its counts against the
// truth in Redis, paging, filters, call cards on request, and a second instance.

#include "test_cluster.hpp"

#include <gtest/gtest.h>

#include <hiredis/hiredis.h>

#include <iostream>
#include <map>

using namespace std::chrono_literals;
namespace dv = anxin::device::v1;
namespace cv = anxin::console::v1;
using anxin::test::make_alarm;
using anxin::test::wait_for;

namespace {

// Calls stay at their stations for the whole test (no escalation to the command centre, where
// every call would also be offered to the supervisor).
const std::vector<std::string> slow_escalation{"--tier-timeout", "600", "--escalation-limit",
                                               "1200"};

struct truth {
    std::uint32_t open = 0, waiting = 0, accepted = 0;
    std::map<int, std::uint32_t> waiting_by_priority;
    std::map<std::string, std::uint32_t> waiting_by_station;
    std::map<std::string, int> priority_of;
    std::map<std::string, std::string> station_of;
};

class ConsoleBoard : public anxin::test::cluster_test {
  protected:
    // What Redis holds: every open call's priority, state and station.
    truth read_truth() {
        truth t;
        auto* r = static_cast<redisReply*>(
            redisCommand(c->redis().client(), "ZRANGE anx:calls:open 0 -1"));
        EXPECT_TRUE(r && r->type == REDIS_REPLY_ARRAY);
        std::vector<std::string> ids;
        for (std::size_t i = 0; r && i < r->elements; ++i) ids.emplace_back(r->element[i]->str);
        if (r) freeReplyObject(r);
        for (const auto& id : ids) {
            const auto state = c->redis().hget("anx:call:" + id, "state");
            const int prio = std::stoi(c->redis().hget("anx:call:" + id, "priority"));
            const auto station = c->redis().hget("anx:call:" + id, "station");
            ++t.open;
            t.priority_of[id] = prio;
            t.station_of[id] = station;
            if (state == "accepted") {
                ++t.accepted;
            } else {
                ++t.waiting;
                ++t.waiting_by_priority[prio];
                ++t.waiting_by_station[station];
            }
        }
        return t;
    }

    // Presses n alarms spread over the three devices, a third of each priority; drains the
    // operators' consoles meanwhile (they are offered every call of their station).
    void press_many(int n, std::vector<anxin::sim::device_link*> devs,
                    std::vector<anxin::sim::console_link*> drain, std::uint32_t first_seq = 1) {
        const dv::AlarmType types[] = {dv::SOS, dv::INACTIVITY, dv::LOW_BATTERY};
        for (int i = 0; i < n; ++i) {
            auto* dev = devs[static_cast<std::size_t>(i) % devs.size()];
            const auto seq = first_seq + static_cast<std::uint32_t>(i);
            ASSERT_TRUE(dev->send(make_alarm(seq, types[(i / 3) % 3])));
            auto ack = wait_for(*dev, [](const dv::ServerMessage& m) { return m.has_alarm_ack(); });
            ASSERT_TRUE(ack) << "press " << i;
            for (auto* con : drain) {
                while (con->poll()) {
                }
            }
        }
    }

    // Everything the console receives within `for_how_long`, and its size as JSON text.
    static std::vector<cv::ConsoleEvent> collect(anxin::sim::console_link& con,
                                                 std::chrono::milliseconds for_how_long,
                                                 std::size_t& bytes) {
        std::vector<cv::ConsoleEvent> out;
        const auto until = std::chrono::steady_clock::now() + for_how_long;
        for (;;) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                until - std::chrono::steady_clock::now());
            if (left.count() <= 0) break;
            auto ev = con.receive(left);
            if (!ev) break;
            bytes += anxin::sim::to_json(*ev).size();
            out.push_back(std::move(*ev));
        }
        return out;
    }

    static std::optional<cv::ConsoleEvent> last_of(const std::vector<cv::ConsoleEvent>& evs,
                                                   bool (cv::ConsoleEvent::*has)() const) {
        std::optional<cv::ConsoleEvent> out;
        for (const auto& e : evs) {
            if ((e.*has)()) out = e;
        }
        return out;
    }

    static std::optional<cv::ConsoleEvent> ask(anxin::sim::console_link& con,
                                               cv::ConsoleRequest req, const std::string& id) {
        req.set_req(id);
        if (!con.send(req)) return std::nullopt;
        return wait_for(con, [&](const cv::ConsoleEvent& e) { return e.req() == id; });
    }

    // Waits until a summary with `open` open calls and a board with `total` lines have both come
    // (in either order: each is pushed on its own schedule).
    static bool summary_and_board(anxin::sim::console_link& con, std::uint32_t open,
                                  std::uint32_t total, std::chrono::milliseconds timeout) {
        bool summary_seen = false, board_seen = false;
        const auto until = std::chrono::steady_clock::now() + timeout;
        while (!(summary_seen && board_seen)) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                until - std::chrono::steady_clock::now());
            if (left.count() <= 0) break;
            auto e = con.receive(left);
            if (!e) break;
            summary_seen |= e->has_summary() && e->summary().open() == open;
            board_seen |= e->has_board() && e->board().total() == total;
        }
        if (!summary_seen) std::cout << "no summary with " << open << " open calls\n";
        if (!board_seen) std::cout << "no board with " << total << " lines\n";
        return summary_seen && board_seen;
    }

    static cv::ConsoleRequest watch(std::vector<int> priorities, const std::string& station,
                                    std::uint32_t offset, std::uint32_t limit,
                                    const std::string& state = {}) {
        cv::ConsoleRequest r;
        auto* w = r.mutable_watch();
        for (int p : priorities) w->add_priorities(p);
        w->set_station_id(station);
        w->set_offset(offset);
        w->set_limit(limit);
        w->set_state(state);
        return r;
    }
};

TEST_F(ConsoleBoard, SupervisorSeesCountsAndAPagedBoardNotEveryCall) {
    start_cluster(slow_escalation);
    // Two at st-a: when op-a1 takes a call, st-a still has someone free for the rest.
    auto a1 = c->console("op-a1");
    auto a2 = c->console("op-a2");
    auto b1 = c->console("op-b1");
    ASSERT_TRUE(a1 && a2 && b1);
    auto d1 = c->device("dev-1");
    auto d2 = c->device("dev-2");
    auto d3 = c->device("dev-3");
    ASSERT_TRUE(d1 && d2 && d3);
    constexpr int calls = 600;
    const auto pressing = std::chrono::steady_clock::now();
    press_many(calls, {d1.get(), d2.get(), d3.get()}, {a1.get(), a2.get(), b1.get()});
    // One of them taken, so that the board has an accepted call too: one at st-a (ring-all: on
    // offer to op-a1).
    while (a1->receive(200ms)) {
    }
    std::string taken;
    for (const auto& [id, station] : read_truth().station_of) {
        if (station == "st-a" && taken.empty()) taken = id;
    }
    ASSERT_FALSE(taken.empty());
    cv::ConsoleRequest acc;
    acc.mutable_accept()->set_call_id(taken);
    auto accepted = ask(*a1, acc, "acc");
    ASSERT_TRUE(accepted && accepted->has_accepted());
    const auto t = read_truth();
    ASSERT_EQ(t.open, static_cast<std::uint32_t>(calls));
    ASSERT_EQ(t.accepted, 1u);
    std::uint32_t emergencies = 0;  // open, waiting or accepted
    for (const auto& [id, prio] : t.priority_of) emergencies += prio == 1;
    ASSERT_GT(emergencies, 60u);

    // The board: a summary and the default watch (50 lines), no call_changed.
    auto sup = c->console("sup-1");
    ASSERT_TRUE(sup);
    std::size_t board_bytes = 0;
    auto evs = collect(*sup, 2500ms, board_bytes);
    for (const auto& e : evs) EXPECT_FALSE(e.has_call_changed());
    auto summary = last_of(evs, &cv::ConsoleEvent::has_summary);
    auto board = last_of(evs, &cv::ConsoleEvent::has_board);
    ASSERT_TRUE(summary && board) << evs.size() << " events";
    const auto& s = summary->summary();
    EXPECT_EQ(s.open(), t.open);
    EXPECT_EQ(s.waiting(), t.waiting);
    EXPECT_EQ(s.accepted(), t.accepted);
    ASSERT_EQ(s.by_priority_size(), 3);
    for (int p = 1; p <= 3; ++p) {
        EXPECT_EQ(s.by_priority(p - 1).key(), std::to_string(p));
        EXPECT_EQ(s.by_priority(p - 1).waiting(), t.waiting_by_priority.at(p)) << "priority " << p;
    }
    for (const auto& st : s.by_station()) {
        auto it = t.waiting_by_station.find(st.key() == "@cc" ? "" : st.key());
        ASSERT_NE(it, t.waiting_by_station.end()) << st.key();
        EXPECT_EQ(st.waiting(), it->second) << st.key();
    }
    if (std::chrono::steady_clock::now() - pressing < 50s) {
        EXPECT_EQ(s.received_last_minute(), t.open);  // all pressed within the last minute
    }
    EXPECT_TRUE(s.surge());  // 600 > the default 120 a minute
    EXPECT_NE(s.surge_reason().find("calls in the last minute (threshold 120)"), std::string::npos)
        << s.surge_reason();
    EXPECT_FALSE(s.oldest_emergency_call_id().empty());
    EXPECT_EQ(t.priority_of.at(s.oldest_emergency_call_id()), 1);

    const auto& b = board->board();
    EXPECT_EQ(b.total(), t.open);
    ASSERT_EQ(b.calls_size(), 50);
    EXPECT_EQ(b.watch().limit(), 50u);
    for (const auto& l : b.calls()) {
        EXPECT_EQ(l.priority(), 1) << "emergencies first";
        EXPECT_NE(l.area(), "");
    }
    for (int i = 1; i < b.calls_size(); ++i)
        EXPECT_LE(b.calls(i - 1).received_ms(), b.calls(i).received_ms());

    // Pages: offset 150 of 50 = lines 150..199 of the whole list (limit 200).
    auto all = ask(*sup, watch({}, "", 0, 200), "w-all");
    ASSERT_TRUE(all && all->has_board());
    ASSERT_EQ(all->board().calls_size(), 200);
    auto page = ask(*sup, watch({}, "", 150, 50), "w-page");
    ASSERT_TRUE(page && page->has_board());
    ASSERT_EQ(page->board().calls_size(), 50);
    for (int i = 0; i < 50; ++i)
        EXPECT_EQ(page->board().calls(i).id(), all->board().calls(150 + i).id());
    // Where the emergencies end, the urgent calls begin.
    auto cross = ask(*sup, watch({}, "", emergencies - 5, 10), "w-cross");
    ASSERT_TRUE(cross && cross->has_board());
    ASSERT_EQ(cross->board().calls_size(), 10);
    for (int i = 0; i < 10; ++i) EXPECT_EQ(cross->board().calls(i).priority(), i < 5 ? 1 : 2) << i;

    // A filter: technical calls at st-b.
    auto tech_b = ask(*sup, watch({3}, "st-b", 0, 200), "w-tech");
    ASSERT_TRUE(tech_b && tech_b->has_board());
    std::uint32_t expected = 0;
    for (const auto& [id, prio] : t.priority_of) {
        if (prio == 3 && t.station_of.at(id) == "st-b" && id != taken) ++expected;
    }
    EXPECT_GT(expected, 0u);
    EXPECT_EQ(tech_b->board().total(), expected);
    for (const auto& l : tech_b->board().calls()) {
        EXPECT_EQ(l.priority(), 3);
        EXPECT_EQ(l.station_id(), "st-b");
        EXPECT_EQ(l.area(), "Songzhuang");
    }
    auto acc_only = ask(*sup, watch({}, "", 0, 10, "accepted"), "w-acc");
    ASSERT_TRUE(acc_only && acc_only->has_board());
    EXPECT_EQ(acc_only->board().total(), 1u);
    ASSERT_EQ(acc_only->board().calls_size(), 1);
    EXPECT_EQ(acc_only->board().calls(0).id(), taken);
    EXPECT_EQ(acc_only->board().calls(0).operator_id(), "op-a1");

    // Bad watches.
    for (auto bad : {watch({4}, "", 0, 10), watch({}, "", 0, 201), watch({}, "no such!", 0, 10),
                     watch({}, "", 0, 10, "closed")}) {
        auto e = ask(*sup, bad, "w-bad");
        ASSERT_TRUE(e && e->has_error());
        EXPECT_EQ(e->error().code(), "bad_request") << bad.DebugString();
    }

    // The card of the first line.
    cv::ConsoleRequest get;
    get.mutable_get_call()->set_call_id(b.calls(0).id());
    auto card = ask(*sup, get, "card");
    ASSERT_TRUE(card && card->has_call_detail()) << (card ? card->DebugString() : "timeout");
    EXPECT_EQ(card->call_detail().call().id(), b.calls(0).id());
    EXPECT_FALSE(card->call_detail().resident().name().empty());
    get.mutable_get_call()->set_call_id("C9999999");
    auto missing = ask(*sup, get, "card-missing");
    ASSERT_TRUE(missing && missing->has_error());
    EXPECT_EQ(missing->error().code(), "not_found");
    get.mutable_get_call()->set_call_id("x'; DROP");
    auto bad_id = ask(*sup, get, "card-bad");
    ASSERT_TRUE(bad_id && bad_id->has_error());
    EXPECT_EQ(bad_id->error().code(), "bad_id");

    // Operators: their own call and calls on offer to them, nothing else; no watch.
    get.mutable_get_call()->set_call_id(taken);
    auto own = ask(*a1, get, "own");
    ASSERT_TRUE(own && own->has_call_detail()) << (own ? own->DebugString() : "timeout");
    std::string at_b;
    for (const auto& [id, st] : t.station_of) {
        if (st == "st-b") at_b = id;
    }
    get.mutable_get_call()->set_call_id(at_b);
    auto other = ask(*a1, get, "other");
    ASSERT_TRUE(other && other->has_error());
    EXPECT_EQ(other->error().code(), "forbidden");
    auto offered_to_b1 = ask(*b1, get, "offered");
    ASSERT_TRUE(offered_to_b1 && offered_to_b1->has_call_detail())
        << (offered_to_b1 ? offered_to_b1->DebugString() : "timeout");
    auto op_watch = ask(*a1, watch({}, "", 0, 10), "op-watch");
    ASSERT_TRUE(op_watch && op_watch->has_error());
    EXPECT_EQ(op_watch->error().code(), "forbidden");

    // A new emergency, watching the emergencies.
    ASSERT_TRUE(sup->send(watch({1}, "", 0, 5)));
    ASSERT_TRUE(d1->send(make_alarm(10000, dv::SOS)));
    auto ack = wait_for(*d1, [](const dv::ServerMessage& m) { return m.has_alarm_ack(); });
    ASSERT_TRUE(ack);
    EXPECT_FALSE(ack->alarm_ack().call_id().empty());
    // The summary (open) and the watched board (the new emergency) follow within seconds.
    EXPECT_TRUE(summary_and_board(*sup, t.open + 1, emergencies + 1, 5s));

    // What version 1 sent: a call_changed for each of the 600 open calls at login.
    cv::Login all_calls;
    all_calls.set_operator_id("sup-1");
    all_calls.set_all_calls(true);
    auto flood = c->console_with(c->dispatcher(), all_calls);
    ASSERT_TRUE(flood);
    std::size_t flood_bytes = 0;
    // (one load per call, one after the other: seconds on a loaded machine)
    auto flood_evs = collect(*flood, 8000ms, flood_bytes);
    std::size_t changed = 0;
    for (const auto& e : flood_evs) changed += e.has_call_changed();
    EXPECT_GE(changed, t.open);
    std::cout << "supervisor login with " << t.open << " open calls: board " << board_bytes
              << " bytes in " << evs.size() << " events; all_calls " << flood_bytes << " bytes in "
              << flood_evs.size() << " events\n";
    EXPECT_LT(board_bytes * 5, flood_bytes);
}

TEST_F(ConsoleBoard, SupervisorOnAnotherInstanceSeesCallsRaisedElsewhere) {
    start_cluster(slow_escalation);
    auto* second = c->add_dispatcher(slow_escalation);
    ASSERT_TRUE(second);
    auto a1 = c->console("op-a1");
    ASSERT_TRUE(a1);
    auto d1 = c->device("dev-1");
    auto d3 = c->device("dev-3");
    ASSERT_TRUE(d1 && d3);
    press_many(60, {d1.get(), d3.get()}, {a1.get()});

    auto sup = c->console_on(*second, "sup-1");
    ASSERT_TRUE(sup);
    auto first = wait_for(
        *sup, [](const cv::ConsoleEvent& e) { return e.has_summary(); }, 5s);
    ASSERT_TRUE(first);
    EXPECT_EQ(first->summary().open(), 60u);
    EXPECT_EQ(first->summary().waiting(), 60u);

    // Raised through the first instance after the supervisor logged in on the second.
    press_many(30, {d1.get()}, {a1.get()}, 1000);
    const auto t = read_truth();
    ASSERT_EQ(t.open, 90u);
    EXPECT_TRUE(summary_and_board(*sup, 90, 90, 8s));
}

}  // namespace
