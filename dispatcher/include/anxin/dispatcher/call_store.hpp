#pragma once
// Calls in Redis: durable ingest of alarms and every call transition, each one Lua script so it is
// atomic across dispatcher instances. Also operator presence leases.
//
// Threading: io thread only (it shares the redis_connection). Errors: each operation returns a
// result whose `code` names what happened; `unavailable` means Redis could not be asked (the
// caller nacks / reports "degraded"), which is never confused with a rule saying no.

#include "anxin/dispatcher/redis_connection.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace anxin::console::v1 {
class Call;
}
namespace anxin::admin::v1 {
class CallSummary;
class HistoryEntry;
}  // namespace anxin::admin::v1

namespace anxin::dispatcher {

struct call_summary;
class call_scan;
class session_tokens;

// A new call's first step, decided before it is stored (call_router::route_for_new, from cached
// state) and applied by the same script that stores it: the call is stored already on offer, in
// one Redis round trip. Without one the call is queued for the router (anx:alarms:<priority>).
struct first_route {
    bool to_command_centre = false;
    std::string station_id;  // when not to the command centre
    std::string station_name;
    double distance_km = 0;
    std::int64_t due_after_ms = 0;    // the tier's timer, from the time it is stored (0: none)
    std::vector<std::string> offers;  // operators it is offered to at once (ring-all)
    bool supervisors_online = false;  // the command centre wants to see the call
};

struct alarm_input {
    std::string device_id;
    std::string resident_id;
    // The device's sequence, or the server's own, e.g. "offline-3" for a supervision alarm (not
    // all digits: a repeat of one is always the same event).
    std::string sequence;
    std::string epoch;  // the device's counter epoch (epoch_text(Hello.sequence_epoch)), or empty
    std::string type;   // alarm_type_name()
    int priority = 1;
    std::int64_t device_time_ms = 0;
    int battery_percent = -1;
    std::optional<first_route> route;
};

struct ingest_result {
    bool stored = false;  // false: Redis unavailable or refused; nack the device
    std::string call_id;
    bool duplicate = false;  // a re-send of the press on record: call_id is that press's call
    std::int64_t received_ms = 0;
    bool routed = false;  // created and input.route applied (not queued for the router)
    // A new press that re-used a sequence on record (press_identity): the call it did not join,
    // and why; recorded in the new call's audit trail.
    std::string collided_with;
    std::string collision_reason;
    std::string error;
};

// Notes on a call: each at most max_note_bytes (a console note, a transfer note, a closing
// note); at most max_notes_per_call, plus the closing note (a full list never stops a close).
// Enforced by the scripts that write them, atomically with the write.
inline constexpr std::size_t max_note_bytes = 4000;
inline constexpr int max_notes_per_call = 50;

// A call id as ingest makes them: "C" and at least seven digits. Every call id from a peer is
// checked against this before a key is built from it (the store's transitions answer `bad_id`).
bool valid_call_id(std::string_view id);

// Outcome of a transition script. code is the script's first reply element ("ok", "missing",
// "state", "stale", "taken", "not_offered", "not_yours", "forbidden", "too_long",
// "too_many_notes", "none") or "unavailable" when Redis failed.
struct transition_result {
    std::string code;
    std::vector<std::string> data;  // the remaining reply elements
    bool ok() const { return code == "ok"; }
};

struct presence_entry {
    std::string station_id;
    std::string operator_id;
    std::int64_t lease_end_ms = 0;
};

struct device_seen_result {
    bool ok = false;
    bool was_offline = false;
    std::string offline_call;
    bool low_battery_episode = false;
};

class call_store {
  public:
    // ingest: an optional connection of its own for storing alarms (the ack path), so that acks
    // never wait behind routing commands queued on `redis`.
    call_store(std::shared_ptr<redis_connection> redis, std::string instance,
               std::shared_ptr<redis_connection> ingest = nullptr);

    const std::string& instance() const { return instance_; }

    // Makes ingest() report stored=false (the device is nacked and re-sends; the re-send finds
    // the same call) unless `replicas` replicas confirm the alarm within `timeout` (Redis WAIT).
    // Closes the window in which a failover promotes a replica that never got an acked alarm.
    // WAITs of concurrent ingests are batched: one in flight at a time covers every alarm stored
    // before it was sent. 0: off.
    void require_replicas(int replicas, std::chrono::milliseconds timeout);
    redis_connection& redis() { return *redis_; }  // the router's until it has typed reads
    // Whether the connection to Redis is up now, and its last measured round trip.
    bool connected() const;
    double round_trip_seconds() const;
    // Console session tokens and the time index of calls, on this store's connection.
    session_tokens sessions();
    call_scan scan(std::int64_t from_ms, std::int64_t to_ms, bool newest_first,
                   const std::string& cursor = {});

