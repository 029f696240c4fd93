#pragma once
// The call-handling rules as pure functions over snapshots: priorities, who is offered which call
// (ring-all or longest-idle), when and where a call escalates, operator states, device
// supervision. No Redis, no sockets, no clock: callers pass `now` (ms since the Unix epoch), so
// tests drive them tick by tick. call_router takes snapshots from Redis, asks these functions,
// and applies their answers with Lua scripts that re-check the snapshot's version.

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace anxin::dispatcher {

// ---- priorities ---------------------------------------------------------------------------

// 1 = emergency, 2 = urgent, 3 = technical. Lower numbers are offered first.
inline constexpr int priority_emergency = 1;
inline constexpr int priority_urgent = 2;
inline constexpr int priority_technical = 3;

class priority_table {
  public:
    // sos, fall, medical: emergency; smoke, inactivity: urgent; low_battery, device_offline,
    // tamper, power_loss: technical.
    static priority_table defaults();
    // Overrides from "type=level,type=level" (e.g. "smoke=1,inactivity=1"). nullopt + error on a
    // malformed spec, an unknown type, or a level outside 1..3.
    static std::optional<priority_table> parse(std::string_view spec, std::string& error);

    // Unknown types are treated as emergencies: never let a misconfiguration make a call wait.
    int of(std::string_view alarm_type) const;
    const std::map<std::string, int>& levels() const { return levels_; }

  private:
    std::map<std::string, int> levels_;
};

std::string_view priority_name(int level);  // "emergency", "urgent", "technical"

// ---- snapshots ----------------------------------------------------------------------------

enum class operator_status { logged_out, available, away };
std::string_view to_string(operator_status s);
std::optional<operator_status> parse_operator_status(std::string_view s);

struct operator_snapshot {
    std::string id;
    std::string station_id;
    bool supervisor = false;            // a district command-centre supervisor
    bool online = false;                // presence lease valid
    std::int64_t offline_since_ms = 0;  // when the lease ended (0: never online / online now)
    operator_status status = operator_status::logged_out;
    int active_calls = 0;            // accepted and not closed
    std::int64_t wrap_until_ms = 0;  // wrap-up after the last close ends here
    std::int64_t idle_since_ms = 0;  // last time the operator became free
    int missed_in_row = 0;           // offers let time out since the last accept
};

// Operator *state*, derived: idle / on_call / wrap_up (offered is per call, see the call).
enum class operator_state { idle, on_call, wrap_up };
operator_state state_of(const operator_snapshot& op, std::int64_t now);
std::string_view to_string(operator_state s);

struct routing_config {
    enum class strategy { ring_all, longest_idle };
    strategy offer_strategy = strategy::ring_all;
    std::int64_t tier_timeout_ms = 20000;      // nobody took it: add the next station
    std::int64_t escalation_limit_ms = 45000;  // total time before the command centre
    int max_station_tiers = 3;                 // stations tried before the command centre
    int max_calls_per_operator = 1;
    int missed_offers_before_away = 3;
    std::int64_t reconnect_grace_ms = 60000;  // a vanished console keeps its call this long
};

// Whether an operator should be offered new calls now.
bool can_take_offers(const operator_snapshot& op, std::int64_t now, const routing_config& cfg);

struct call_snapshot {
    std::string id;
    std::string state;  // received, offered, accepted, closed
    int priority = priority_emergency;
    std::int64_t received_ms = 0;
    std::vector<std::string> tier_stations;  // stations the call has reached, nearest first
    bool at_command_centre = false;
    std::set<std::string> offered;        // operators the call is on offer to now
    std::int64_t next_escalation_ms = 0;  // 0: no timer
    std::string operator_id;              // when accepted
    std::int64_t version = 0;             // bumped by every change in Redis
};

// Offered first: higher priority (lower number), then older, then id.
bool offered_before(const call_snapshot& a, const call_snapshot& b);

// ---- who is offered what ------------------------------------------------------------------

// The operators each waiting call (state received/offered) should be on offer to now.
// calls: any order (sorted here by offered_before). Operators qualify for a call when they can
// take offers and are at one of its tier stations, or are supervisors and the call is at the
// command centre.
//   ring_all:     every qualifying operator.
//   longest_idle: one operator per call: the longest idle of those already offered it if still
//                 qualifying, else the longest-idle qualifying operator not yet given a call in
//                 this plan, so the highest-priority calls get operators first; a call left
//                 without may take an operator from an earlier call that can use another free
//                 operator instead.
// An operator qualifies only if can_take_offers(): online, available, under max calls, out of
// wrap-up, and fewer than missed_offers_before_away offers missed in a row.
std::map<std::string, std::set<std::string>> plan_offers(std::vector<call_snapshot> calls,
                                                         const std::vector<operator_snapshot>& ops,
                                                         std::int64_t now,
                                                         const routing_config& cfg);

// ---- escalation ---------------------------------------------------------------------------

struct escalation_step {
    enum class kind { none, add_station, command_centre };
    kind what = kind::none;
    std::string station_id;        // for add_station
    std::int64_t next_due_ms = 0;  // when to look again (0: no more timers)
};

// Where a new call goes first. `staffed`: station ids with an operator who can take offers,
// nearest to the resident first. No station staffed: straight to the command centre.
escalation_step first_step(const std::vector<std::string>& staffed, std::int64_t received_ms,
                           const routing_config& cfg);

// What to do when a call's timer is due (now >= next_escalation_ms). Stations already in the
// call's tiers and stations with nobody available are skipped; after max_station_tiers, or once
// escalation_limit_ms has passed since the call was received, the call goes to the command centre.
escalation_step next_step(const call_snapshot& call, const std::vector<std::string>& staffed,
                          std::int64_t now, const routing_config& cfg);

// ---- supervision --------------------------------------------------------------------------

struct supervision_config {
    // Offline after 3 heartbeat intervals of silence: 180 s by default, the upper end of the
    // 120-180 s that alarm-receiving practice (GB/T 28181) asks for.
    int missed_heartbeats = 3;
    std::int64_t grace_ms = 0;
    int low_battery_percent = 20;        // below this: a low-battery episode starts
    int battery_recovered_percent = 30;  // at or above this: the episode is over (hysteresis)
};

// The device is offline if nothing was heard from it by this time.
std::int64_t offline_deadline(std::int64_t last_seen_ms, int heartbeat_interval_s,
                              const supervision_config& cfg);

// How long a device that came back must stay back before its offline episode ends (and the
// episode's call is resolved): two heartbeat intervals. Going silent again within it continues
// the same episode, so a bouncing link raises one call.
std::int64_t recovery_period(int heartbeat_interval_s, const supervision_config& cfg);

enum class battery_change { none, episode_started, episode_ended };
battery_change battery_transition(bool in_episode, int battery_percent,
                                  const supervision_config& cfg);

}  // namespace anxin::dispatcher
