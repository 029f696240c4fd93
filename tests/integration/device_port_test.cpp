// The device port under bad input and failures: unknown devices, wrong secrets, garbage,
// oversized frames, and Redis going away. Each misbehaving peer gets a clear answer and is cut
// off; everyone else is served as before.

#include "test_cluster.hpp"

#include "anxin/protocol/framing.hpp"

#include <gtest/gtest.h>

#include <iostream>

using namespace std::chrono_literals;
namespace dv = anxin::device::v1;
using anxin::test::cluster;
using anxin::test::make_alarm;
using anxin::test::wait_for;

namespace {

class DevicePort : public anxin::test::cluster_test {
  protected:
    void SetUp() override { start_cluster(); }
    // A connection that has received its Challenge and nothing else.
    std::unique_ptr<anxin::sim::device_link> raw() {
        auto link = c->dispatcher().open_device_link(c->io);
        if (!link) return nullptr;
        auto ch = link->receive(5s);
        if (!ch || !ch->has_challenge() || ch->challenge().nonce().size() != 32) return nullptr;
        return link;
    }
    // Waits until the server has closed the link.
    static bool closed_within(anxin::sim::device_link& link, std::chrono::milliseconds t) {
        auto until = std::chrono::steady_clock::now() + t;
        while (!link.closed() && std::chrono::steady_clock::now() < until) link.receive(50ms);
        return link.closed();
    }
};

TEST_F(DevicePort, UnknownDeviceIsRejectedLikeAWrongSecret) {
    auto link = c->dispatcher().open_device_link(c->io);
    ASSERT_TRUE(link);
    auto r = link->handshake("dev-nobody", "whatever-secret-0000", 5s);
    ASSERT_TRUE(r);
    ASSERT_TRUE(r->has_rejected()) << r->DebugString();
    // A scanner cannot tell an unknown id from a known one with the wrong secret.
    EXPECT_EQ(r->rejected().reason(), dv::BAD_HMAC);
    EXPECT_EQ(r->rejected().detail(), "authentication failed");
    EXPECT_TRUE(closed_within(*link, 2s));
    auto m = c->http("GET", "/metrics");
    EXPECT_NE(m.body.find("anxin_device_auth_unknown_ids_total 1"), std::string::npos) << m.body;
}

TEST_F(DevicePort, WrongHmacIsRejected) {
    auto link = c->dispatcher().open_device_link(c->io);
    ASSERT_TRUE(link);
    auto r = link->handshake("dev-1", "not-the-right-secret", 5s);
    ASSERT_TRUE(r);
    ASSERT_TRUE(r->has_rejected());
    EXPECT_EQ(r->rejected().reason(), dv::BAD_HMAC);
    EXPECT_EQ(r->rejected().detail(), "authentication failed");
    EXPECT_TRUE(closed_within(*link, 2s));
    // Rejected devices never reach the store.
    EXPECT_EQ(c->redis().get("anx:call:next"), "");
}

TEST_F(DevicePort, AnythingBeforeHelloIsRefused) {
    auto link = raw();
    ASSERT_TRUE(link);
    ASSERT_TRUE(link->send(make_alarm(1)));
    auto e = link->receive(3s);
    ASSERT_TRUE(e && e->has_error());
    EXPECT_EQ(e->error().code(), dv::UNEXPECTED_MESSAGE);
    EXPECT_TRUE(closed_within(*link, 2s));
    EXPECT_EQ(c->redis().get("anx:call:next"), "");
}

TEST_F(DevicePort, GarbageOnOtherConnectionsDoesNotDisturbAConnectedDevice) {
    auto good = c->device("dev-1");
    ASSERT_TRUE(good);

    // 1. A length prefix that never ends.
    auto bad_varint = raw();
    ASSERT_TRUE(bad_varint);
    bad_varint->send_raw(std::string(8, '\xff'));
    auto e1 = bad_varint->receive(3s);
    ASSERT_TRUE(e1 && e1->has_error());
    EXPECT_EQ(e1->error().code(), dv::BAD_FRAME);
    EXPECT_TRUE(closed_within(*bad_varint, 2s));

    // 2. A frame declaring 1 MiB: refused before the body is read.
    auto big = raw();
    ASSERT_TRUE(big);
    big->send_raw(std::string("\x80\x80\x40", 3));
    auto e2 = big->receive(3s);
    ASSERT_TRUE(e2 && e2->has_error());
    EXPECT_EQ(e2->error().code(), dv::FRAME_TOO_LARGE);
    EXPECT_TRUE(closed_within(*big, 2s));

    // 3. A well-framed body that is not a DeviceMessage.
    auto junk = raw();
    ASSERT_TRUE(junk);
    junk->send_raw(std::string("\x05\xff\xff\xff\xff\xff", 6));
    auto e3 = junk->receive(3s);
    ASSERT_TRUE(e3 && e3->has_error());
    EXPECT_EQ(e3->error().code(), dv::BAD_MESSAGE);
    EXPECT_TRUE(closed_within(*junk, 2s));

    // 4. Random bytes.
    auto noise = raw();
    ASSERT_TRUE(noise);
    std::string bytes;
    for (int i = 0; i < 3000; ++i) bytes.push_back(static_cast<char>((i * 7919 + 13) & 0xFF));
    noise->send_raw(bytes);
    EXPECT_TRUE(closed_within(*noise, 3s));

    // 5. A peer that connects and says nothing is still pending (handshake timeout is 10 s);
    //    meanwhile the good device is served as if nothing happened.
    auto silent = raw();
    ASSERT_TRUE(silent);
    ASSERT_TRUE(good->send(make_alarm(1)));
    auto ack = wait_for(*good, [](const dv::ServerMessage& m) { return m.has_alarm_ack(); });
    ASSERT_TRUE(ack);
    dv::DeviceMessage hb;
    hb.mutable_heartbeat()->set_battery_percent(55);
    hb.mutable_heartbeat()->set_has_battery(true);
    ASSERT_TRUE(good->send(hb));
    EXPECT_TRUE(wait_for(*good, [](const dv::ServerMessage& m) { return m.has_heartbeat_ack(); }));
    EXPECT_FALSE(good->closed());

    auto metrics = c->http("GET", "/metrics");
    EXPECT_NE(metrics.body.find("anxin_device_protocol_errors_total"), std::string::npos);
    EXPECT_EQ(metrics.body.find("anxin_device_protocol_errors_total 0\n"), std::string::npos)
        << metrics.body;
}

TEST_F(DevicePort, HeartbeatIsAckedAndBatteryRecorded) {
    auto dev = c->device("dev-2");
    ASSERT_TRUE(dev);
    dv::DeviceMessage hb;
    hb.mutable_heartbeat()->set_battery_percent(17);
    hb.mutable_heartbeat()->set_has_battery(true);
    ASSERT_TRUE(dev->send(hb));
    auto ack = wait_for(*dev, [](const dv::ServerMessage& m) { return m.has_heartbeat_ack(); });
    ASSERT_TRUE(ack);
    EXPECT_NEAR(static_cast<double>(ack->heartbeat_ack().server_time_ms()),
                static_cast<double>(anxin::sim::wall_ms()), 5000.0);
    std::this_thread::sleep_for(200ms);
    auto* r = static_cast<redisReply*>(
        redisCommand(c->redis().client(), "HGET anx:device:dev-2 battery"));
    ASSERT_TRUE(r && r->type == REDIS_REPLY_STRING);
    EXPECT_EQ(std::string(r->str), "17");
    freeReplyObject(r);
}

TEST_F(DevicePort, InvalidAlarmTypeIsNackedNotStored) {
    auto dev = c->device("dev-1");
    ASSERT_TRUE(dev);
    auto m = make_alarm(3);
    m.mutable_alarm()->set_type(static_cast<dv::AlarmType>(0));
    ASSERT_TRUE(dev->send(m));
    auto nack = wait_for(*dev, [](const dv::ServerMessage& x) { return x.has_alarm_nack(); });
    ASSERT_TRUE(nack);
    EXPECT_EQ(nack->alarm_nack().reason(), dv::INVALID_ALARM);
    EXPECT_EQ(nack->alarm_nack().sequence(), 3u);
    EXPECT_EQ(c->redis().get("anx:call:next"), "");
    EXPECT_FALSE(dev->closed());
}

TEST_F(DevicePort, RedisDownMeansNackNeverAFalseAckAndTheRetryIsStoredOnce) {
    auto dev = c->device("dev-1");
    ASSERT_TRUE(dev);
    c->redis().kill9();
    std::this_thread::sleep_for(300ms);
    ASSERT_TRUE(dev->send(make_alarm(77)));
    auto reply = wait_for(
        *dev, [](const dv::ServerMessage& m) { return m.has_alarm_ack() || m.has_alarm_nack(); });
    ASSERT_TRUE(reply);
    ASSERT_TRUE(reply->has_alarm_nack()) << reply->DebugString();
    EXPECT_EQ(reply->alarm_nack().reason(), dv::STORE_UNAVAILABLE);
    EXPECT_GT(reply->alarm_nack().retry_after_ms(), 0u);
    EXPECT_EQ(c->http("GET", "/healthz", "", false).status, 503);

    // Redis comes back (same AOF directory); the device retries the same alarm.
    ASSERT_TRUE(c->redis().start());
    std::optional<dv::ServerMessage> ack;
    for (int i = 0; i < 40 && !ack; ++i) {
        ASSERT_TRUE(dev->send(make_alarm(77)));
        auto r = wait_for(
            *dev,
            [](const dv::ServerMessage& m) { return m.has_alarm_ack() || m.has_alarm_nack(); }, 2s);
        if (r && r->has_alarm_ack())
            ack = r;
        else
            std::this_thread::sleep_for(250ms);
    }
    ASSERT_TRUE(ack);
    EXPECT_FALSE(ack->alarm_ack().duplicate());
    ASSERT_TRUE(dev->send(make_alarm(77)));
    auto again = wait_for(*dev, [](const dv::ServerMessage& m) { return m.has_alarm_ack(); });
    ASSERT_TRUE(again);
    EXPECT_TRUE(again->alarm_ack().duplicate());
    EXPECT_EQ(again->alarm_ack().call_id(), ack->alarm_ack().call_id());
    EXPECT_EQ(c->redis().get("anx:call:next"), "1");
}

}  // namespace
