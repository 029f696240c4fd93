// A device that lost its sequence counter (factory reset, flash fault, a replacement unit with
// the old id) presses again with a sequence already on record: it must get a new call, offered to
// a station, while a real re-send of a press stays one call — through a Redis outage and across
// instances. The rule is press_identity.hpp; protocol/README.md states it for device makers.

#include "test_cluster.hpp"

#include <gtest/gtest.h>

#include <csignal>
#include <thread>

using namespace std::chrono_literals;
namespace dv = anxin::device::v1;
namespace cv = anxin::console::v1;
using anxin::test::make_alarm;
using anxin::test::offer_of;
using anxin::test::press_time_of;
using anxin::test::wait_for;

namespace {

constexpr std::uint64_t epoch_a = 0x1122334455667788ULL;
constexpr std::uint64_t epoch_b = 0x0badc0ffee123457ULL;

bool is_ack(const dv::ServerMessage& m) {
    return m.has_alarm_ack();
}

class SequenceReuse : public anxin::test::cluster_test {
  protected:
    // No wrap-up after a close: the operator who closed the first call is offered the second.
    void SetUp() override { start_cluster({"--wrap-up", "0"}); }

    // Sends the alarm and returns its ack (fails the test without one).
    dv::AlarmAck press(anxin::sim::device_link& dev, const dv::DeviceMessage& alarm) {
        EXPECT_TRUE(dev.send(alarm));
        auto ack = wait_for(dev, is_ack);
        EXPECT_TRUE(ack) << "no AlarmAck";
        return ack ? ack->alarm_ack() : dv::AlarmAck{};
    }
    // op takes the call and closes it, as after a visit.
    void take_and_close(anxin::sim::console_link& op, const std::string& call) {
        ASSERT_TRUE(wait_for(op, offer_of(call)));
        cv::ConsoleRequest accept;
        accept.mutable_accept()->set_call_id(call);
        ASSERT_TRUE(op.send(accept));
        ASSERT_TRUE(wait_for(op, [](const cv::ConsoleEvent& e) { return e.has_accepted(); }));
        cv::ConsoleRequest close;
        close.mutable_close()->set_call_id(call);
        close.mutable_close()->set_outcome("staff_visited");
        close.mutable_close()->set_note("all well");
        ASSERT_TRUE(op.send(close));
        ASSERT_TRUE(wait_for(op, [&](const cv::ConsoleEvent& e) {
            return e.has_closed() && e.closed().call_id() == call;
        }));
    }
    bool has_event(const std::string& call, const std::string& needle) {
        for (const auto& e : c->redis().list("anx:call:" + call + ":history"))
            if (e.find(needle) != std::string::npos) return true;
        return false;
    }
    // The whole scenario of the issue: press (sequence 1), taken, closed; the device loses its
    // counter and the resident presses again with sequence 1. Returns the second ack.
    dv::AlarmAck press_after_reset(std::uint64_t epoch_before, std::uint64_t epoch_after,
                                   std::int64_t time_before, std::int64_t time_after,
                                   std::string* first_call) {
        auto a1 = c->console("op-a1");
        EXPECT_TRUE(a1);
        if (!a1) return {};
        auto dev = c->device("dev-1", epoch_before);
        EXPECT_TRUE(dev);
        if (!dev) return {};
        auto first = press(*dev, make_alarm(1, dv::SOS, time_before));
        EXPECT_FALSE(first.duplicate());
        take_and_close(*a1, first.call_id());
        *first_call = first.call_id();
        dev.reset();  // factory reset: the link drops, the counter is gone
        auto fresh = c->device("dev-1", epoch_after);
        EXPECT_TRUE(fresh);
        if (!fresh) return {};
        auto second = press(*fresh, make_alarm(1, dv::SOS, time_after));
        // The new call must reach a person: offered to the station's operator.
        EXPECT_TRUE(wait_for(*a1, offer_of(second.call_id()), 5s))
            << "the new press was not offered";
        // ... and the device is told it is received, not that its old call is closed.
        auto update = wait_for(*fresh, [&](const dv::ServerMessage& m) {
            return m.has_call_update() && m.call_update().call_id() == second.call_id();
        });
        EXPECT_TRUE(update);
        if (update) {
            EXPECT_NE(update->call_update().state(), dv::CLOSED);
        }
        return second;
    }
};

TEST_F(SequenceReuse, ResetWithoutEpochWithClockMakesANewCall) {
    std::string first;
    auto second = press_after_reset(0, 0, press_time_of(1), press_time_of(1) + 3600 * 1000, &first);
    EXPECT_FALSE(second.duplicate());
    EXPECT_NE(second.call_id(), first);
    EXPECT_TRUE(has_event(second.call_id(), "sequence_collision"));
    EXPECT_TRUE(has_event(second.call_id(), "was call " + first));
    EXPECT_EQ(c->redis().hget("anx:device:dev-1", "sequence_collisions"), "1");
}

TEST_F(SequenceReuse, ResetWithoutEpochOrClockMakesANewCall) {
    std::string first;
    auto second = press_after_reset(0, 0, 0, 0, &first);
    EXPECT_FALSE(second.duplicate());
    EXPECT_NE(second.call_id(), first);
    EXPECT_TRUE(has_event(second.call_id(), "sequence_collision"));
}

TEST_F(SequenceReuse, ResetWithANewEpochAndNoClockMakesANewCall) {
    std::string first;
    auto second = press_after_reset(epoch_a, epoch_b, 0, 0, &first);
    EXPECT_FALSE(second.duplicate());
    EXPECT_NE(second.call_id(), first);
    // Different epochs never meet: no collision, but the device's counter reset is counted.
    EXPECT_FALSE(has_event(second.call_id(), "sequence_collision"));
    EXPECT_EQ(c->redis().hget("anx:device:dev-1", "counter_resets"), "1");
    EXPECT_EQ(c->redis().hget("anx:device:dev-1", "epoch"), "0badc0ffee123457");
}

TEST_F(SequenceReuse, ResetWithTheOldEpochFromAFaultyDeviceStillMakesANewCall) {
    // A device that keeps its epoch but lost its counter is faulty; its press times differ.
    std::string first;
    auto second =
        press_after_reset(epoch_a, epoch_a, press_time_of(1), press_time_of(1) + 60000, &first);
    EXPECT_FALSE(second.duplicate());
    EXPECT_NE(second.call_id(), first);
}

TEST_F(SequenceReuse, ResendWithEpochAndNoClockIsOneCallEvenAfterItClosed) {
    auto a1 = c->console("op-a1");
    auto dev = c->device("dev-1", epoch_a);
    ASSERT_TRUE(a1 && dev);
    auto first = press(*dev, make_alarm(7, dv::SOS, 0));
    take_and_close(*a1, first.call_id());
    dev.reset();
    auto again = c->device("dev-1", epoch_a);
    ASSERT_TRUE(again);
    auto resend = press(*again, make_alarm(7, dv::SOS, 0));
    EXPECT_TRUE(resend.duplicate());
    EXPECT_EQ(resend.call_id(), first.call_id());
    auto update = wait_for(*again, [&](const dv::ServerMessage& m) {
        return m.has_call_update() && m.call_update().call_id() == first.call_id();
    });
    ASSERT_TRUE(update);
    EXPECT_EQ(update->call_update().state(), dv::CLOSED);
    EXPECT_EQ(c->redis().get("anx:call:next"), "1");
    EXPECT_EQ(c->redis().hget("anx:device:dev-1", "counter_resets"), "");  // same epoch: no news
}

// Redis hangs with the alarm's script already sent: the device is nacked and re-sends while Redis
// is stopped; once it resumes the first copy is stored after all, and the re-sends find it.
TEST_F(SequenceReuse, ResendDuringARedisOutageIsOneCall) {
    auto a1 = c->console("op-a1");
    auto dev = c->device("dev-1", epoch_a);
    ASSERT_TRUE(a1 && dev);
    const auto alarm = make_alarm(3, dv::FALL, 0);  // no clock: the epoch carries the identity
    c->redis().signal(SIGSTOP);
    ASSERT_TRUE(dev->send(alarm));
    auto first = wait_for(
        *dev, [](const dv::ServerMessage& m) { return m.has_alarm_ack() || m.has_alarm_nack(); },
        8s);
    ASSERT_TRUE(dev->send(alarm));  // a re-send while Redis is still hung
    std::this_thread::sleep_for(500ms);
    c->redis().signal(SIGCONT);
    ASSERT_TRUE(first);
    EXPECT_TRUE(first->has_alarm_nack()) << first->DebugString();
    const auto call = anxin::test::resend_until_acked(*c, dev, "dev-1", alarm, epoch_a);
    ASSERT_FALSE(call.empty());
    EXPECT_EQ(c->redis().get("anx:call:next"), "1");
    EXPECT_TRUE(wait_for(*a1, offer_of(call), 5s));
}

// Two instances receive the same press at once (a device trying the next address while its first
// connection was still half-open), both of a reset device whose sequence is on record for a
// closed call: exactly one new call, and both acks name it.
TEST_F(SequenceReuse, TwoInstancesReceivingTheSameResendMakeOneCall) {
    auto* other = c->add_dispatcher();
    ASSERT_TRUE(other);
    auto a1 = c->console("op-a1");
    auto dev = c->device("dev-1");
    ASSERT_TRUE(a1 && dev);
    auto old = press(*dev, make_alarm(1, dv::SOS, 0));
    take_and_close(*a1, old.call_id());
    dev.reset();
    for (int round = 0; round < 5; ++round) {
        // A fresh press with sequence 1 each round (the device reset again), sent to both.
        const auto alarm = make_alarm(1, dv::SOS, press_time_of(1) + 1000 * (round + 1));
        auto on_a = c->device_on(c->dispatcher(), "dev-1");
        auto on_b = c->device_on(*other, "dev-1");
        ASSERT_TRUE(on_a && on_b);
        ASSERT_TRUE(on_a->send(alarm) && on_b->send(alarm));
        auto ack_a = wait_for(*on_a, is_ack);
        auto ack_b = wait_for(*on_b, is_ack);
        ASSERT_TRUE(ack_a && ack_b);
        EXPECT_EQ(ack_a->alarm_ack().call_id(), ack_b->alarm_ack().call_id()) << "round " << round;
        EXPECT_NE(ack_a->alarm_ack().duplicate(), ack_b->alarm_ack().duplicate())
            << "exactly one of the two made the call";
        EXPECT_EQ(c->redis().get("anx:call:next"), std::to_string(round + 2));
    }
}

}  // namespace
