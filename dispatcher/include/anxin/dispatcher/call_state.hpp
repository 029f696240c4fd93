#pragma once
// The call state machine, pure: the vocabulary the rest of the code uses, and the transitions the
// Lua scripts in lua_scripts.hpp enforce atomically in Redis (which is what makes them hold across
// dispatcher instances). next_state() documents those rules; the scripts are the enforcement.
//
//   received --offer--> offered --accept--> accepted --close--> closed
//                        ^  |  (offer again: escalation     |
//                        +--+   to more stations)           |
//                        ^-------------- release -----------+  (logout, vanished console, transfer)
//
// Two paths exist only in the scripts: a command-centre supervisor may accept a call that is
// still `received`, and a resident's cancel closes a waiting technical alarm (false_alarm).

#include <optional>
#include <string_view>

#include "device.pb.h"

namespace anxin::dispatcher {

enum class call_state { received, offered, accepted, closed };
enum class call_event { offer, accept, close, cancel, note, release };

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