    // Stores a new call, or recognises a re-send of a press on record (press_identity decides
    // whether a sequence seen before is the same press; a compare-and-set keeps that decision
    // atomic across instances). stored=false when Redis did not confirm.
    boost::asio::awaitable<ingest_result> ingest(const alarm_input& alarm);
    // Notes the counter epoch a device announced in its Hello. Writes only when it changed:
    // a change means the device re-initialised its counter (counted as counter_resets).
    // Returns the previous epoch (empty if none), or nullopt when Redis did not answer.
    boost::asio::awaitable<std::optional<std::string>> note_epoch(const std::string& device,
                                                                  const std::string& epoch);

    // First routing (require_due=false) or an escalation step (true: the call's timer must be
    // due). station empty: the command centre.
    boost::asio::awaitable<transition_result> escalate(const std::string& call_id,
                                                       std::int64_t version,
                                                       const std::string& station_id,
                                                       const std::string& station_name,
                                                       double distance_km, std::int64_t next_due_ms,
                                                       int missed_threshold, bool require_due);
    boost::asio::awaitable<transition_result> apply_offers(
        const std::string& call_id, std::int64_t version,
        const std::vector<std::string>& operators);
    // Only an operator the call is on offer to (`not_offered`), or a supervisor (any waiting
    // call). Refused with "busy" when a (non-supervisor) operator already holds max_calls calls.
    boost::asio::awaitable<transition_result> accept(const std::string& call_id,
                                                     const std::string& op, bool supervisor,
                                                     int max_calls);
    // Only the holder (`not_yours`); the note at most max_note_bytes (`too_long`).
    boost::asio::awaitable<transition_result> close(const std::string& call_id,
                                                    const std::string& op,
                                                    const std::string& outcome,
                                                    const std::string& note,
                                                    std::int64_t wrap_up_ms);
    // Gives an accepted call back to the offering phase; station non-empty: transfer there.
    // Only the holder (`not_yours` otherwise). A note (transfer) is stored with it, or refuses the
    // whole release (`too_long`, `too_many_notes`).
    boost::asio::awaitable<transition_result> release(
        const std::string& call_id, const std::string& op, const std::string& reason,
        const std::string& station_id, const std::string& station_name, std::int64_t next_due_ms,
        const std::string& note = {});
    // Only by the holder (or the operator who closed it), an operator it is on offer to, or a
    // supervisor (`forbidden` otherwise); `too_long`, `too_many_notes`.
    boost::asio::awaitable<transition_result> add_note(const std::string& call_id,
                                                       const std::string& op,
                                                       const std::string& text, bool supervisor);
    // Bulk actions of a supervisor on waiting calls, each call checked and changed atomically
    // (one script per chunk of calls). code per call: ok, not_found, bad_state, not_technical
    // (close: only priority 3), too_many_notes (transfer with a note), bad_id, unavailable.
    struct bulk_item {
        std::string call_id;
        std::string code;
        std::string device_id;
        std::vector<std::string> offered;  // operators it was on offer to (to withdraw it from)
    };
    boost::asio::awaitable<std::vector<bulk_item>> bulk_close(const std::vector<std::string>& ids,
                                                              const std::string& supervisor,
                                                              const std::string& outcome,
                                                              const std::string& note,
                                                              const std::string& detail);
    boost::asio::awaitable<std::vector<bulk_item>> bulk_transfer(
        const std::vector<std::string>& ids, const std::string& supervisor,
        const std::string& station_id, const std::string& station_name, std::int64_t next_due_ms,
        const std::string& note, const std::string& detail);
    // auto_close_priority: waiting calls of this priority number or higher (less urgent) are
    // closed as false alarms by the cancel; 0 never.
    boost::asio::awaitable<transition_result> cancel(const std::string& device_id,
                                                     const std::string& call_id,
                                                     int auto_close_priority);
    boost::asio::awaitable<transition_result> auto_resolve(const std::string& call_id,
                                                           const std::string& outcome,
                                                           const std::string& detail);
    boost::asio::awaitable<transition_result> set_status(const std::string& op,
                                                         const std::string& status,
                                                         const std::string& reason);

    // The call as the console shows it; found=false if missing.
    struct loaded_call {
        bool ok = false;  // Redis answered
        bool found = false;
        std::vector<std::pair<std::string, std::string>> fields;
    };
    boost::asio::awaitable<loaded_call> load(const std::string& call_id);
    // Fills a console Call from load()'s fields plus the notes list.
    boost::asio::awaitable<bool> load_console_call(const std::string& call_id,
                                                   anxin::console::v1::Call& out);

    // Every open call (anx:calls:open) without its notes, for the supervisors' board: the ids in
    // one read, then the calls in pipelined batches of `batch` (10,000 calls: one round trip
    // per batch, not per call). Calls that closed meanwhile come back closed. nullopt when Redis
    // did not answer.
    boost::asio::awaitable<std::optional<std::vector<anxin::console::v1::Call>>> load_open_calls(
        std::size_t batch = 500);
    // Whether the call is on offer to the operator now; nullopt when Redis did not answer.
    boost::asio::awaitable<std::optional<bool>> offered_to(const std::string& call_id,
                                                           const std::string& op);

