#include "anxin/dispatcher/press_identity.hpp"

#include <cstdio>

namespace anxin::dispatcher {

press_verdict classify_press(const recorded_press& recorded, const incoming_press& incoming,
                             std::int64_t now_ms, std::int64_t resend_window_ms) {
    if (incoming.exact) return {press_match::resend, {}};
    if (recorded.type.empty()) return {press_match::new_press, "the call on record is gone"};
    if (recorded.type != incoming.type) {
        return {press_match::new_press,
                "alarm type differs (" + recorded.type + " before, " + incoming.type + " now)"};
    }
    const bool had_time = recorded.device_time_ms != 0;
    const bool has_time = incoming.device_time_ms != 0;
    if (had_time && has_time) {
        if (recorded.device_time_ms == incoming.device_time_ms) return {press_match::resend, {}};
        return {press_match::new_press, "press time differs (" +
                                            std::to_string(recorded.device_time_ms) + " before, " +
                                            std::to_string(incoming.device_time_ms) + " now)"};
    }
    if (had_time != has_time) {
        return {press_match::new_press,
                had_time ? "press time given before, not now" : "press time given now, not before"};
    }
    if (incoming.has_epoch) return {press_match::resend, {}};
    if (recorded.call_closed) {
        return {press_match::new_press, "no press time and no epoch; the earlier call is closed"};
    }
    if (now_ms - recorded.received_ms > resend_window_ms) {
        return {press_match::new_press,
                "no press time and no epoch; the earlier call was received " +
                    std::to_string((now_ms - recorded.received_ms) / 60000) + " min ago"};
    }
    return {press_match::resend, {}};
}

std::string epoch_text(std::uint64_t epoch) {
    if (epoch == 0) return {};
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(epoch));
    return buf;
}

}  // namespace anxin::dispatcher
