#include "anxin/dispatcher/call_state.hpp"

#include <array>

namespace anxin::dispatcher {

namespace dv = anxin::device::v1;

std::string_view to_string(call_state s) {
    switch (s) {
        case call_state::received:
            return "received";
        case call_state::offered:
            return "offered";
        case call_state::accepted:
            return "accepted";
        case call_state::closed:
            return "closed";
    }
    return "?";
}

std::optional<call_state> parse_call_state(std::string_view s) {
    for (auto st :
         {call_state::received, call_state::offered, call_state::accepted, call_state::closed}) {
        if (to_string(st) == s) return st;
    }
    return std::nullopt;
}

std::optional<call_state> next_state(call_state s, call_event e) {
    switch (e) {
        case call_event::offer:
            if (s == call_state::received || s == call_state::offered) return call_state::offered;
            return std::nullopt;
        case call_event::accept:
            if (s == call_state::offered) return call_state::accepted;
            return std::nullopt;
        case call_event::close:
            if (s == call_state::accepted) return call_state::closed;
            return std::nullopt;
        case call_event::cancel:
            if (s == call_state::closed) return std::nullopt;
            return s;
        case call_event::note:
            return s;
        case call_event::release:
            if (s == call_state::accepted) return call_state::offered;
            return std::nullopt;
    }
    return std::nullopt;
}

dv::CallState device_view(call_state s) {
    switch (s) {
        case call_state::received:
            return dv::RECEIVED;
        case call_state::offered:
            return dv::OFFERED;
        case call_state::accepted:
            return dv::OPERATOR_ASSIGNED;
        case call_state::closed:
            return dv::CLOSED;
    }
    return dv::CALL_STATE_UNSPECIFIED;
}

std::string_view alarm_type_name(dv::AlarmType t) {
    switch (t) {
        case dv::SOS:
            return "sos";
        case dv::FALL:
            return "fall";
        case dv::MEDICAL:
            return "medical";
        case dv::SMOKE:
            return "smoke";
        case dv::INACTIVITY:
            return "inactivity";
        case dv::LOW_BATTERY:
            return "low_battery";
        case dv::TAMPER:
            return "tamper";
        case dv::POWER_LOSS:
            return "power_loss";
        default:
            return "unspecified";
    }
}

bool valid_alarm_type(int t) {
    return t != dv::ALARM_TYPE_UNSPECIFIED && dv::AlarmType_IsValid(t);
}

bool valid_outcome(std::string_view outcome) {
    static constexpr std::array<std::string_view, 6> outcomes = {
        "resolved_by_phone", "staff_visited", "ambulance_called",
        "family_contacted",  "false_alarm",   "technical"};
    for (auto o : outcomes) {
        if (o == outcome) return true;
    }
    return false;
}

}  // namespace anxin::dispatcher
