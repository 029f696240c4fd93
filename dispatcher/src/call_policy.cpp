#include "anxin/dispatcher/call_policy.hpp"

#include <algorithm>
#include <charconv>

namespace anxin::dispatcher {

priority_table priority_table::defaults() {
    priority_table t;
    t.levels_ = {{"sos", priority_emergency},
                 {"fall", priority_emergency},
                 {"medical", priority_emergency},
                 {"smoke", priority_urgent},
                 {"inactivity", priority_urgent},
                 {"low_battery", priority_technical},
                 {"device_offline", priority_technical},
                 {"tamper", priority_technical},
                 {"power_loss", priority_technical}};
    return t;
}

std::optional<priority_table> priority_table::parse(std::string_view spec, std::string& error) {
    auto t = defaults();
    while (!spec.empty()) {
        auto comma = spec.find(',');
        auto item = spec.substr(0, comma);
        spec = comma == std::string_view::npos ? std::string_view{} : spec.substr(comma + 1);
        if (item.empty()) continue;
        auto eq = item.find('=');
        if (eq == std::string_view::npos) {
            error = "expected type=level, got '" + std::string(item) + "'";
            return std::nullopt;
        }
        std::string type(item.substr(0, eq));
        auto num = item.substr(eq + 1);
        int level = 0;
        auto [p, ec] = std::from_chars(num.data(), num.data() + num.size(), level);
        if (ec != std::errc{} || p != num.data() + num.size() || level < 1 || level > 3) {
            error = "priority level for '" + type + "' must be 1, 2 or 3";
            return std::nullopt;
        }
        if (!t.levels_.contains(type)) {
            error = "unknown alarm type '" + type + "'";
            return std::nullopt;
        }
        t.levels_[type] = level;
    }
    return t;
}

int priority_table::of(std::string_view alarm_type) const {
    auto it = levels_.find(std::string(alarm_type));
    return it == levels_.end() ? priority_emergency : it->second;
}

std::string_view priority_name(int level) {
    switch (level) {
        case priority_emergency:
            return "emergency";
        case priority_urgent:
            return "urgent";
        case priority_technical:
            return "technical";
        default:
            return "unknown";
    }
}

std::string_view to_string(operator_status s) {
    switch (s) {
        case operator_status::logged_out:
            return "logged_out";
        case operator_status::available:
            return "available";
        case operator_status::away:
            return "away";
    }
    return "?";
}

std::optional<operator_status> parse_operator_status(std::string_view s) {
    for (auto st :
         {operator_status::logged_out, operator_status::available, operator_status::away}) {
        if (to_string(st) == s) return st;
    }
    return std::nullopt;
}

operator_state state_of(const operator_snapshot& op, std::int64_t now) {
    if (op.active_calls > 0) return operator_state::on_call;
    if (now < op.wrap_until_ms) return operator_state::wrap_up;
    return operator_state::idle;
}

std::string_view to_string(operator_state s) {
    switch (s) {
        case operator_state::idle:
            return "idle";
        case operator_state::on_call:
            return "on_call";
        case operator_state::wrap_up:
            return "wrap_up";
    }
    return "?";
}

bool can_take_offers(const operator_snapshot& op, std::int64_t now, const routing_config& cfg) {
    return op.online && op.status == operator_status::available &&
           op.active_calls < cfg.max_calls_per_operator && now >= op.wrap_until_ms &&
           op.missed_in_row < cfg.missed_offers_before_away;
}

bool offered_before(const call_snapshot& a, const call_snapshot& b) {
    if (a.priority != b.priority) return a.priority < b.priority;
    if (a.received_ms != b.received_ms) return a.received_ms < b.received_ms;
    return a.id < b.id;
}

std::map<std::string, std::set<std::string>> plan_offers(std::vector<call_snapshot> calls,
                                                         const std::vector<operator_snapshot>& ops,
                                                         std::int64_t now,
                                                         const routing_config& cfg) {
    std::sort(calls.begin(), calls.end(), offered_before);
    std::vector<const operator_snapshot*> eligible;
    for (const auto& op : ops) {
        if (can_take_offers(op, now, cfg)) eligible.push_back(&op);
    }
    // Longest idle first (ties by id, for a deterministic plan).
    std::sort(eligible.begin(), eligible.end(),
              [](const operator_snapshot* a, const operator_snapshot* b) {
                  if (a->idle_since_ms != b->idle_since_ms)
                      return a->idle_since_ms < b->idle_since_ms;
                  return a->id < b->id;
              });
    auto qualifies = [](const call_snapshot& c, const operator_snapshot& op) {
        if (op.supervisor) return c.at_command_centre;
        return std::find(c.tier_stations.begin(), c.tier_stations.end(), op.station_id) !=
               c.tier_stations.end();
    };

    std::map<std::string, std::set<std::string>> plan;
    if (cfg.offer_strategy == routing_config::strategy::ring_all) {
        for (const auto& c : calls) {
            if (c.state != "received" && c.state != "offered") continue;
            auto& want = plan[c.id];
            for (const auto* op : eligible) {
                if (qualifies(c, *op)) want.insert(op->id);
            }
        }
        return plan;
    }

    // longest_idle: one operator per call, calls in offer order. A call keeps the operator it is
    // already offered to (the longest idle of them) so offers do not jump around; otherwise it
    // gets the longest-idle free operator. When none is free, an operator given to an earlier call
    // is moved here if that call can take another free operator instead (one augmenting step), so
    // a call is never left unoffered while someone who could take it sits idle.
    std::map<std::string, const call_snapshot*> holder;  // operator -> call it was given
    std::map<std::string, std::string> assigned;         // call -> operator
    auto free_for = [&](const call_snapshot& c,
                        const std::string& except) -> const operator_snapshot* {
        for (const auto* op : eligible) {
            if (op->id != except && !holder.contains(op->id) && qualifies(c, *op)) return op;
        }
        return nullptr;
    };
    for (const auto& c : calls) {
        if (c.state != "received" && c.state != "offered") continue;
        plan[c.id];
        const operator_snapshot* pick = nullptr;
        for (const auto* op : eligible) {
            if (c.offered.contains(op->id) && !holder.contains(op->id) && qualifies(c, *op)) {
                pick = op;
                break;
            }
        }
        if (!pick) pick = free_for(c, {});
        if (!pick) {
            for (const auto* op : eligible) {
                if (!qualifies(c, *op) || !holder.contains(op->id)) continue;
                const call_snapshot* other = holder[op->id];
                if (const auto* alt = free_for(*other, op->id)) {
                    holder[alt->id] = other;
                    assigned[other->id] = alt->id;
                    pick = op;
                    break;
                }
            }
        }
        if (pick) {
            holder[pick->id] = &c;
            assigned[c.id] = pick->id;
        }
    }
    for (const auto& [call, op] : assigned) plan[call].insert(op);
    return plan;
}

escalation_step first_step(const std::vector<std::string>& staffed, std::int64_t received_ms,
                           const routing_config& cfg) {
    escalation_step s;
    if (staffed.empty() || cfg.max_station_tiers < 1) {
        s.what = escalation_step::kind::command_centre;
        return s;
    }
    s.what = escalation_step::kind::add_station;
    s.station_id = staffed.front();
    s.next_due_ms =
        std::min(received_ms + cfg.tier_timeout_ms, received_ms + cfg.escalation_limit_ms);
    return s;
}

escalation_step next_step(const call_snapshot& call, const std::vector<std::string>& staffed,
                          std::int64_t now, const routing_config& cfg) {
    escalation_step s;
    if (call.at_command_centre || (call.state != "received" && call.state != "offered")) return s;
    const std::int64_t limit = call.received_ms + cfg.escalation_limit_ms;
    if (now >= limit || static_cast<int>(call.tier_stations.size()) >= cfg.max_station_tiers) {
        s.what = escalation_step::kind::command_centre;
        return s;
    }
    for (const auto& st : staffed) {
        if (std::find(call.tier_stations.begin(), call.tier_stations.end(), st) !=
            call.tier_stations.end())
            continue;
        s.what = escalation_step::kind::add_station;
        s.station_id = st;
        s.next_due_ms = std::min(now + cfg.tier_timeout_ms, limit);
        return s;
    }
    // Nobody else is available anywhere: the command centre takes over now.
    s.what = escalation_step::kind::command_centre;
    return s;
}

std::int64_t offline_deadline(std::int64_t last_seen_ms, int heartbeat_interval_s,
                              const supervision_config& cfg) {
    return last_seen_ms +
           static_cast<std::int64_t>(heartbeat_interval_s) * 1000 * cfg.missed_heartbeats +
           cfg.grace_ms;
}

std::int64_t recovery_period(int heartbeat_interval_s, const supervision_config&) {
    return 2LL * heartbeat_interval_s * 1000;
}

battery_change battery_transition(bool in_episode, int battery_percent,
                                  const supervision_config& cfg) {
    if (battery_percent < 0) return battery_change::none;  // unknown
    if (!in_episode && battery_percent < cfg.low_battery_percent)
        return battery_change::episode_started;
    if (in_episode && battery_percent >= cfg.battery_recovered_percent)
        return battery_change::episode_ended;
    return battery_change::none;
}

}  // namespace anxin::dispatcher
