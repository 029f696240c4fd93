#pragma once
// What makes two alarms from one device "the same press": the rule that turns a network re-send
// into one call and a new press into a new call, even when a device re-uses a sequence number
// (factory reset, flash fault, a replacement unit given the old id). Pure code: call_store asks
// it when an alarm's sequence is already on record, with the record and Redis's clock, and
// applies the answer with a compare-and-set script, so two instances cannot both decide.
//
// The rule, in order (protocol/README.md section 5 states it for device makers):
//  1. The dedupe key already holds the device's counter epoch (Hello.sequence_epoch) when the
//     device sends one: a device that re-initialised its counter has a new epoch, so its presses
//     never meet the old ones at all.
//  2. A different alarm type is a different press.
//  3. A press time (device_time_ms) is fixed when the button is pressed and re-sent unchanged,
//     so two non-zero press times that differ are two presses; equal ones are a re-send. Only
//     the two times are compared: the device's clock may be unset or jump between a press and its
//     re-send, and neither matters.
//  4. One time known and the other not (0): two presses (a re-send carries the stored time).
//  5. Neither time known: with an epoch, a re-send (the epoch proves the counter was not reset).
//     Without one, a re-send only while the earlier call is still open and was received less
//     than `resend_window_ms` ago; otherwise a new call. An ambiguous press becomes a call:
//     a needless call costs an operator a phone call, a swallowed one can cost a life.
// Sequences the server makes itself (supervision, low battery) are exact: always a re-send.
//
// Threading: none (pure).

#include <cstdint>
#include <string>
#include <string_view>

namespace anxin::dispatcher {

// The press already recorded under a device's (epoch, sequence).
struct recorded_press {
    std::string call_id;
    std::string type;  // alarm_type_name()
    std::int64_t device_time_ms = 0;
    std::int64_t received_ms = 0;  // Redis time it was first stored
    bool call_closed = false;
};

// The alarm that arrived with the same (epoch, sequence).
struct incoming_press {
    std::string type;
    std::int64_t device_time_ms = 0;
    bool has_epoch = false;  // the device gave Hello.sequence_epoch
    bool exact = false;      // a sequence of the server's own ("offline-3", "battery-2")
};

enum class press_match {
    resend,     // the same press: answer with the recorded call
    new_press,  // a different press re-using the sequence: a new call, collision recorded
};

struct press_verdict {
    press_match match = press_match::new_press;
    // Why a colliding press is a new one, for the audit trail (empty for a re-send).
    std::string reason;
};

// Re-sends of a clock-less, epoch-less device arrive within minutes (5 s ack timeout, backoff to
// 60 s, a dispatcher restart); an hour covers a long Redis outage as well.
inline constexpr std::int64_t default_resend_window_ms = 60 * 60 * 1000;

press_verdict classify_press(const recorded_press& recorded, const incoming_press& incoming,
                             std::int64_t now_ms,
                             std::int64_t resend_window_ms = default_resend_window_ms);

// The dedupe key's epoch part: 16 lower-case hex digits, or empty for "none given" (0).
std::string epoch_text(std::uint64_t epoch);

}  // namespace anxin::dispatcher
