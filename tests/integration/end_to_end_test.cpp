// The whole path on real parts: a device presses, the alarm is acked once durable, the nearest
// station with an operator online is offered the call, an operator takes it, the device is told,
// the operator closes it.

#include "test_cluster.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <iostream>
#include <thread>

using namespace std::chrono_literals;
namespace dv = anxin::device::v1;
namespace cv = anxin::console::v1;
using anxin::test::cluster;
using anxin::test::make_alarm;
using anxin::test::offer_of;
using anxin::test::wait_for;

namespace {

class EndToEnd : public anxin::test::cluster_test {
  protected:
    void SetUp() override { start_cluster(); }
};

bool is_ack(const dv::ServerMessage& m) {
    return m.has_alarm_ack();
}
auto update_is(dv::CallState s) {
    return [s](const dv::ServerMessage& m) {
        return m.has_call_update() && m.call_update().state() == s;
    };
}
bool is_offer(const cv::ConsoleEvent& e) {
    return e.has_offer();
}

TEST_F(EndToEnd, PressIsAckedOfferedAcceptedToldAndClosed) {
    auto a1 = c->console("op-a1");
    auto a2 = c->console("op-a2");
    auto b1 = c->console("op-b1");
    ASSERT_TRUE(a1 && a2 && b1);
    auto dev = c->device("dev-1");
    ASSERT_TRUE(dev);

    ASSERT_TRUE(dev->send(make_alarm(1)));
    auto ack = wait_for(*dev, is_ack);
    ASSERT_TRUE(ack);
    const std::string call_id = ack->alarm_ack().call_id();
    EXPECT_EQ(ack->alarm_ack().sequence(), 1u);
    EXPECT_FALSE(ack->alarm_ack().duplicate());
    EXPECT_FALSE(call_id.empty());
    // Acked means stored: the call record exists in Redis at this moment.
    EXPECT_EQ(c->redis().integer_command("EXISTS anx:call:" + call_id), 1);

    // Both operators of the nearest station get the offer with the resident's card.
    for (auto* op : {a1.get(), a2.get()}) {
        auto offer = wait_for(*op, is_offer);
        ASSERT_TRUE(offer);
        EXPECT_EQ(offer->offer().call().id(), call_id);
        EXPECT_EQ(offer->offer().call().alarm_type(), "sos");
        EXPECT_EQ(offer->offer().call().station_id(), "st-a");
        EXPECT_EQ(offer->offer().resident().name(), "Wang Guilan");
        EXPECT_EQ(offer->offer().resident().phone(), "138000001");
        EXPECT_FALSE(offer->offer().resident().address().empty());
        EXPECT_GT(offer->offer().call().distance_km(), 0.05);
        EXPECT_LT(offer->offer().call().distance_km(), 0.3);
    }
    auto offered = wait_for(*dev, update_is(dv::OFFERED));
    ASSERT_TRUE(offered);
    EXPECT_EQ(offered->call_update().station_name(), "Zhongcang station");
    // The far station is not offered the call.
    EXPECT_FALSE(wait_for(*b1, is_offer, 500ms));

    cv::ConsoleRequest accept;
    accept.set_req("r1");
    accept.mutable_accept()->set_call_id(call_id);
    ASSERT_TRUE(a1->send(accept));
    auto accepted =
        wait_for(*a1, [](const cv::ConsoleEvent& e) { return e.has_accepted() || e.has_error(); });
    ASSERT_TRUE(accepted);
    ASSERT_TRUE(accepted->has_accepted()) << accepted->DebugString();
    EXPECT_EQ(accepted->req(), "r1");
    EXPECT_EQ(accepted->accepted().call().state(), "accepted");
    EXPECT_EQ(accepted->accepted().call().operator_id(), "op-a1");

    auto withdrawn = wait_for(*a2, [](const cv::ConsoleEvent& e) { return e.has_withdrawn(); });
    ASSERT_TRUE(withdrawn);
    EXPECT_EQ(withdrawn->withdrawn().call_id(), call_id);
    EXPECT_EQ(withdrawn->withdrawn().reason(), "taken");
    EXPECT_EQ(withdrawn->withdrawn().by_operator_id(), "op-a1");

    auto assigned = wait_for(*dev, update_is(dv::OPERATOR_ASSIGNED));
    ASSERT_TRUE(assigned);
    EXPECT_EQ(assigned->call_update().call_id(), call_id);

    // The loser of the race, or anyone late, cannot take it any more.
    cv::ConsoleRequest late;
    late.mutable_accept()->set_call_id(call_id);
    ASSERT_TRUE(a2->send(late));
    auto err = wait_for(*a2, [](const cv::ConsoleEvent& e) { return e.has_error(); });
    ASSERT_TRUE(err);
    EXPECT_EQ(err->error().code(), "already_taken");

    cv::ConsoleRequest close;
    close.set_req("r2");
    close.mutable_close()->set_call_id(call_id);
    close.mutable_close()->set_outcome("resolved_by_phone");
    close.mutable_close()->set_note("Resident felt dizzy; daughter on her way.");
    ASSERT_TRUE(a1->send(close));
    auto closed =
        wait_for(*a1, [](const cv::ConsoleEvent& e) { return e.has_closed() || e.has_error(); });
    ASSERT_TRUE(closed);
    ASSERT_TRUE(closed->has_closed()) << closed->DebugString();

    auto dev_closed = wait_for(*dev, update_is(dv::CLOSED));
    ASSERT_TRUE(dev_closed);
    EXPECT_EQ(dev_closed->call_update().outcome(), "resolved_by_phone");

    // The record and its audit trail, through the admin API.
    auto rec = c->http("GET", "/api/calls/" + call_id);
    ASSERT_EQ(rec.status, 200) << rec.body;
    EXPECT_NE(rec.body.find("\"state\":\"closed\""), std::string::npos) << rec.body;
    EXPECT_NE(rec.body.find("daughter on her way"), std::string::npos) << rec.body;
    for (const char* ev : {"\"event\":\"received\"", "\"event\":\"offered\"",
                           "\"event\":\"accepted\"", "\"event\":\"closed\""}) {
        EXPECT_NE(rec.body.find(ev), std::string::npos) << ev << " missing in " << rec.body;
    }
    EXPECT_EQ(c->redis().integer_command("ZCARD anx:calls:open"), 0);
}

// With who is on duty cached, the first step is stored by the same script as the call (no trip
// through the router's queue): the record, offers, timer and audit trail must be exactly what the
// router would have written, and the offer exactly what a console reads back from Redis.
TEST_F(EndToEnd, FirstStepStoredWithTheCallIsTheSameAsTheRoutersOwn) {
    auto a1 = c->console("op-a1");
    ASSERT_TRUE(a1);
    auto dev = c->device("dev-1");
    ASSERT_TRUE(dev);
    std::this_thread::sleep_for(1200ms);  // the router's passes have refreshed its view meanwhile
    ASSERT_TRUE(dev->send(make_alarm(1)));
    auto ack = wait_for(*dev, is_ack);
    ASSERT_TRUE(ack);
    const std::string id = ack->alarm_ack().call_id();
    auto offer = wait_for(*a1, is_offer);
    ASSERT_TRUE(offer);
    ASSERT_TRUE(wait_for(*dev, update_is(dv::OFFERED)));
    auto m = c->http("GET", "/metrics");
    EXPECT_NE(m.body.find("anxin_calls_routed_at_store_total 1\n"), std::string::npos) << m.body;

    auto& r = c->redis();
    const std::string key = "anx:call:" + id;
    EXPECT_EQ(r.hget(key, "state"), "offered");
    EXPECT_EQ(r.hget(key, "tiers"), "st-a");
    EXPECT_EQ(r.hget(key, "station"), "st-a");
    EXPECT_EQ(r.hget(key, "station_name"), "Zhongcang station");
    EXPECT_EQ(r.hget(key, "cc"), "0");
    EXPECT_EQ(r.hget(key, "routed_ms"), r.hget(key, "received_ms"));
    EXPECT_EQ(r.hget(key, "offered_ms"), r.hget(key, "received_ms"));
    const auto received = std::stoll(r.hget(key, "received_ms"));
    const auto due = std::stoll(r.hget(key, "next_esc_ms"));
    EXPECT_GT(due, received);
    const auto d = std::to_string(due);
    EXPECT_EQ(r.integer_command("ZCOUNT anx:timers " + d + " " + d), 1);  // its timer
    EXPECT_EQ(r.integer_command("SISMEMBER " + key + ":offers op-a1"), 1);
    EXPECT_EQ(r.integer_command("SISMEMBER anx:op:op-a1:offers " + id), 1);
    EXPECT_EQ(r.integer_command("XLEN anx:alarms:1"), 0);  // not queued for the router
    EXPECT_EQ(r.hget("anx:stats:calls_by_state", "offered"), "1");
    EXPECT_TRUE(r.hget("anx:stats:calls_by_state", "received").empty() ||
                r.hget("anx:stats:calls_by_state", "received") == "0");
    auto rec = c->http("GET", "/api/calls/" + id);
    ASSERT_EQ(rec.status, 200);
    const auto received_at = rec.body.find("\"event\":\"received\"");
    const auto offered_at = rec.body.find("\"event\":\"offered\"");
    EXPECT_NE(received_at, std::string::npos) << rec.body;
    EXPECT_NE(offered_at, std::string::npos) << rec.body;
    EXPECT_LT(received_at, offered_at) << rec.body;

    // A colleague logging in now is offered the call by the router's pass, read from Redis.
    auto a2 = c->console("op-a2");
    ASSERT_TRUE(a2);
    auto later = wait_for(*a2, is_offer);
    ASSERT_TRUE(later);
    EXPECT_EQ(later->offer().call().DebugString(), offer->offer().call().DebugString());
    EXPECT_EQ(later->offer().resident().name(), offer->offer().resident().name());
}

TEST_F(EndToEnd, CallGoesToNearestStationThatHasSomeoneOnline) {
    auto b1 = c->console("op-b1");  // only the far station is staffed
    ASSERT_TRUE(b1);
    auto dev = c->device("dev-1");
    ASSERT_TRUE(dev);
    ASSERT_TRUE(dev->send(make_alarm(7)));
    ASSERT_TRUE(wait_for(*dev, is_ack));
    auto offer = wait_for(*b1, is_offer);
    ASSERT_TRUE(offer);
    EXPECT_EQ(offer->offer().call().station_id(), "st-b");
    EXPECT_GT(offer->offer().call().distance_km(), 5.0);
}

TEST_F(EndToEnd, CallWaitsUntilAnOperatorLogsIn) {
    auto dev = c->device("dev-3");
    ASSERT_TRUE(dev);
    ASSERT_TRUE(dev->send(make_alarm(1, dv::FALL)));
    auto ack = wait_for(*dev, is_ack);
    ASSERT_TRUE(ack);
    // Nobody at any station: the district command centre has it at once.
    std::this_thread::sleep_for(300ms);
    auto* r = static_cast<redisReply*>(redisCommand(c->redis().client(), "HGET anx:call:%s cc",
                                                    ack->alarm_ack().call_id().c_str()));
    ASSERT_TRUE(r && r->type == REDIS_REPLY_STRING);
    EXPECT_EQ(std::string(r->str), "1");
    freeReplyObject(r);

    auto a1 = c->console("op-a1");
    ASSERT_TRUE(a1);
    auto offer = wait_for(*a1, is_offer, 5s);
    ASSERT_TRUE(offer);
    EXPECT_EQ(offer->offer().call().id(), ack->alarm_ack().call_id());
    EXPECT_EQ(offer->offer().call().alarm_type(), "fall");
    EXPECT_TRUE(wait_for(*dev, update_is(dv::OFFERED)));
}

TEST_F(EndToEnd, OperatorLoggingInLaterJoinsTheStationsOffers) {
    auto a1 = c->console("op-a1");
    ASSERT_TRUE(a1);
    auto dev = c->device("dev-1");
    ASSERT_TRUE(dev && dev->send(make_alarm(3)));
    auto ack = wait_for(*dev, is_ack);
    ASSERT_TRUE(ack);
    ASSERT_TRUE(wait_for(*a1, is_offer));
    auto a2 = c->console("op-a2");
    ASSERT_TRUE(a2);
    auto offer = wait_for(*a2, is_offer);
    ASSERT_TRUE(offer);
    cv::ConsoleRequest accept;
    accept.mutable_accept()->set_call_id(ack->alarm_ack().call_id());
    a2->send(accept);
    auto accepted =
        wait_for(*a2, [](const cv::ConsoleEvent& e) { return e.has_accepted() || e.has_error(); });
    ASSERT_TRUE(accepted && accepted->has_accepted());
    EXPECT_TRUE(wait_for(*a1, [](const cv::ConsoleEvent& e) { return e.has_withdrawn(); }));
}

TEST_F(EndToEnd, DuplicateAlarmMakesOneCallEvenWhenCopiesArriveTogether) {
    auto dev = c->device("dev-1");
    ASSERT_TRUE(dev);
    // Three copies of the same alarm in one TCP write: the server stores them concurrently.
    std::string bytes;
    for (int i = 0; i < 3; ++i) anxin::protocol::append_frame(bytes, make_alarm(42));
    ASSERT_TRUE(dev->send_raw(bytes));
    std::vector<dv::AlarmAck> acks;
    for (int i = 0; i < 3; ++i) {
        auto a = wait_for(*dev, is_ack);
        ASSERT_TRUE(a);
        acks.push_back(a->alarm_ack());
    }
    int fresh = 0;
    for (const auto& a : acks) {
        EXPECT_EQ(a.call_id(), acks[0].call_id());
        EXPECT_EQ(a.sequence(), 42u);
        fresh += a.duplicate() ? 0 : 1;
    }
    EXPECT_EQ(fresh, 1);
    // A re-send after reconnecting gets the same call too.
    dev.reset();
    auto again = c->device("dev-1");
    ASSERT_TRUE(again && again->send(make_alarm(42)));
    auto a = wait_for(*again, is_ack);
    ASSERT_TRUE(a);
    EXPECT_EQ(a->alarm_ack().call_id(), acks[0].call_id());
    EXPECT_TRUE(a->alarm_ack().duplicate());
    // ...followed by where that call stands now (nobody is online: still received).
    auto state = wait_for(*again, [&](const dv::ServerMessage& m) {
        return m.has_call_update() && m.call_update().call_id() == acks[0].call_id();
    });
    ASSERT_TRUE(state);
    EXPECT_EQ(state->call_update().state(), dv::RECEIVED);
    EXPECT_EQ(c->redis().integer_command("ZCARD anx:calls:open"), 1);
    EXPECT_EQ(c->redis().get("anx:call:next"), "1");
    // A new sequence is a new call.
    ASSERT_TRUE(again->send(make_alarm(43)));
    auto b = wait_for(*again, is_ack);
    ASSERT_TRUE(b);
    EXPECT_NE(b->alarm_ack().call_id(), acks[0].call_id());
    EXPECT_FALSE(b->alarm_ack().duplicate());
}

TEST_F(EndToEnd, ResidentCancelIsRecordedAndTheOperatorTold) {
    auto a1 = c->console("op-a1");
    ASSERT_TRUE(a1);
    auto dev = c->device("dev-1");
    ASSERT_TRUE(dev && dev->send(make_alarm(10)));
    auto ack = wait_for(*dev, is_ack);
    ASSERT_TRUE(ack);
    ASSERT_TRUE(wait_for(*a1, is_offer));
    dv::DeviceMessage cancel;
    cancel.mutable_cancel()->set_sequence(11);  // empty call id: the newest open call
    ASSERT_TRUE(dev->send(cancel));
    auto cack = wait_for(*dev, [](const dv::ServerMessage& m) { return m.has_cancel_ack(); });
    ASSERT_TRUE(cack);
    EXPECT_TRUE(cack->cancel_ack().found());
    EXPECT_EQ(cack->cancel_ack().call_id(), ack->alarm_ack().call_id());
    auto told = wait_for(*a1, [](const cv::ConsoleEvent& e) { return e.has_cancelled(); });
    ASSERT_TRUE(told);
    EXPECT_EQ(told->cancelled().call_id(), ack->alarm_ack().call_id());
    // Still open: an operator phones back and closes it.
    EXPECT_EQ(c->redis().integer_command("ZCARD anx:calls:open"), 1);
    auto rec = c->http("GET", "/api/calls/" + ack->alarm_ack().call_id());
    EXPECT_NE(rec.body.find("\"event\":\"cancelled\""), std::string::npos) << rec.body;
}

TEST(EndToEndRestart, RestartedDispatcherWithEmbeddedRedisStillHasOpenCalls) {
    cluster c(cluster::redis_mode::embedded);
    ASSERT_TRUE(c.start()) << c.dispatcher().log_tail();
    ASSERT_TRUE(c.provision());
    std::string call_id;
    {
        auto a1 = c.console("op-a1");
        auto dev = c.device("dev-1");
        ASSERT_TRUE(a1 && dev);
        ASSERT_TRUE(dev->send(make_alarm(5)));
        auto ack = wait_for(*dev, is_ack);
        ASSERT_TRUE(ack);
        call_id = ack->alarm_ack().call_id();
        ASSERT_TRUE(wait_for(*a1, is_offer));
    }
    // A crash, not a clean stop: the embedded redis-server dies with the dispatcher
    // (PR_SET_PDEATHSIG) and must bring the call back from its AOF.
    c.dispatcher().kill9();
    std::this_thread::sleep_for(300ms);
    ASSERT_TRUE(c.dispatcher().start()) << c.dispatcher().log_tail();

    auto dev = c.device("dev-1");
    ASSERT_TRUE(dev);
    // After the handshake the device is told where its open call stands.
    auto update = wait_for(*dev, [&](const dv::ServerMessage& m) {
        return m.has_call_update() && m.call_update().call_id() == call_id;
    });
    ASSERT_TRUE(update) << c.dispatcher().log_tail();
    EXPECT_EQ(update->call_update().state(), dv::OFFERED);

    auto a1 = c.console("op-a1");
    ASSERT_TRUE(a1);
    auto offer = wait_for(*a1, is_offer);
    ASSERT_TRUE(offer);
    EXPECT_EQ(offer->offer().call().id(), call_id);
    cv::ConsoleRequest accept;
    accept.mutable_accept()->set_call_id(call_id);
    a1->send(accept);
    EXPECT_TRUE(wait_for(*dev, update_is(dv::OPERATOR_ASSIGNED)));
    // The re-sent alarm still maps to the original call.
    ASSERT_TRUE(dev->send(make_alarm(5)));
    auto ack = wait_for(*dev, is_ack);
    ASSERT_TRUE(ack);
    EXPECT_EQ(ack->alarm_ack().call_id(), call_id);
    EXPECT_TRUE(ack->alarm_ack().duplicate());
}

TEST(EndToEndTcp, RedisOverTcpWorksTheSame) {
    cluster c(cluster::redis_mode::tcp);
    ASSERT_TRUE(c.start()) << c.dispatcher().log_tail();
    ASSERT_TRUE(c.provision());
    auto a1 = c.console("op-a1");
    auto dev = c.device("dev-1");
    ASSERT_TRUE(a1 && dev);
    ASSERT_TRUE(dev->send(make_alarm(1)));
    auto ack = wait_for(*dev, is_ack);
    ASSERT_TRUE(ack);
    auto offer = wait_for(*a1, is_offer);
    ASSERT_TRUE(offer);
    EXPECT_EQ(offer->offer().call().id(), ack->alarm_ack().call_id());
}

TEST_F(EndToEnd, DeviceWrittenFromTheProtocolDocumentInPythonGetsHelp) {
    const std::string script =
        std::string(ANXIN_SOURCE_DIR) + "/tests/integration/python_device.py";
    ASSERT_TRUE(std::filesystem::exists(script));
    auto a1 = c->console("op-a1");
    ASSERT_TRUE(a1);
    // Over TLS, trusting the CA the dispatcher generated (Python's ssl module, the document).
    std::string cmd = "python3 " + script + " --host 127.0.0.1 --port " +
                      std::to_string(c->dispatcher().device_port()) + " --tls --ca-file " +
                      c->dispatcher().ca_file().string() + " --device-id dev-1 --secret " +
                      anxin::test::secret_of("dev-1") +
                      " --sequence 900 --expect-assigned --timeout 30";
    FILE* p = popen(cmd.c_str(), "r");
    ASSERT_TRUE(p);
    // Play the operator while the Python device waits for "help is coming".
    auto offer = wait_for(*a1, is_offer, 15s);
    ASSERT_TRUE(offer);
    cv::ConsoleRequest accept;
    accept.mutable_accept()->set_call_id(offer->offer().call().id());
    a1->send(accept);
    ASSERT_TRUE(wait_for(*a1, [](const cv::ConsoleEvent& e) { return e.has_accepted(); }));
    std::string out;
    char buf[512];
    while (fgets(buf, sizeof buf, p)) out += buf;
    int rc = pclose(p);
    EXPECT_EQ(rc, 0) << out;
    EXPECT_NE(out.find("\"result\":\"assigned\""), std::string::npos) << out;
    EXPECT_NE(out.find(offer->offer().call().id()), std::string::npos) << out;

    std::string bad = "python3 " + script + " --host 127.0.0.1 --port " +
                      std::to_string(c->dispatcher().plain_device_port()) +
                      " --device-id dev-1 --secret " + anxin::test::secret_of("dev-1") +
                      " --sequence 901 --wrong-secret";
    p = popen(bad.c_str(), "r");
    ASSERT_TRUE(p);
    out.clear();
    while (fgets(buf, sizeof buf, p)) out += buf;
    rc = pclose(p);
    EXPECT_EQ(WEXITSTATUS(rc), 3) << out;
    EXPECT_NE(out.find("rejected"), std::string::npos) << out;
}

}  // namespace

