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
//   when who is on duty changed or every 10 s, else over the calls whose escalation is due); any
//   instance runs a full pass at once when kicked (an operator logged in, closed a call...).
// * supervise(): devices whose heartbeats stopped raise one "device_offline" call per episode
//   (leader only).
//
// Every change is applied by a Lua script that re-checks the call's version, so instances racing
// on the same call cannot double-apply; the loser simply finds the call changed.
//
// Threading: io thread only.

#include "anxin/dispatcher/call_policy.hpp"
#include "anxin/dispatcher/call_store.hpp"
#include "anxin/dispatcher/geo.hpp"
#include "anxin/dispatcher/redis_connection.hpp"
#include "anxin/dispatcher/server_context.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

namespace anxin::dispatcher {

class call_router {
  public:
    // blocking: a connection of its own for XREADGROUP BLOCK (it would stall other commands).
    // view: a connection for observe() (who is on duty), which must stay fast under a backlog.
    call_router(server_context& ctx, std::shared_ptr<redis_connection> blocking,
                std::shared_ptr<redis_connection> view);
    void start();
    // Something changed: run a reconcile pass on this instance now.
    void kick();

    // A new call's first step, decided from cached state (who can take offers, the stations, the
    // resident's home) without waiting for Redis, so that the ingest script stores the call
    // already on offer. nullopt when something is not cached or too old (older than a second, or
    // a world_changed() since): the call is then queued and consume() routes it from fresh
    // snapshots. Starts the refreshes it needs. A decision made on a view up to a second old is
    // corrected like any other by the reconcile pass (offers re-planned when who is on duty
    // changed).
    std::optional<first_route> route_for_new(const std::string& resident_id);
    // After a call was stored with its first step (ingest_result::routed): the offers with the
    // resident's card, the command centre's view, the device's update.
    boost::asio::awaitable<void> announce_first_step(const alarm_input& in,
                                                     const ingest_result& stored);
    // Loads the resident's home into the cache (a device's handshake does this ahead of alarms).
    void prefetch_home(const std::string& resident_id);
    // Who can take offers changed on this instance (login, status, accept, close, transfer):
    // tell every instance to look again, and run a pass here.
    void world_changed();
    // Another instance's world_changed().
    void forget_world();

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
    // `ranked` points into `stations`, which is kept with it: the directory may swap its list for
    // a new one while this waits for Redis.
    struct staffed_stations {
        std::shared_ptr<const std::vector<station_site>> stations;
        std::vector<ranked_station> ranked;
    };
    boost::asio::awaitable<staffed_stations> staffed_for(const std::string& resident_id,
                                                         const world& w);
    // Applies the first step or an escalation step; false if Redis failed.
    boost::asio::awaitable<bool> step(const call_snapshot& call, const std::string& resident_id,
                                      const world& w, bool first);
    // Brings a call's offers in line with the plan and tells the operators.
    boost::asio::awaitable<void> offer(const call_snapshot& call,
                                       const std::set<std::string>& want);

    server_context& ctx_;
    std::shared_ptr<redis_connection> blocking_;
    std::shared_ptr<redis_connection> view_;
    boost::asio::steady_timer kick_timer_;
    bool kick_pending_ = false;
    std::string last_world_;  // who could take offers at the last full pass
    std::chrono::steady_clock::time_point last_full_{};
    bool reconciling_ = false;
    struct cached_home {
        std::optional<geo_point> home;
        std::chrono::steady_clock::time_point at;
        // The nearest staffed station for duty_view version `ranked_for` (empty: none).
        std::uint64_t ranked_for = 0;
        const station_site* nearest = nullptr;
        double nearest_km = 0;
    };
    // What route_for_new() needs from the cached world, worked out once for many calls: which
    // stations can take offers, and (ring-all) whom a call at each station / at the command
    // centre is offered to. Rebuilt when the world is re-read, the stations change, or 50 ms pass
    // (wrap-ups end by the clock). `version` changes only when the staffed stations do.
    struct duty_view {
        std::int64_t at_ms = 0;
        std::uint64_t world_serial = 0;
        std::shared_ptr<const std::vector<station_site>> stations;
        std::set<std::string> staffed;
        std::map<std::string, std::vector<std::string>> offers;  // station ("" = command centre)
        bool supervisors_online = false;
        std::uint64_t version = 0;
    };
    std::optional<duty_view> duty_;
    std::uint64_t world_serial_ = 0;
    std::uint64_t duty_versions_ = 0;
    void rebuild_duty(std::shared_ptr<const std::vector<station_site>> stations, std::int64_t now);
    std::unordered_map<std::string, cached_home> homes_;
    std::set<std::string> homes_loading_;
    // The last observe(), for route_for_new(); dropped by forget_world(). world_gen_ counts the
    // forgets, so an observe() that started before one is not cached.
    std::optional<world> world_cache_;
    std::chrono::steady_clock::time_point world_at_{};
    std::uint64_t world_gen_ = 0;
    bool world_refreshing_ = false;
    void refresh_world();
};

}  // namespace anxin::dispatcher
