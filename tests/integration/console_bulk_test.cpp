// Supervisors' bulk actions against real Redis and a real dispatcher: closing a group of waiting
// technical alarms and sending a group of waiting calls to another station; each call checked on
// its own (a call taken meanwhile, an emergency, a junk id are refused, not changed), every change
// audited, the operators who had the offers told.

#include "test_cluster.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

using namespace std::chrono_literals;
namespace dv = anxin::device::v1;
namespace cv = anxin::console::v1;
using anxin::test::make_alarm;
using anxin::test::wait_for;

namespace {

class ConsoleBulk : public anxin::test::cluster_test {
  protected:
    std::string press(anxin::sim::device_link& dev, std::uint32_t seq, dv::AlarmType type) {
        if (!dev.send(make_alarm(seq, type))) return {};
        auto ack = wait_for(dev, [](const dv::ServerMessage& m) { return m.has_alarm_ack(); });
        return ack ? ack->alarm_ack().call_id() : std::string();
    }
    // Offers arrive in routing order, not press order (one call may be routed as it is stored,
    // another by the router's pass): waits for all of them, in any order.
    static bool offered_all(anxin::sim::console_link& link, std::set<std::string> ids) {
        while (!ids.empty()) {
            auto o = wait_for(link, [&](const cv::ConsoleEvent& e) {
                return e.has_offer() && ids.count(e.offer().call().id()) > 0;
            });
            if (!o) return false;
            ids.erase(o->offer().call().id());
        }
        return true;
    }
    static auto answer_to(const std::string& req) {
        return [req](const cv::ConsoleEvent& e) { return e.req() == req; };
    }
    std::optional<cv::ConsoleEvent> ask(anxin::sim::console_link& link, cv::ConsoleRequest r,
                                        const std::string& req) {
        r.set_req(req);
        if (!link.send(r)) return std::nullopt;
        return wait_for(link, answer_to(req), 10s);
    }
    static std::set<std::string> refused_codes(const cv::BulkResult& r, const std::string& id) {
        std::set<std::string> out;
        for (const auto& x : r.refused())
            if (x.call_id() == id) out.insert(x.code());
        return out;
    }
};

TEST_F(ConsoleBulk, CloseTakesOnlyWaitingTechnicalCallsAndAuditsEach) {
    start_cluster({"--max-calls-per-operator", "2"});
    auto a1 = c->console("op-a1");
    auto sup = c->console("sup-1");
    ASSERT_TRUE(a1 && sup);
    auto dev = c->device("dev-1");
    ASSERT_TRUE(dev);
    const auto t1 = press(*dev, 1, dv::LOW_BATTERY);
    const auto t2 = press(*dev, 2, dv::TAMPER);
    const auto t3 = press(*dev, 3, dv::POWER_LOSS);
    const auto sos = press(*dev, 4, dv::SOS);
    ASSERT_TRUE(offered_all(*a1, {t1, t2, t3, sos}));
    // op-a1 takes one of the technical calls: it is no longer waiting (op-a1 may hold two, so
    // it keeps its other offers).
    cv::ConsoleRequest take;
    take.mutable_accept()->set_call_id(t3);
    auto taken = ask(*a1, take, "take");
    ASSERT_TRUE(taken && taken->has_accepted());

    // An operator may not.
    cv::ConsoleRequest bulk;
    auto* bc = bulk.mutable_bulk_close();
    for (const auto& id : {t1, t2, t3, sos, std::string("C99999999"), std::string("next")})
        bc->add_call_ids(id);
    bc->set_outcome("technical");
    bc->set_note("Power cut in Zhongcang, devices on battery; checked with the grid company.");
    auto refused = ask(*a1, bulk, "op-bulk");
    ASSERT_TRUE(refused && refused->has_error());
    EXPECT_EQ(refused->error().code(), "forbidden");

    auto r = ask(*sup, bulk, "bulk-1");
    ASSERT_TRUE(r && r->has_bulk_result()) << (r ? r->DebugString() : "timeout");
    const auto& res = r->bulk_result();
    EXPECT_EQ(res.action(), "close");
    std::set<std::string> done(res.done_call_ids().begin(), res.done_call_ids().end());
    EXPECT_EQ(done, (std::set<std::string>{t1, t2}));
    EXPECT_EQ(refused_codes(res, t3), std::set<std::string>{"bad_state"});
    EXPECT_EQ(refused_codes(res, sos), std::set<std::string>{"not_technical"});
    EXPECT_EQ(refused_codes(res, "C99999999"), std::set<std::string>{"not_found"});
    EXPECT_EQ(refused_codes(res, "next"), std::set<std::string>{"bad_id"});

    // The operator who had the offers is told; the closed calls carry the note and the audit entry.
    std::set<std::string> withdrawn;
    for (int i = 0; i < 2; ++i) {
        auto w = wait_for(*a1, [](const cv::ConsoleEvent& e) {
            return e.has_withdrawn() && e.withdrawn().reason() == "closed";
        });
        ASSERT_TRUE(w);
        EXPECT_EQ(w->withdrawn().by_operator_id(), "sup-1");
        withdrawn.insert(w->withdrawn().call_id());
    }
    EXPECT_EQ(withdrawn, (std::set<std::string>{t1, t2}));
    for (const auto& id : {t1, t2}) {
        EXPECT_EQ(c->redis().hget("anx:call:" + id, "state"), "closed");
        EXPECT_EQ(c->redis().hget("anx:call:" + id, "outcome"), "technical");
        auto history = c->redis().list("anx:call:" + id + ":history");
        ASSERT_FALSE(history.empty());
        EXPECT_NE(history.back().find("bulk close of 6 calls by supervisor sup-1"),
                  std::string::npos)
            << history.back();
        EXPECT_NE(history.back().find("operator:sup-1"), std::string::npos) << history.back();
        auto notes = c->redis().list("anx:call:" + id + ":notes");
        ASSERT_EQ(notes.size(), 1u);
        EXPECT_NE(notes[0].find("Power cut in Zhongcang"), std::string::npos);
        EXPECT_EQ(c->redis().integer_command("SISMEMBER anx:op:op-a1:offers " + id), 0);
        EXPECT_EQ(c->redis().integer_command("ZRANK anx:calls:open " + id), -1);  // nil
    }
    // Untouched: the call in hand and the emergency.
    EXPECT_EQ(c->redis().hget("anx:call:" + t3, "state"), "accepted");
    EXPECT_EQ(c->redis().hget("anx:call:" + sos, "state"), "offered");
    // The device hears its calls were closed.
    auto closed = wait_for(*dev, [&](const dv::ServerMessage& m) {
        return m.has_call_update() && m.call_update().call_id() == t1 &&
               m.call_update().state() == dv::CLOSED;
    });
    EXPECT_TRUE(closed);
    auto metrics = c->http("GET", "/metrics");
    EXPECT_NE(metrics.body.find("anxin_console_bulk_closed_total 2"), std::string::npos);
}

TEST_F(ConsoleBulk, BadRequestsAreRefusedWhole) {
    start_cluster();
    auto sup = c->console("sup-1");
    ASSERT_TRUE(sup);
    cv::ConsoleRequest bad_outcome;
    bad_outcome.mutable_bulk_close()->add_call_ids("C00000001");
    bad_outcome.mutable_bulk_close()->set_outcome("whatever");
    auto r = ask(*sup, bad_outcome, "1");
    ASSERT_TRUE(r && r->has_error());
    EXPECT_EQ(r->error().code(), "bad_outcome");

    cv::ConsoleRequest neither;
    neither.mutable_bulk_close()->set_outcome("technical");
    r = ask(*sup, neither, "2");
    ASSERT_TRUE(r && r->has_error());
    EXPECT_EQ(r->error().code(), "bad_request");

    cv::ConsoleRequest too_many;
    too_many.mutable_bulk_close()->set_outcome("technical");
    for (int i = 0; i < 1001; ++i)
        too_many.mutable_bulk_close()->add_call_ids("C" + std::to_string(10000000 + i));
    r = ask(*sup, too_many, "3");
    ASSERT_TRUE(r && r->has_error());
    EXPECT_EQ(r->error().code(), "bad_request");

    cv::ConsoleRequest long_note;
    long_note.mutable_bulk_close()->set_outcome("technical");
    long_note.mutable_bulk_close()->add_call_ids("C00000001");
    long_note.mutable_bulk_close()->set_note(std::string(4001, 'x'));
    r = ask(*sup, long_note, "4");
    ASSERT_TRUE(r && r->has_error());
    EXPECT_EQ(r->error().code(), "note_too_long");

    cv::ConsoleRequest nowhere;
    nowhere.mutable_bulk_transfer()->add_call_ids("C00000001");
    nowhere.mutable_bulk_transfer()->set_station_id("st-nowhere");
    r = ask(*sup, nowhere, "5");
    ASSERT_TRUE(r && r->has_error());
    EXPECT_EQ(r->error().code(), "not_found");
    // The console is still served.
    cv::ConsoleRequest ping;
    ping.mutable_ping();
    r = ask(*sup, ping, "6");
    ASSERT_TRUE(r && r->has_pong());
}

TEST_F(ConsoleBulk, TransferSendsWaitingCallsToAStationFromItsFirstTier) {
    start_cluster({"--max-calls-per-operator", "2"});
    auto a1 = c->console("op-a1");
    auto b1 = c->console("op-b1");
    auto sup = c->console("sup-1");
    ASSERT_TRUE(a1 && b1 && sup);
    auto dev = c->device("dev-1");  // st-a is its nearest station
    ASSERT_TRUE(dev);
    const auto fall = press(*dev, 1, dv::FALL);
    const auto sos = press(*dev, 2, dv::SOS);
    const auto held = press(*dev, 3, dv::SOS);
    ASSERT_TRUE(offered_all(*a1, {fall, sos, held}));
    cv::ConsoleRequest take;
    take.mutable_accept()->set_call_id(held);
    auto taken = ask(*a1, take, "take");
    ASSERT_TRUE(taken && taken->has_accepted());

    cv::ConsoleRequest bulk;
    auto* bt = bulk.mutable_bulk_transfer();
    for (const auto& id : {fall, sos, held}) bt->add_call_ids(id);
    bt->set_station_id("st-b");
    bt->set_note("st-a is overwhelmed; Songzhuang has people free.");
    auto r = ask(*sup, bulk, "bulk-t");
    ASSERT_TRUE(r && r->has_bulk_result()) << (r ? r->DebugString() : "timeout");
    std::set<std::string> done(r->bulk_result().done_call_ids().begin(),
                               r->bulk_result().done_call_ids().end());
    EXPECT_EQ(done, (std::set<std::string>{fall, sos}));
    EXPECT_EQ(refused_codes(r->bulk_result(), held), std::set<std::string>{"bad_state"});

    // st-b is offered both (any priority may be sent), st-a's operator loses them.
    std::set<std::string> at_b{fall, sos};
    while (!at_b.empty()) {
        auto o = wait_for(
            *b1,
            [&](const cv::ConsoleEvent& e) {
                return e.has_offer() && at_b.count(e.offer().call().id()) > 0;
            },
            5s);
        ASSERT_TRUE(o) << "not offered at st-b: " << *at_b.begin();
        EXPECT_EQ(o->offer().call().station_id(), "st-b");
        at_b.erase(o->offer().call().id());
    }
    std::set<std::string> withdrawn;
    for (int i = 0; i < 2; ++i) {
        auto w = wait_for(*a1, [](const cv::ConsoleEvent& e) {
            return e.has_withdrawn() && e.withdrawn().reason() == "rerouted";
        });
        ASSERT_TRUE(w);
        withdrawn.insert(w->withdrawn().call_id());
    }
    EXPECT_EQ(withdrawn, (std::set<std::string>{fall, sos}));
    for (const auto& id : {fall, sos}) {
        EXPECT_EQ(c->redis().hget("anx:call:" + id, "tiers"), "st-b");
        auto history = c->redis().list("anx:call:" + id + ":history");
        const bool audited = std::any_of(history.begin(), history.end(), [](const std::string& h) {
            return h.find("\"transferred\"") != std::string::npos &&
                   h.find("bulk transfer of 3 calls by supervisor sup-1") != std::string::npos;
        });
        EXPECT_TRUE(audited);
    }
    // op-b1 can take one.
    cv::ConsoleRequest take_b;
    take_b.mutable_accept()->set_call_id(sos);
    auto tb = ask(*b1, take_b, "take-b");
    ASSERT_TRUE(tb && tb->has_accepted()) << (tb ? tb->DebugString() : "timeout");
}

TEST_F(ConsoleBulk, AFilterClosesTheWaitingTechnicalCallsOfAGroupOnly) {
    start_cluster();
    // Both stations staffed: each call goes to its own nearest station (whose area it takes).
    auto a1 = c->console("op-a1");
    auto b1 = c->console("op-b1");
    auto sup = c->console("sup-1");  // board mode: its instance keeps the board
    ASSERT_TRUE(a1 && b1 && sup);
    auto near_a = c->device("dev-1");  // Zhongcang (st-a)
    auto near_b = c->device("dev-2");  // Songzhuang (st-b)
    ASSERT_TRUE(near_a && near_b);
    const auto t1 = press(*near_a, 1, dv::LOW_BATTERY);
    const auto t2 = press(*near_a, 2, dv::POWER_LOSS);
    const auto sos = press(*near_a, 3, dv::SOS);
    const auto other = press(*near_b, 1, dv::TAMPER);
    ASSERT_FALSE(t1.empty() || t2.empty() || sos.empty() || other.empty());
    // The board has them all (the summary comes at most once a second).
    ASSERT_TRUE(wait_for(
        *sup,
        [](const cv::ConsoleEvent& e) { return e.has_summary() && e.summary().waiting() == 4; },
        10s));

    cv::ConsoleRequest bulk;
    auto* bc = bulk.mutable_bulk_close();
    bc->mutable_filter()->set_area("Zhongcang");
    bc->mutable_filter()->add_priorities(1);  // ignored: a bulk close takes technical calls only
    bc->set_outcome("technical");
    auto r = ask(*sup, bulk, "by-area");
    ASSERT_TRUE(r && r->has_bulk_result()) << (r ? r->DebugString() : "timeout");
    std::set<std::string> done(r->bulk_result().done_call_ids().begin(),
                               r->bulk_result().done_call_ids().end());
    EXPECT_EQ(done, (std::set<std::string>{t1, t2}));
    EXPECT_EQ(r->bulk_result().refused_size(), 0);
    EXPECT_EQ(c->redis().hget("anx:call:" + sos, "state"), "offered");
    EXPECT_NE(c->redis().hget("anx:call:" + other, "state"), "closed");
    // The board follows: two waiting calls left.
    EXPECT_TRUE(wait_for(
        *sup,
        [](const cv::ConsoleEvent& e) { return e.has_summary() && e.summary().waiting() == 2; },
        10s));

    cv::ConsoleRequest bad;
    bad.mutable_bulk_close()->mutable_filter()->add_priorities(7);
    bad.mutable_bulk_close()->set_outcome("technical");
    r = ask(*sup, bad, "bad-filter");
    ASSERT_TRUE(r && r->has_error());
    EXPECT_EQ(r->error().code(), "bad_request");
}

}  // namespace
