#pragma once
// Moves waiting calls towards a person, applying call_policy's rules to snapshots of Redis:
//
// * consume(): takes stored alarms off the anx:alarms stream (consumer group "router", one
//   consumer per instance) and gives each new call its first step: the nearest station with an
//   operator free to take it, or the command centre at once if there is none.
// * reconcile(): one pass over every waiting call: escalations whose timer is due (the timer is the
//   call's next_esc_ms in Redis, so it fires whichever instance started it, and once: the
//   escalate script checks it is due and the call's version), who each call is on offer to
//   (ring-all / longest-idle), and calls held by operators who vanished past the grace period.
//   The instance holding the anx:leader:router lease runs it every 500 ms (over all waiting calls
//   when who is on duty changed or every 5 s, else over the calls whose escalation is due); any
//   instance runs a full pass at once when kicked (an operator logged in, closed a call...).
// * supervise(): devices whose heartbeats stopped raise one "device_offline" call per episode
//   (leader only).
//
// Every change is applied by a Lua script that re-checks the call's version, so instances racing
// on the same call cannot double-apply; the loser simply finds the call changed.
//
// Threading: io thread only.

#include "anxin/dispatcher/call_policy.hpp"
#include "anxin/dispatcher/geo.hpp"
#include "anxin/dispatcher/redis_connection.hpp"
#include "anxin/dispatcher/server_context.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace anxin::dispatcher {

class call_router {
  public:
    // blocking: a connection of its own for XREADGROUP BLOCK (it would stall other commands).
    call_router(server_context& ctx, std::shared_ptr<redis_connection> blocking);
    void start();
    // Something changed: run a reconcile pass on this instance now.
    void kick();

    // Sends the supervisors (and the device) the call's current state; used after transitions.
    boost::asio::awaitable<void> call_changed(const std::string& call_id, bool tell_device);

  private:
    struct world {
        std::int64_t now = 0;
        std::vector<operator_snapshot> ops;
    };

    boost::asio::awaitable<void> consume();
    boost::asio::awaitable<void> leader_loop();
    boost::asio::awaitable<void> kicked_loop();
    // full: every waiting call (offers re-planned); otherwise only calls whose escalation is due
    // (ring-all only: longest-idle plans need every call).
    boost::asio::awaitable<bool> reconcile(bool full = true);
    boost::asio::awaitable<void> supervise();
    boost::asio::awaitable<bool> handle_entries(const redis_reply& stream_reply);
    // First steps (and, ring-all, offers) for a batch of new calls.
    boost::asio::awaitable<bool> route_new(const std::vector<std::string>& call_ids);

    boost::asio::awaitable<std::optional<world>> observe();
    boost::asio::awaitable<std::vector<call_snapshot>> snapshot(
        const std::vector<std::string>& ids, std::vector<std::string>* residents);
    // Stations with an operator free to take offers, nearest to the resident's home first.
    boost::asio::awaitable<std::vector<ranked_station>> staffed_for(const std::string& resident_id,
                                                                    const world& w);
    // Applies the first step or an escalation step; false if Redis failed.
    boost::asio::awaitable<bool> step(const call_snapshot& call, const std::string& resident_id,
                                      const world& w, bool first);
    // Brings a call's offers in line with the plan and tells the operators.
    boost::asio::awaitable<void> offer(const call_snapshot& call,
                                       const std::set<std::string>& want);

    server_context& ctx_;
    std::shared_ptr<redis_connection> blocking_;
    boost::asio::steady_timer kick_timer_;
    bool kick_pending_ = false;
    std::string last_world_;  // who could take offers at the last full pass
    std::chrono::steady_clock::time_point last_full_{};
    bool reconciling_ = false;
    struct cached_home {
        std::optional<geo_point> home;
        std::chrono::steady_clock::time_point at;
    };
    std::unordered_map<std::string, cached_home> homes_;
};

}  // namespace anxin::dispatcher
