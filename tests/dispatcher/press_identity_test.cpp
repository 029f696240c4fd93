// The rule that tells a re-sent alarm from a new press re-using a sequence (press_identity.hpp).
#include "anxin/dispatcher/press_identity.hpp"

#include <gtest/gtest.h>

namespace anxin::dispatcher {
namespace {

constexpr std::int64_t t0 = 1796000000000;        // a press, device clock
constexpr std::int64_t received = 1796000000150;  // when the server stored it (Redis clock)

recorded_press on_record(std::int64_t device_time_ms = t0, bool closed = false) {
    return {"C0000001", "sos", device_time_ms, received, closed};
}

incoming_press arriving(std::int64_t device_time_ms = t0, bool epoch = false) {
    return {"sos", device_time_ms, epoch, false};
}

TEST(PressIdentity, ResendOfTheSamePressIsOneCall) {
    auto v = classify_press(on_record(), arriving(), received + 5000);
    EXPECT_EQ(v.match, press_match::resend);
    EXPECT_TRUE(v.reason.empty());
}

TEST(PressIdentity, ResendAfterTheCallClosedIsStillTheSameCall) {
    // The ack was lost, the device stayed offline while an operator handled the call: its
    // re-send is answered with the closed call, not a new one.
    EXPECT_EQ(classify_press(on_record(t0, true), arriving(), received + 3 * 3600 * 1000).match,
              press_match::resend);
}

TEST(PressIdentity, ResendDaysLaterWithTheSamePressTimeIsRecognised) {
    // A pending alarm kept in flash through a long power cut.
    EXPECT_EQ(classify_press(on_record(), arriving(), received + 4LL * 24 * 3600 * 1000).match,
              press_match::resend);
}

TEST(PressIdentity, ResetCounterWithoutEpochMakesANewCall) {
    // Factory reset: sequence 1 again, pressed later.
    auto v = classify_press(on_record(t0, true), arriving(t0 + 86400000), received + 86400000);
    EXPECT_EQ(v.match, press_match::new_press);
    EXPECT_NE(v.reason.find("press time differs"), std::string::npos) << v.reason;
}

TEST(PressIdentity, ResetCounterWithOpenCallAndKnownTimesMakesANewCall) {
    EXPECT_EQ(classify_press(on_record(t0, false), arriving(t0 + 60000), received + 60000).match,
              press_match::new_press);
}

TEST(PressIdentity, ResetCounterWithEpochResendIsRecognisedWithoutAnyClock) {
    // With an epoch the key already separates counters; same epoch, no clock: a re-send, even of
    // a closed call and long after.
    EXPECT_EQ(classify_press(on_record(0, true), arriving(0, true), received + 86400000).match,
              press_match::resend);
}

TEST(PressIdentity, ClockUnsetNoEpochCallClosedMakesANewCall) {
    // Neither alarm carries a time and there is no epoch: a closed call cannot be what the
    // device is still waiting for an ack of... except after a lost ack; a needless call costs a
    // phone call, a swallowed one a life.
    auto v = classify_press(on_record(0, true), arriving(0), received + 10000);
    EXPECT_EQ(v.match, press_match::new_press);
    EXPECT_NE(v.reason.find("closed"), std::string::npos) << v.reason;
}

TEST(PressIdentity, ClockUnsetNoEpochOpenCallRecentIsAResend) {
    EXPECT_EQ(classify_press(on_record(0, false), arriving(0), received + 30000).match,
              press_match::resend);
}

TEST(PressIdentity, ClockUnsetNoEpochOpenCallOutsideTheWindowIsANewPress) {
    auto v = classify_press(on_record(0, false), arriving(0), received + 2 * 3600 * 1000);
    EXPECT_EQ(v.match, press_match::new_press);
    EXPECT_NE(v.reason.find("120 min ago"), std::string::npos) << v.reason;
}

TEST(PressIdentity, ClockJumpBetweenPressAndResendDoesNotMatter) {
    // The device set its clock from Welcome (a jump of years) between the press and the
    // re-send; the re-sent alarm carries the press time it was stamped with, and the server's
    // clock is never compared with the device's.
    const std::int64_t unset_clock_press = 86400000;  // 1970-01-02: an RTC that lost power
    recorded_press r{"C0000001", "sos", unset_clock_press, received, false};
    EXPECT_EQ(classify_press(r, arriving(unset_clock_press), received + 20000).match,
              press_match::resend);
    // ... and a new press after the jump, with the same sequence, is new.
    EXPECT_EQ(classify_press(r, arriving(received + 30000), received + 30000).match,
              press_match::new_press);
}

TEST(PressIdentity, ClockSetBetweenTwoPressesIsANewPress) {
    // Pressed with no clock, reset, pressed again once the clock was set (or the reverse).
    EXPECT_EQ(classify_press(on_record(0), arriving(t0), received + 5000).match,
              press_match::new_press);
    EXPECT_EQ(classify_press(on_record(t0), arriving(0), received + 5000).match,
              press_match::new_press);
}

TEST(PressIdentity, DifferentTypeIsADifferentPress) {
    incoming_press fall{"fall", t0, false, false};
    auto v = classify_press(on_record(), fall, received + 1000);
    EXPECT_EQ(v.match, press_match::new_press);
    EXPECT_NE(v.reason.find("type"), std::string::npos);
}

TEST(PressIdentity, DifferentPressTimesWithTheSameEpochAreTwoPresses) {
    // A device re-using a sequence within one epoch is faulty; its presses are still calls.
    EXPECT_EQ(classify_press(on_record(), arriving(t0 + 1000, true), received + 2000).match,
              press_match::new_press);
}

TEST(PressIdentity, ServerSequencesAreExact) {
    recorded_press r{"C0000009", "device_offline", 0, received, true};
    incoming_press again{"device_offline", 0, false, true};
    EXPECT_EQ(classify_press(r, again, received + 86400000).match, press_match::resend);
}

TEST(PressIdentity, UnreadableRecordIsNeverASilentDuplicate) {
    // The call the key names is gone (type empty): the press becomes a call.
    recorded_press gone{"C0000001", "", 0, 0, false};
    auto v = classify_press(gone, arriving(), received);
    EXPECT_EQ(v.match, press_match::new_press);
    EXPECT_EQ(v.reason, "the call on record is gone");
}

TEST(PressIdentity, EpochText) {
    EXPECT_EQ(epoch_text(0), "");
    EXPECT_EQ(epoch_text(0x1234abcdULL), "000000001234abcd");
    EXPECT_EQ(epoch_text(~0ULL), "ffffffffffffffff");
}

}  // namespace
}  // namespace anxin::dispatcher