namespace {

// python_device.py's JSON result line, run to its first ack.
std::string run_python_device(const std::string& args) {
    const std::string cmd = "python3 " + std::string(ANXIN_SOURCE_DIR) +
                            "/tests/integration/python_device.py --secret " +
                            anxin::test::secret_of("dev-1") + " --device-id dev-1 " + args;
    FILE* p = popen(cmd.c_str(), "r");
    if (!p) return {};
    std::string out;
    char buf[512];
    while (fgets(buf, sizeof buf, p)) out += buf;
    pclose(p);
    return out;
}

std::string json_text(const std::string& json, const std::string& key) {
    auto at = json.find("\"" + key + "\": \"");
    if (at == std::string::npos) at = json.find("\"" + key + "\":\"");
    if (at == std::string::npos) return {};
    auto start = json.find('"', json.find(':', at) + 1) + 1;
    return json.substr(start, json.find('"', start) - start);
}

}  // namespace

// The same Python device, built from the document, loses its counter without a clock: with a new
// sequence_epoch its next press (the old sequence again) is a new call; a re-send within one
// epoch is still one call.
TEST_F(EndToEnd, PythonDeviceThatLostItsCounterGetsANewCall) {
    auto a1 = c->console("op-a1");
    ASSERT_TRUE(a1);
    const std::string where = "--host 127.0.0.1 --port " +
                              std::to_string(c->dispatcher().plain_device_port()) +
                              " --sequence 1 --no-clock --timeout 20 ";
    auto first = run_python_device(where + "--sequence-epoch 0x1122334455667788");
    const auto first_call = json_text(first, "call_id");
    ASSERT_FALSE(first_call.empty()) << first;
    auto resend = run_python_device(where + "--sequence-epoch 0x1122334455667788");
    EXPECT_EQ(json_text(resend, "call_id"), first_call) << resend;
    EXPECT_NE(resend.find("\"duplicate\""), std::string::npos) << resend;
    auto after_reset = run_python_device(where + "--sequence-epoch 0x0badc0ffee123457");
    const auto new_call = json_text(after_reset, "call_id");
    ASSERT_FALSE(new_call.empty()) << after_reset;
    EXPECT_NE(new_call, first_call);
    EXPECT_EQ(after_reset.find("\"duplicate\""), std::string::npos) << after_reset;
    EXPECT_TRUE(wait_for(*a1, offer_of(new_call), 5s));
}
