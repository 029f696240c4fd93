#pragma once
// The call state machine, pure. The same rules are enforced atomically in Redis by the Lua
// scripts in call_store (which is what makes them hold across dispatcher instances); this is the
// reference the scripts are tested against and the vocabulary the rest of the code uses.
//
//   received --offer--> offered --accept--> accepted --close--> closed
//      ^                  |  ^ (re-offer: station lost its operators)
//      +---- (no operator online anywhere: stays received, waits) ----+

#include <optional>
#include <string_view>

#include "device.pb.h"

namespace anxin::dispatcher {

enum class call_state { received, offered, accepted, closed };
enum class call_event { offer, accept, close, cancel, note };

std::string_view to_string(call_state s);
std::optional<call_state> parse_call_state(std::string_view s);

// The state after `e` in state `s`, or nullopt if the event is not allowed there.
// cancel and note never change the state (a cancelled call still needs an operator to close it).
std::optional<call_state> next_state(call_state s, call_event e);

// What the device is told about a call in this state.
anxin::device::v1::CallState device_view(call_state s);

// Alarm types on the wire <-> the names stored in Redis and shown to operators.
std::string_view alarm_type_name(anxin::device::v1::AlarmType t);
bool valid_alarm_type(int t);

// Console close outcomes.
bool valid_outcome(std::string_view outcome);

}  // namespace anxin::dispatcher
