// The call-handling rules against real Redis and a real dispatcher: escalation through the
// station tiers to the command centre, supervisors, missed offers, operators who vanish or log
// out with a call in hand, transfers, priorities under a backlog, device supervision and
// low-battery episodes, reports. Timings are shortened with the dispatcher's own options.

#include "test_cluster.hpp"

#include <gtest/gtest.h>

#include <set>

#include <iostream>

using namespace std::chrono_literals;
namespace dv = anxin::device::v1;
namespace cv = anxin::console::v1;
using anxin::test::cluster;
using anxin::test::make_alarm;
using anxin::test::offer_of;
using anxin::test::wait_for;

namespace {

using clock_type = std::chrono::steady_clock;

class CallHandling : public anxin::test::cluster_test {
  protected:
    void start(const std::vector<std::string>& args) { start_cluster(args); }
    std::string press(anxin::sim::device_link& dev, std::uint32_t seq,
                      dv::AlarmType type = dv::SOS) {
        if (!dev.send(make_alarm(seq, type))) return {};
        auto ack = wait_for(dev, [](const dv::ServerMessage& m) { return m.has_alarm_ack(); });
        return ack ? ack->alarm_ack().call_id() : std::string();
    }
    std::string hget(const std::string& key, const std::string& field) {
        return c->redis().hget(key, field);
    }
};

TEST_F(CallHandling, UntakenCallEscalatesStationByStationThenToTheCommandCentre) {
    start({"--tier-timeout", "1", "--escalation-limit", "4", "--max-tiers", "3", "--missed-offers",
           "5"});
    auto a1 = c->console("op-a1");
    auto b1 = c->console("op-b1");
    auto c1 = c->console("op-c1");
    auto sup = c->console("sup-1");
    ASSERT_TRUE(a1 && b1 && c1 && sup);
    auto dev = c->device("dev-1");
    ASSERT_TRUE(dev);
    const auto t0 = clock_type::now();
    const auto call = press(*dev, 1);
    ASSERT_FALSE(call.empty());
    auto secs = [&] { return std::chrono::duration<double>(clock_type::now() - t0).count(); };

    // Tier 1: the nearest station (st-a, 0.1 km).
    ASSERT_TRUE(wait_for(*a1, offer_of(call), 2s));
    EXPECT_LT(secs(), 1.0);
    // Tier 2 after the tier timeout: the next nearest (st-c, ~6 km), while st-a keeps the offer.
    auto o2 = wait_for(*c1, offer_of(call), 3s);
    ASSERT_TRUE(o2);
    EXPECT_GE(secs(), 0.9);
    // Tier 3: st-b (~10 km).
    auto o3 = wait_for(*b1, offer_of(call), 3s);
    ASSERT_TRUE(o3);
    EXPECT_GE(secs(), 1.9);
    EXPECT_EQ(o3->offer().call().tier_station_ids_size(), 3);
    // Then the district command centre.
    auto cc = wait_for(*sup, offer_of(call), 4s);
    ASSERT_TRUE(cc);
    EXPECT_GE(secs(), 2.9);
    EXPECT_TRUE(cc->offer().call().at_command_centre());
    EXPECT_EQ(cc->offer().resident().name(), "Wang Guilan");

    // The device followed along: offered at each tier, then the command centre.
    std::vector<std::string> stations;
    while (auto m = dev->receive(100ms)) {
        if (m->has_call_update() && m->call_update().state() == dv::OFFERED)
            stations.push_back(m->call_update().station_name());
    }
    ASSERT_GE(stations.size(), 4u);
    EXPECT_EQ(stations[0], "Zhongcang station");
    EXPECT_EQ(stations[1], "Zhangjiawan station");
    EXPECT_EQ(stations[2], "Songzhuang station");
    EXPECT_EQ(stations.back(), "区级养老指挥中心");

    // The supervisor takes it; everyone else's offer is withdrawn; the device is told.
    cv::ConsoleRequest accept;
    accept.mutable_accept()->set_call_id(call);
    ASSERT_TRUE(sup->send(accept));
    ASSERT_TRUE(wait_for(*sup, [](const cv::ConsoleEvent& e) { return e.has_accepted(); }));
    for (auto* op : {a1.get(), b1.get(), c1.get()}) {
        EXPECT_TRUE(wait_for(*op, [&](const cv::ConsoleEvent& e) {
            return e.has_withdrawn() && e.withdrawn().call_id() == call;
        }));
    }
    EXPECT_TRUE(wait_for(*dev, [](const dv::ServerMessage& m) {
        return m.has_call_update() && m.call_update().state() == dv::OPERATOR_ASSIGNED;
    }));
    auto rec = c->http("GET", "/api/calls/" + call);
    EXPECT_NE(rec.body.find("\"detail\":\"command centre\""), std::string::npos) << rec.body;
}

TEST_F(CallHandling, NoStationStaffedGoesToTheCommandCentreAtOnce) {
    start({});
    auto sup = c->console("sup-1");
    ASSERT_TRUE(sup);
    auto dev = c->device("dev-2");
    ASSERT_TRUE(dev);
    auto call = press(*dev, 1, dv::FALL);
    ASSERT_FALSE(call.empty());
    auto offer = wait_for(*sup, offer_of(call), 2s);
    ASSERT_TRUE(offer);
    EXPECT_TRUE(offer->offer().call().at_command_centre());
    EXPECT_EQ(offer->offer().call().priority_name(), "emergency");
}

TEST_F(CallHandling, SupervisorSeesEveryOpenCallAndMayTakeAny) {
    start({});
    auto a1 = c->console("op-a1");
    ASSERT_TRUE(a1);
    auto dev = c->device("dev-1");
    ASSERT_TRUE(dev);
    auto call = press(*dev, 1);
    ASSERT_TRUE(wait_for(*a1, offer_of(call)));
    // all_calls: version 1's call_changed for every open call (the board: console_board_test).
    cv::Login login;
    login.set_operator_id("sup-1");
    login.set_all_calls(true);
    auto sup = c->console_with(c->dispatcher(), login);
    ASSERT_TRUE(sup);
    // At login: every open call in the district.
    auto seen = wait_for(*sup, [&](const cv::ConsoleEvent& e) {
        return e.has_call_changed() && e.call_changed().call().id() == call;
    });
    ASSERT_TRUE(seen);
    EXPECT_EQ(seen->call_changed().call().state(), "offered");
    cv::ConsoleRequest accept;
    accept.mutable_accept()->set_call_id(call);
    ASSERT_TRUE(sup->send(accept));
    auto r =
        wait_for(*sup, [](const cv::ConsoleEvent& e) { return e.has_accepted() || e.has_error(); });
    ASSERT_TRUE(r && r->has_accepted()) << (r ? r->DebugString() : "timeout");
    auto w = wait_for(*a1, [](const cv::ConsoleEvent& e) { return e.has_withdrawn(); });
    ASSERT_TRUE(w);
    EXPECT_EQ(w->withdrawn().by_operator_id(), "sup-1");
}

TEST_F(CallHandling, OperatorWhoLetsOffersTimeOutIsSetAwayAndTheStationIsTold) {
    start({"--tier-timeout", "1", "--escalation-limit", "30", "--missed-offers", "2", "--max-tiers",
           "1"});
    auto a1 = c->console("op-a1");
    auto a2 = c->console("op-a2");
    ASSERT_TRUE(a1 && a2);
    ASSERT_TRUE(a2->send([] {
        cv::ConsoleRequest r;
        r.mutable_set_status()->set_status("away");
        return r;
    }()));
    auto dev = c->device("dev-1");
    ASSERT_TRUE(dev);
    auto call1 = press(*dev, 1);
    auto call2 = press(*dev, 2);
    ASSERT_FALSE(call1.empty() || call2.empty());
    // Both calls time out at st-a (max 1 station tier) and go to the command centre: op-a1
    // missed 2.
    auto away = wait_for(
        *a2,
        [](const cv::ConsoleEvent& e) {
            return e.has_status_changed() && e.status_changed().operator_id() == "op-a1" &&
                   e.status_changed().status() == "away";
        },
        6s);
    ASSERT_TRUE(away);
    EXPECT_NE(away->status_changed().reason().find("2 offers"), std::string::npos);
    EXPECT_EQ(hget("anx:opstate:op-a1", "status"), "away");
    // Away operators get no new offers.
    auto call3 = press(*dev, 3);
    EXPECT_FALSE(wait_for(*a1, offer_of(call3), 1500ms));
}

TEST_F(CallHandling, VanishedConsoleKeepsItsCallForTheGracePeriodThenItIsOfferedAgainWithItsNotes) {
    start({"--reconnect-grace", "1"});
    auto a2 = c->console("op-a2");
    ASSERT_TRUE(a2);
    auto dev = c->device("dev-1");
    ASSERT_TRUE(dev);
    std::string call;
    {
        auto a1 = c->console("op-a1");
        ASSERT_TRUE(a1);
        call = press(*dev, 1);
        ASSERT_TRUE(wait_for(*a1, offer_of(call)));
        ASSERT_TRUE(wait_for(*a2, offer_of(call)));  // ring-all: both had it
        cv::ConsoleRequest accept;
        accept.mutable_accept()->set_call_id(call);
        a1->send(accept);
        ASSERT_TRUE(wait_for(*a1, [](const cv::ConsoleEvent& e) { return e.has_accepted(); }));
        cv::ConsoleRequest note;
        note.mutable_add_note()->set_call_id(call);
        note.mutable_add_note()->set_text("Resident on the floor, conscious.");
        a1->send(note);
        ASSERT_TRUE(wait_for(*a1, [](const cv::ConsoleEvent& e) { return e.has_note_added(); }));
        ASSERT_TRUE(wait_for(*a2, [](const cv::ConsoleEvent& e) { return e.has_withdrawn(); }));
    }  // op-a1's console is gone without logging out
    auto again = wait_for(*a2, offer_of(call), 5s);
    ASSERT_TRUE(again) << "the call was stranded";
    ASSERT_EQ(again->offer().call().notes_size(), 1);
    EXPECT_EQ(again->offer().call().notes(0).text(), "Resident on the floor, conscious.");
    auto rec = c->http("GET", "/api/calls/" + call);
    EXPECT_NE(rec.body.find("\"event\":\"released\""), std::string::npos) << rec.body;
}

TEST_F(CallHandling, LoggingOutWithACallInHandGivesItBackAtOnce) {
    start({});  // default grace 60 s: logging out must not wait for it
    auto a1 = c->console("op-a1");
    auto a2 = c->console("op-a2");
    ASSERT_TRUE(a1 && a2);
    auto dev = c->device("dev-1");
    auto call = press(*dev, 1);
    ASSERT_TRUE(wait_for(*a1, offer_of(call)));
    cv::ConsoleRequest accept;
    accept.mutable_accept()->set_call_id(call);
    a1->send(accept);
    ASSERT_TRUE(wait_for(*a1, [](const cv::ConsoleEvent& e) { return e.has_accepted(); }));
    ASSERT_TRUE(wait_for(*a2, [](const cv::ConsoleEvent& e) { return e.has_withdrawn(); }));
    cv::ConsoleRequest logout;
    logout.mutable_logout();
    a1->send(logout);
    EXPECT_TRUE(wait_for(*a2, offer_of(call), 3s));
}

TEST_F(CallHandling, AnOperatorHoldsOneCallAtATime) {
    start({});
    auto a1 = c->console("op-a1");
    auto dev = c->device("dev-1");
    ASSERT_TRUE(a1 && dev);
    auto first = press(*dev, 1);
    auto second = press(*dev, 2);
    // Both offered, in either order (one may be routed as it is stored, the other by the router).
    std::set<std::string> offered;
    while (offered.size() < 2) {
        auto o = wait_for(*a1, [&](const cv::ConsoleEvent& e) {
            return e.has_offer() &&
                   (e.offer().call().id() == first || e.offer().call().id() == second);
        });
        ASSERT_TRUE(o) << "offered so far: " << offered.size();
        offered.insert(o->offer().call().id());
    }
    // Both clicked before the second offer is withdrawn: the second is refused.
    cv::ConsoleRequest accept1, accept2;
    accept1.mutable_accept()->set_call_id(first);
    accept2.mutable_accept()->set_call_id(second);
    a1->send(accept1);
    a1->send(accept2);
    ASSERT_TRUE(wait_for(*a1, [&](const cv::ConsoleEvent& e) {
        return e.has_accepted() && e.accepted().call().id() == first;
    }));
    auto err = wait_for(*a1, [](const cv::ConsoleEvent& e) { return e.has_error(); });
    ASSERT_TRUE(err);
    // "busy" if the second click is checked while the offer still stands; "not_offered" if the
    // router has already withdrawn the busy operator's other offers (both are refusals).
    EXPECT_TRUE(err->error().code() == "busy" || err->error().code() == "not_offered")
        << err->error().code();
    EXPECT_EQ(hget("anx:call:" + second, "state"), "offered");
}

TEST_F(CallHandling, TransferHandsTheCallToAnotherStation) {
    start({});
    auto a1 = c->console("op-a1");
    auto b1 = c->console("op-b1");
    ASSERT_TRUE(a1 && b1);
    auto dev = c->device("dev-1");
    auto call = press(*dev, 1);
    ASSERT_TRUE(wait_for(*a1, offer_of(call)));
    cv::ConsoleRequest accept;
    accept.mutable_accept()->set_call_id(call);
    a1->send(accept);
    ASSERT_TRUE(wait_for(*a1, [](const cv::ConsoleEvent& e) { return e.has_accepted(); }));
    cv::ConsoleRequest tr;
    tr.mutable_transfer()->set_call_id(call);
    tr.mutable_transfer()->set_station_id("st-b");
    tr.mutable_transfer()->set_note("Daughter lives next to Songzhuang station.");
    a1->send(tr);
    ASSERT_TRUE(wait_for(*a1, [](const cv::ConsoleEvent& e) { return e.has_transferred(); }));
    auto offer = wait_for(*b1, offer_of(call), 3s);
    ASSERT_TRUE(offer);
    EXPECT_EQ(offer->offer().call().tier_station_ids(0), "st-b");
    EXPECT_TRUE(wait_for(*dev, [](const dv::ServerMessage& m) {
        return m.has_call_update() && m.call_update().state() == dv::OFFERED &&
               m.call_update().station_name() == "Songzhuang station";
    }));
}

TEST_F(CallHandling, UnderABacklogTheEmergencyIsOfferedFirst) {
    start({"--strategy", "longest-idle"});
    auto d1 = c->device("dev-1");
    auto d3 = c->device("dev-3");
    ASSERT_TRUE(d1 && d3);
    // Nobody on duty yet: technical alarms pile up, then an SOS arrives last.
    ASSERT_FALSE(press(*d1, 1, dv::LOW_BATTERY).empty());
    ASSERT_FALSE(press(*d3, 1, dv::TAMPER).empty());
    ASSERT_FALSE(press(*d1, 2, dv::POWER_LOSS).empty());
    auto sos = press(*d3, 2, dv::SOS);
    ASSERT_FALSE(sos.empty());
    // One operator comes on duty: longest-idle gives them one call, and it is the SOS.
    auto a1 = c->console("op-a1");
    ASSERT_TRUE(a1);
    auto first = wait_for(
        *a1, [](const cv::ConsoleEvent& e) { return e.has_offer(); }, 3s);
    ASSERT_TRUE(first);
    EXPECT_EQ(first->offer().call().id(), sos);
    EXPECT_EQ(first->offer().call().priority(), 1);
    auto second = wait_for(
        *a1, [](const cv::ConsoleEvent& e) { return e.has_offer(); }, 1s);
    EXPECT_FALSE(second) << second->DebugString();
}

TEST_F(CallHandling, ResidentCardShowsTheRecordKeyHoldersDevicesAndRecentCalls) {
    start({});
    auto a1 = c->console("op-a1");
    auto dev = c->device("dev-1");
    ASSERT_TRUE(a1 && dev);
    auto first = press(*dev, 1, dv::FALL);
    ASSERT_TRUE(wait_for(*a1, offer_of(first)));
    auto second = press(*dev, 2);
    auto offer = wait_for(*a1, offer_of(second));
    ASSERT_TRUE(offer);
    const auto& r = offer->offer().resident();
    EXPECT_EQ(r.date_of_birth(), "1938-05-04");
    EXPECT_GE(r.age(), 87);
    EXPECT_EQ(r.health_conditions(), "heart failure");
    EXPECT_EQ(r.gp(), "Dr. Zhao, 010-60001234");
    ASSERT_EQ(r.key_holders_size(), 2);
    EXPECT_EQ(r.key_holders(0).relation(), "daughter");
    EXPECT_EQ(r.key_holders(1).phone(), "13900000002");
    ASSERT_EQ(r.devices_size(), 1);
    EXPECT_EQ(r.devices(0).battery_percent(), 80);
    EXPECT_TRUE(r.devices(0).online());
    ASSERT_EQ(r.recent_calls_size(), 1);
    EXPECT_EQ(r.recent_calls(0).id(), first);
    EXPECT_EQ(r.recent_calls(0).alarm_type(), "fall");
}

TEST_F(CallHandling, SilentDeviceRaisesExactlyOneOfflineCallWhileItsLinkFlaps) {
    // dev-3 heartbeats every 5 s; offline after 1 missed interval.
    start({"--missed-heartbeats", "1"});
    auto sup = c->console("sup-1");
    ASSERT_TRUE(sup);
    auto offline_calls = [&] {
        auto* r = static_cast<redisReply*>(
            redisCommand(c->redis().client(), "ZRANGE anx:calls:by_time 0 -1"));
        int n = 0;
        std::string last;
        for (std::size_t i = 0; r && i < r->elements; ++i) {
            std::string id(r->element[i]->str, r->element[i]->len);
            if (hget("anx:call:" + id, "type") == "device_offline") {
                ++n;
                last = id;
            }
        }
        if (r) freeReplyObject(r);
        return std::make_pair(n, last);
    };
    {
        auto dev = c->device("dev-3");
        ASSERT_TRUE(dev);
    }  // heard once, then silence
    std::this_thread::sleep_for(6500ms);
    auto [n1, call] = offline_calls();
    ASSERT_EQ(n1, 1) << "no offline call after a missed interval";
    EXPECT_EQ(hget("anx:call:" + call, "priority"), "3");
    EXPECT_TRUE(wait_for(*sup, offer_of(call), 2s));  // nobody at a station: command centre
    // The link bounces: short connections, silence in between, several times.
    for (int i = 0; i < 3; ++i) {
        {
            auto dev = c->device("dev-3");
            ASSERT_TRUE(dev);
        }
        std::this_thread::sleep_for(6s);
    }
    EXPECT_EQ(offline_calls().first, 1) << "a bounce raised another call";
    EXPECT_NE(hget("anx:call:" + call, "state"), "closed");
    // Back for good: heartbeating for two intervals resolves the episode's call.
    auto dev = c->device("dev-3");
    ASSERT_TRUE(dev);
    for (int i = 0; i < 24 && hget("anx:call:" + call, "state") != "closed"; ++i) {
        dv::DeviceMessage hb;
        hb.mutable_heartbeat()->set_battery_percent(90);
        hb.mutable_heartbeat()->set_has_battery(true);
        dev->send(hb);
        dev->receive(500ms);
        std::this_thread::sleep_for(500ms);
    }
    EXPECT_EQ(hget("anx:call:" + call, "state"), "closed");
    EXPECT_EQ(hget("anx:call:" + call, "outcome"), "technical");
    EXPECT_EQ(offline_calls().first, 1);
}

TEST_F(CallHandling, LowBatteryRaisesOneCallPerEpisode) {
    start({});
    auto dev = c->device("dev-2");
    ASSERT_TRUE(dev);
    auto hb = [&](int battery) {
        dv::DeviceMessage m;
        m.mutable_heartbeat()->set_battery_percent(static_cast<std::uint32_t>(battery));
        m.mutable_heartbeat()->set_has_battery(true);
        dev->send(m);
        wait_for(*dev, [](const dv::ServerMessage& x) { return x.has_heartbeat_ack(); });
        std::this_thread::sleep_for(150ms);
    };
    auto low_calls = [&] {
        auto* r = static_cast<redisReply*>(
            redisCommand(c->redis().client(), "ZRANGE anx:calls:by_time 0 -1"));
        int n = 0;
        for (std::size_t i = 0; r && i < r->elements; ++i) {
            if (hget("anx:call:" + std::string(r->element[i]->str), "type") == "low_battery") ++n;
        }
        if (r) freeReplyObject(r);
        return n;
    };
    for (int b : {50, 19, 18, 15, 22, 12}) hb(b);  // one episode (22 is not recovery: below 30)
    EXPECT_EQ(low_calls(), 1);
    hb(35);  // battery changed: episode over
    hb(10);  // a new episode
    EXPECT_EQ(low_calls(), 2);
}

TEST_F(CallHandling, CancelClosesAWaitingTechnicalAlarmButNotAnEmergency) {
    start({});
    auto a1 = c->console("op-a1");
    auto dev = c->device("dev-1");
    ASSERT_TRUE(a1 && dev);
    auto tech = press(*dev, 1, dv::TAMPER);
    ASSERT_TRUE(wait_for(*a1, offer_of(tech)));
    dv::DeviceMessage cancel;
    cancel.mutable_cancel()->set_sequence(2);
    cancel.mutable_cancel()->set_call_id(tech);
    dev->send(cancel);
    ASSERT_TRUE(wait_for(*dev, [](const dv::ServerMessage& m) { return m.has_cancel_ack(); }));
    EXPECT_TRUE(wait_for(*a1, [&](const cv::ConsoleEvent& e) {
        return e.has_withdrawn() && e.withdrawn().call_id() == tech;
    }));
    EXPECT_EQ(hget("anx:call:" + tech, "state"), "closed");
    EXPECT_EQ(hget("anx:call:" + tech, "outcome"), "false_alarm");

    auto sos = press(*dev, 3, dv::SOS);
    ASSERT_TRUE(wait_for(*a1, offer_of(sos)));
    cancel.mutable_cancel()->set_sequence(4);
    cancel.mutable_cancel()->set_call_id(sos);
    dev->send(cancel);
    ASSERT_TRUE(wait_for(*dev, [](const dv::ServerMessage& m) { return m.has_cancel_ack(); }));
    EXPECT_TRUE(wait_for(*a1, [&](const cv::ConsoleEvent& e) {
        return e.has_cancelled() && e.cancelled().call_id() == sos;
    }));
    EXPECT_EQ(hget("anx:call:" + sos, "state"), "offered");  // a person still phones back
}

TEST_F(CallHandling, ReportCountsCallsAndTheShareAnsweredInTime) {
    start({"--wrap-up", "0"});
    auto a1 = c->console("op-a1");
    auto dev = c->device("dev-1");
    ASSERT_TRUE(a1 && dev);
    for (std::uint32_t seq = 1; seq <= 2; ++seq) {
        auto call = press(*dev, seq, seq == 1 ? dv::SOS : dv::FALL);
        ASSERT_TRUE(wait_for(*a1, offer_of(call)));
        cv::ConsoleRequest accept;
        accept.mutable_accept()->set_call_id(call);
        a1->send(accept);
        ASSERT_TRUE(wait_for(*a1, [](const cv::ConsoleEvent& e) { return e.has_accepted(); }));
        cv::ConsoleRequest close;
        close.mutable_close()->set_call_id(call);
        close.mutable_close()->set_outcome(seq == 1 ? "resolved_by_phone" : "staff_visited");
        a1->send(close);
        ASSERT_TRUE(wait_for(*a1, [](const cv::ConsoleEvent& e) { return e.has_closed(); }));
    }
    ASSERT_FALSE(press(*dev, 3, dv::LOW_BATTERY).empty());  // left unanswered
    auto json = c->http("GET", "/api/reports");
    ASSERT_EQ(json.status, 200) << json.body;
    EXPECT_NE(json.body.find("\"calls\":3"), std::string::npos) << json.body;
    EXPECT_NE(json.body.find("\"answered\":2"), std::string::npos) << json.body;
    EXPECT_NE(json.body.find("\"answered_within_60s\":2"), std::string::npos) << json.body;
    EXPECT_NE(json.body.find("{\"key\":\"resolved_by_phone\",\"calls\":1}"), std::string::npos)
        << json.body;
    EXPECT_NE(json.body.find("{\"operator_id\":\"op-a1\",\"accepted\":2,\"closed\":2}"),
              std::string::npos)
        << json.body;
    auto csv = c->http("GET", "/api/reports?format=csv&from=2020-01-01");
    ASSERT_EQ(csv.status, 200);
    EXPECT_EQ(csv.body.rfind("section,key,value\n", 0), 0u);
    EXPECT_NE(csv.body.find("total,answered,2\n"), std::string::npos) << csv.body;
    EXPECT_NE(csv.body.find("type,low_battery,1\n"), std::string::npos) << csv.body;
    EXPECT_EQ(c->http("GET", "/api/reports?from=tomorrow").status, 400);
}

}  // namespace