    // Open call ids of a device, oldest first.
    boost::asio::awaitable<std::vector<std::string>> device_open_calls(
        const std::string& device_id);

    // Operator presence leases ("station/operator" members of anx:presence).
    boost::asio::awaitable<bool> refresh_presence(const std::string& station_id,
                                                  const std::string& op, std::int64_t lease_ms);
    // Ends the lease now (the time is kept: it says since when the operator is away).
    boost::asio::awaitable<bool> drop_presence(const std::string& station_id,
                                               const std::string& op);
    // Every operator ever present, with lease ends; nullopt when Redis is unavailable. now_ms is
    // Redis's clock.
    boost::asio::awaitable<std::optional<std::vector<presence_entry>>> presence(
        std::int64_t& now_ms, redis_connection* on = nullptr);

    // Supervision.
    boost::asio::awaitable<device_seen_result> device_seen(const std::string& device,
                                                           int heartbeat_interval_s,
                                                           std::int64_t deadline_offset_ms,
                                                           int battery, std::int64_t recovery_ms);
    // {"raise", episode} | {"again", call} | {"no"}
    boost::asio::awaitable<transition_result> claim_offline(const std::string& device);
    // The offline call to resolve for a device that stayed back, if any.
    boost::asio::awaitable<std::optional<std::string>> recovered(const std::string& device);
    boost::asio::awaitable<std::optional<std::string>> battery_episode(const std::string& device,
                                                                       bool low);

    // --- Reads for the consoles and the HTTP API (call_queries.cpp); nullopt: Redis did not
    // answer.
    // Calls an operator holds (accepted), and calls on offer to them.
    boost::asio::awaitable<std::optional<std::vector<std::string>>> held_by(const std::string& op);
    boost::asio::awaitable<std::optional<std::vector<std::string>>> offers_of(
        const std::string& op);
    // Operators a call is on offer to.
    boost::asio::awaitable<std::optional<std::vector<std::string>>> offered_operators(
        const std::string& call_id);
    // Every open call, oldest first.
    boost::asio::awaitable<std::optional<std::vector<std::string>>> open_call_ids();
    // How many calls are open and waiting, and at most `limit` of each: the most urgent waiting
    // (by priority, then age) and the oldest open ones.
    struct open_window {
        std::uint32_t open_total = 0;
        std::uint32_t waiting_total = 0;
        std::vector<std::string> most_urgent_waiting;
        std::vector<std::string> oldest_open;
    };
    boost::asio::awaitable<std::optional<open_window>> open_calls_window(std::size_t limit);
    // Operators' names and call-handling state, one pipeline for all (in the order of `ids`).
    struct operator_row {
        std::string name;
        std::optional<std::string> status;  // none: never logged in
        std::int64_t active_calls = 0;
        std::int64_t wrap_until_ms = 0;
    };
    boost::asio::awaitable<std::optional<std::vector<operator_row>>> operator_rows(
        const std::vector<std::string>& ids);
    // One row per id, in order (a call gone since its id was read: a row with an empty id).
    boost::asio::awaitable<std::optional<std::vector<anxin::admin::v1::CallSummary>>> search_rows(
        const std::vector<std::string>& ids);
    // The fields a report counts; calls gone since their ids were read are left out.
    boost::asio::awaitable<std::optional<std::vector<call_summary>>> report_rows(
        const std::vector<std::string>& ids);
    // Devices offline now (supervision), at most `limit`.
    boost::asio::awaitable<std::optional<std::vector<std::string>>> offline_devices(
        std::size_t limit);
    // Open calls by state (for /metrics); empty when Redis did not answer.
    boost::asio::awaitable<std::vector<std::pair<std::string, std::int64_t>>> calls_by_state();
    // A call's audit trail, oldest first.
    boost::asio::awaitable<std::optional<std::vector<anxin::admin::v1::HistoryEntry>>> history(
        const std::string& call_id);

    boost::asio::awaitable<redis_result> eval(const char* body, std::vector<std::string> args);
    boost::asio::awaitable<redis_result> eval_on(redis_connection& conn, const char* body,
                                                 std::vector<std::string> args);

  private:
    struct wait_round;
    // Replicas that confirmed every write this connection made before the call; -1 if unknown.
    boost::asio::awaitable<std::int64_t> replicas_confirmed(redis_connection& conn);
    boost::asio::awaitable<void> run_wait_rounds(redis_connection& conn);

    std::shared_ptr<redis_connection> redis_;
    std::shared_ptr<redis_connection> ingest_;
    std::string instance_;
    int wait_replicas_ = 0;
    std::chrono::milliseconds wait_timeout_{500};
    std::shared_ptr<wait_round> next_round_;  // ingests waiting for the next WAIT to be sent
    bool wait_running_ = false;
};

std::string script_sha1(const std::string& body);

}  // namespace anxin::dispatcher
