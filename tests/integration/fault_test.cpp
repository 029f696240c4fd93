// Each fault on its own, against real processes: a dispatcher killed with SIGKILL (restarted, or
// with another instance carrying on), several instances on one Redis, Redis itself going away and
// coming back. The promise under test: once a device has been told "received", the call reaches a
// person. Figures a reader may want (kill -> offered again) are printed, not asserted tightly.

#include "test_cluster.hpp"

#include "anxin/protocol/framing.hpp"

#include <gtest/gtest.h>

#include <csignal>
#include <iostream>
#include <map>
#include <set>
#include <thread>

using namespace std::chrono_literals;
namespace dv = anxin::device::v1;
namespace cv = anxin::console::v1;
using anxin::test::make_alarm;
using anxin::test::offer_of;
using anxin::test::wait_for;
using clock_type = std::chrono::steady_clock;

namespace {

class Faults : public anxin::test::cluster_test {
  protected:
    std::string hget(const std::string& key, const std::string& field) {
        return c->redis().hget(key, field);
    }
    std::vector<std::string> history_events(const std::string& call) {
        return c->redis().list("anx:call:" + call + ":history");
    }
    bool offered_to(const std::string& call, const std::string& op) {
        auto* r = static_cast<redisReply*>(redisCommand(
            c->redis().client(), "SISMEMBER anx:call:%s:offers %s", call.c_str(), op.c_str()));
        bool yes = r && r->type == REDIS_REPLY_INTEGER && r->integer == 1;
        if (r) freeReplyObject(r);
        return yes;
    }
    static std::string press(anxin::sim::device_link& dev, std::uint32_t seq,
                             bool* duplicate = nullptr) {
        if (!dev.send(make_alarm(seq))) return {};
        auto ack = wait_for(dev, [](const dv::ServerMessage& m) { return m.has_alarm_ack(); });
        if (ack && duplicate) *duplicate = ack->alarm_ack().duplicate();
        return ack ? ack->alarm_ack().call_id() : std::string();
    }
    // Logs in again and again until it works (what a console does after its server died).
    std::unique_ptr<anxin::sim::console_link> console_until(anxin::test::dispatcher_process& d,
                                                            const std::string& op,
                                                            std::chrono::milliseconds limit) {
        auto until = clock_type::now() + limit;
        while (clock_type::now() < until) {
            if (auto l = c->console_on(d, op)) return l;
            std::this_thread::sleep_for(100ms);
        }
        return nullptr;
    }
};

std::size_t count_of(const std::vector<std::string>& events, const std::string& needle) {
    std::size_t n = 0;
    for (const auto& e : events) n += e.find(needle) != std::string::npos;
    return n;
}

// SIGKILL with calls waiting, one of them taken: after a restart every waiting call is offered
// again, the taken call is back with its operator, a device re-sending its alarm gets the original
// call id, and the escalation timer carries on from where it was (not restarted).
TEST_F(Faults, KilledDispatcherRestartsWithEveryCallAndTimerWhereItWas) {
    const std::vector<std::string> args = {"--tier-timeout", "4", "--missed-offers", "50"};
    start_cluster(args);
    auto a1 = c->console("op-a1");
    auto a2 = c->console("op-a2");
    auto dev = c->device("dev-1");
    ASSERT_TRUE(a1 && a2 && dev);
    const auto waiting = press(*dev, 1);
    const auto taken = press(*dev, 2);
    ASSERT_FALSE(waiting.empty());
    ASSERT_FALSE(taken.empty());
    ASSERT_TRUE(wait_for(*a1, offer_of(waiting), 3s));
    ASSERT_TRUE(wait_for(*a2, offer_of(taken), 3s));
    cv::ConsoleRequest acc;
    acc.mutable_accept()->set_call_id(taken);
    ASSERT_TRUE(a2->send(acc));
    ASSERT_TRUE(wait_for(*a2, [](const cv::ConsoleEvent& e) { return e.has_accepted(); }));
    const auto escalate_at = std::stoll(hget("anx:call:" + waiting, "next_esc_ms"));
    ASSERT_GT(escalate_at, 0);

    const auto killed = clock_type::now();
    c->dispatcher().kill9();
    ASSERT_TRUE(c->dispatcher().start(args)) << c->dispatcher().log_tail();
    auto a1b = console_until(c->dispatcher(), "op-a1", 10s);
    ASSERT_TRUE(a1b);
    ASSERT_TRUE(wait_for(*a1b, offer_of(waiting), 5s));
    const double offered_again_s =
        std::chrono::duration<double>(clock_type::now() - killed).count();
    std::cout << "[ figure ] SIGKILL -> restarted -> waiting call offered again to the "
                 "reconnected console: "
              << offered_again_s * 1000 << " ms" << std::endl;
    auto a2b = console_until(c->dispatcher(), "op-a2", 10s);
    ASSERT_TRUE(a2b);
    ASSERT_TRUE(wait_for(*a2b, [&](const cv::ConsoleEvent& e) {
        return e.has_accepted() && e.accepted().call().id() == taken;
    }));

    // The device reconnects and re-sends the alarm it already had acked: the original call.
    auto dev2 = c->device("dev-1");
    ASSERT_TRUE(dev2);
    bool dup = false;
    EXPECT_EQ(press(*dev2, 1, &dup), waiting);
    EXPECT_TRUE(dup);
    EXPECT_EQ(c->redis().get("anx:call:next"), "2");

    // The escalation timer was in Redis: it fires at its original time, once.
    auto b1 = c->console("op-b1");
    ASSERT_TRUE(b1);
    ASSERT_TRUE(wait_for(*b1, offer_of(waiting), 8s));
    const auto now_ms = anxin::sim::wall_ms();
    EXPECT_LT(now_ms - escalate_at, 2500) << "escalated late: the timer was restarted?";
    EXPECT_EQ(count_of(history_events(waiting), "\"escalated\""), 1u);
    EXPECT_EQ(hget("anx:call:" + taken, "state"), "accepted");
}

// Two instances: a device on one, operators on the other; offers, withdrawals and the device's
// updates cross between them through Redis.
TEST_F(Faults, EventsReachPeersOnAnotherInstance) {
    start_cluster({});
    auto* b = c->add_dispatcher();
    ASSERT_TRUE(b);
    auto dev = c->device("dev-1");  // instance A
    auto a1 = c->console_on(*b, "op-a1");
    auto a2 = c->console("op-a2");  // instance A
    ASSERT_TRUE(dev && a1 && a2);
    const auto call = press(*dev, 1);
    ASSERT_FALSE(call.empty());
    ASSERT_TRUE(wait_for(*a1, offer_of(call), 3s));
    ASSERT_TRUE(wait_for(*a2, offer_of(call), 3s));
    cv::ConsoleRequest acc;
    acc.mutable_accept()->set_call_id(call);
    ASSERT_TRUE(a1->send(acc));
    ASSERT_TRUE(wait_for(*a1, [](const cv::ConsoleEvent& e) { return e.has_accepted(); }));
    EXPECT_TRUE(wait_for(*a2, [&](const cv::ConsoleEvent& e) {
        return e.has_withdrawn() && e.withdrawn().call_id() == call;
    }));
    EXPECT_TRUE(wait_for(*dev, [](const dv::ServerMessage& m) {
        return m.has_call_update() && m.call_update().state() == dv::OPERATOR_ASSIGNED;
    }));
    cv::ConsoleRequest close;
    close.mutable_close()->set_call_id(call);
    close.mutable_close()->set_outcome("resolved_by_phone");
    ASSERT_TRUE(a1->send(close));
    EXPECT_TRUE(wait_for(*dev, [](const dv::ServerMessage& m) {
        return m.has_call_update() && m.call_update().state() == dv::CLOSED;
    }));
}

// Three instances racing on the same timers: each escalation happens exactly once.
TEST_F(Faults, EachEscalationFiresOnceAcrossInstances) {
    const std::vector<std::string> args = {"--tier-timeout", "1", "--missed-offers", "50"};
    start_cluster(args);
    auto* b = c->add_dispatcher(args);
    auto* d3 = c->add_dispatcher(args);
    ASSERT_TRUE(b && d3);
    auto a1 = c->console_on(*b, "op-a1");
    auto b1 = c->console_on(*d3, "op-b1");
    auto c1 = c->console("op-c1");
    auto sup = c->console_on(*b, "sup-1");
    ASSERT_TRUE(a1 && b1 && c1 && sup);
    std::vector<std::string> calls;
    for (std::uint32_t seq = 1; seq <= 5; ++seq) {
        auto dev = c->device_on(seq % 2 ? *b : *d3, seq % 2 ? "dev-1" : "dev-3");
        ASSERT_TRUE(dev);
        calls.push_back(press(*dev, seq));
        ASSERT_FALSE(calls.back().empty());
    }
    // Every call reaches the command centre (3 station tiers, then the centre).
    for (const auto& call : calls) {
        ASSERT_TRUE(wait_for(*sup, offer_of(call), 10s)) << call;
    }
    std::this_thread::sleep_for(1500ms);  // any double firing would have happened by now
    for (const auto& call : calls) {
        auto events = history_events(call);
        EXPECT_EQ(count_of(events, "\"offered\""), 1u) << call;
        // st-c, st-b, then the command centre: three escalations, each once.
        EXPECT_EQ(count_of(events, "\"escalated\""), 3u) << call;
    }
}

// An instance dies in the middle of a burst: the other one takes over its queue entries and
// its leadership; every alarm that was acked is offered; re-sent alarms are stored once.
TEST_F(Faults, WhenAnInstanceDiesInABurstTheOtherOffersEverything) {
    start_cluster({});
    auto* b = c->add_dispatcher();
    ASSERT_TRUE(b);
    auto a1 = c->console_on(*b, "op-a1");
    auto b1 = c->console_on(*b, "op-b1");
    ASSERT_TRUE(a1 && b1);
    // Every device sends 30 alarms in one write (a connection may have 32 in flight); A dies as
    // soon as it has acked the first of them.
    constexpr std::uint32_t per_device = 30;
    const std::vector<std::string> ids = {"dev-1", "dev-2", "dev-3"};
    std::vector<std::unique_ptr<anxin::sim::device_link>> on_a;
    for (const auto& id : ids) {
        on_a.push_back(c->device(id));
        ASSERT_TRUE(on_a.back());
    }
    for (auto& dev : on_a) {
        std::string burst;
        for (std::uint32_t seq = 1; seq <= per_device; ++seq)
            anxin::protocol::append_frame(burst, make_alarm(seq));
        ASSERT_TRUE(dev->send_raw(burst));
    }
    std::map<std::string, std::string> acked;  // device/seq -> call
    auto is_ack = [](const dv::ServerMessage& m) { return m.has_alarm_ack(); };
    if (auto m = wait_for(*on_a[0], is_ack))
        acked["dev-1/" + std::to_string(m->alarm_ack().sequence())] = m->alarm_ack().call_id();
    const auto killed = clock_type::now();
    c->dispatcher().kill9();
    for (std::size_t i = 0; i < on_a.size(); ++i) {
        while (auto m = on_a[i]->receive(200ms)) {
            if (m->has_alarm_ack())
                acked[ids[i] + "/" + std::to_string(m->alarm_ack().sequence())] =
                    m->alarm_ack().call_id();
        }
    }
    ASSERT_GE(acked.size(), 1u);
    const std::size_t n = per_device * ids.size();
    std::cout << "[ figure ] instance A acked " << acked.size() << " of " << n
              << " alarms before SIGKILL" << std::endl;

    // The devices move to B and re-send everything (what was not acked, and to check, what was).
    std::map<std::string, std::string> final_ids;
    for (const auto& id : ids) {
        auto dev = c->device_on(*b, id);
        ASSERT_TRUE(dev);
        std::string burst;
        for (std::uint32_t seq = 1; seq <= per_device; ++seq)
            anxin::protocol::append_frame(burst, make_alarm(seq));
        ASSERT_TRUE(dev->send_raw(burst));
        for (std::uint32_t got = 0; got < per_device; ++got) {
            auto m = wait_for(*dev, is_ack, 10s);
            ASSERT_TRUE(m) << got << " acked by B for " << id;
            final_ids[id + "/" + std::to_string(m->alarm_ack().sequence())] =
                m->alarm_ack().call_id();
        }
    }
    ASSERT_EQ(final_ids.size(), n);
    for (const auto& [press, call] : acked) EXPECT_EQ(final_ids[press], call) << press;
    std::set<std::string> distinct;
    for (const auto& [press, call] : final_ids) distinct.insert(call);
    EXPECT_EQ(distinct.size(), n);
    EXPECT_EQ(c->redis().get("anx:call:next"), std::to_string(n));

    // Every call is offered to an operator on B (st-a's for dev-1/3, st-b's for dev-2).
    auto until = clock_type::now() + 30s;
    std::size_t offered = 0;
    while (clock_type::now() < until) {
        offered = 0;
        for (const auto& call : distinct)
            offered += offered_to(call, "op-a1") || offered_to(call, "op-b1");
        if (offered == n) break;
        std::this_thread::sleep_for(100ms);
    }
    EXPECT_EQ(offered, n);
    std::cout << "[ figure ] SIGKILL of instance A -> all " << n << " calls offered by instance B: "
              << std::chrono::duration<double>(clock_type::now() - killed).count() * 1000 << " ms"
              << std::endl;
}

// The leader dies with a call on offer: the surviving instance takes the lease and the
// escalation still happens, within a lease period of its time.
TEST_F(Faults, WhenTheLeaderDiesTheOtherInstanceFiresItsTimers) {
    const std::vector<std::string> args = {"--tier-timeout", "3", "--missed-offers", "50"};
    start_cluster(args);
    std::this_thread::sleep_for(1s);  // A holds the router lease
    auto* b = c->add_dispatcher(args);
    ASSERT_TRUE(b);
    ASSERT_EQ(c->redis().get("anx:leader:router"),
              "test-" + std::to_string(c->dispatcher().device_port()));
    auto a1 = c->console_on(*b, "op-a1");
    auto c1 = c->console_on(*b, "op-c1");
    auto dev = c->device_on(*b, "dev-1");
    ASSERT_TRUE(a1 && c1 && dev);
    const auto call = press(*dev, 1);
    ASSERT_TRUE(wait_for(*a1, offer_of(call), 3s));
    const auto escalate_at = std::stoll(hget("anx:call:" + call, "next_esc_ms"));
    c->dispatcher().kill9();
    ASSERT_TRUE(wait_for(*c1, offer_of(call), 10s));
    const auto late_ms = anxin::sim::wall_ms() - escalate_at;
    std::cout << "[ figure ] leader SIGKILLed: escalation fired by the other instance " << late_ms
              << " ms after its due time" << std::endl;
    EXPECT_LT(late_ms, 5000);
    EXPECT_EQ(c->redis().get("anx:leader:router"), "test-" + std::to_string(b->device_port()));
    EXPECT_EQ(count_of(history_events(call), "\"escalated\""), 1u);
}

// Redis goes away with a call on offer: consoles are told the service is degraded, devices are
// nacked; when it is back the console is told, gets its offer again, and the timers carry on.
TEST_F(Faults, RedisOutageIsShownToConsolesAndEverythingResumes) {
    const std::vector<std::string> args = {"--tier-timeout", "3", "--missed-offers", "50"};
    start_cluster(args);
    auto a1 = c->console("op-a1");
    auto dev = c->device("dev-1");
    ASSERT_TRUE(a1 && dev);
    const auto call = press(*dev, 1);
    ASSERT_TRUE(wait_for(*a1, offer_of(call), 3s));

    c->redis().kill9();
    auto degraded = wait_for(
        *a1, [](const cv::ConsoleEvent& e) { return e.has_service_status(); }, 5s);
    ASSERT_TRUE(degraded);
    EXPECT_TRUE(degraded->service_status().degraded());
    ASSERT_TRUE(dev->send(make_alarm(2)));
    auto nack = wait_for(
        *dev, [](const dv::ServerMessage& m) { return m.has_alarm_ack() || m.has_alarm_nack(); });
    ASSERT_TRUE(nack);
    EXPECT_TRUE(nack->has_alarm_nack());

    ASSERT_TRUE(c->redis().start());
    auto back = wait_for(
        *a1, [](const cv::ConsoleEvent& e) { return e.has_service_status(); }, 10s);
    ASSERT_TRUE(back);
    EXPECT_FALSE(back->service_status().degraded());
    // The true state again: the offer that was on screen.
    EXPECT_TRUE(wait_for(*a1, offer_of(call), 5s));
    // The device's retry is stored once.
    std::string second;
    for (int i = 0; i < 20 && second.empty(); ++i) {
        ASSERT_TRUE(dev->send(make_alarm(2)));
        auto r = wait_for(
            *dev,
            [](const dv::ServerMessage& m) { return m.has_alarm_ack() || m.has_alarm_nack(); }, 2s);
        if (r && r->has_alarm_ack())
            second = r->alarm_ack().call_id();
        else
            std::this_thread::sleep_for(250ms);
    }
    ASSERT_FALSE(second.empty());
    EXPECT_EQ(c->redis().get("anx:call:next"), "2");
    EXPECT_TRUE(wait_for(*a1, offer_of(second), 5s));
    // The first call's escalation still happens (st-c is next).
    auto c1 = c->console("op-c1");
    ASSERT_TRUE(c1);
    EXPECT_TRUE(wait_for(*c1, offer_of(call), 8s));
}

// Redis hangs (SIGSTOP) instead of going away: hiredis would wait forever; the dispatcher's own
// command timeout (3 s) turns the wait into a nack, and after SIGCONT the re-sent alarm is stored
// once (the script may have run after all: the re-send then gets the original call id).
TEST_F(Faults, HungRedisMeansANackWithinTheCommandTimeoutNeverAFalseAck) {
    start_cluster({});
    auto a1 = c->console("op-a1");
    auto dev = c->device("dev-1");
    ASSERT_TRUE(a1 && dev);
    c->redis().signal(SIGSTOP);
    const auto t0 = clock_type::now();
    ASSERT_TRUE(dev->send(make_alarm(5)));
    auto first = wait_for(
        *dev, [](const dv::ServerMessage& m) { return m.has_alarm_ack() || m.has_alarm_nack(); },
        8s);
    const double waited = std::chrono::duration<double>(clock_type::now() - t0).count();
    // The dispatcher's reconnects reach the kernel's backlog but get no answer to their PING: it
    // counts as down, and the consoles are told.
    auto degraded = wait_for(
        *a1, [](const cv::ConsoleEvent& e) { return e.has_service_status(); }, 5s);
    c->redis().signal(SIGCONT);
    ASSERT_TRUE(degraded);
    EXPECT_TRUE(degraded->service_status().degraded());
    ASSERT_TRUE(first) << "no answer at all while Redis hung";
    EXPECT_TRUE(first->has_alarm_nack()) << first->DebugString();
    std::cout << "[ figure ] Redis hung: alarm nacked after " << waited * 1000 << " ms"
              << std::endl;
    EXPECT_LT(waited, 4.5);
    auto back = wait_for(
        *a1, [](const cv::ConsoleEvent& e) { return e.has_service_status(); }, 8s);
    ASSERT_TRUE(back);
    EXPECT_FALSE(back->service_status().degraded());

    const auto call = anxin::test::resend_until_acked(*c, dev, "dev-1", make_alarm(5));
    ASSERT_FALSE(call.empty());
    EXPECT_EQ(c->redis().get("anx:call:next"), "1");
    EXPECT_TRUE(wait_for(*a1, offer_of(call), 5s));
}

}  // namespace
