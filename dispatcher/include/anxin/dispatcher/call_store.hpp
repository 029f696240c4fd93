#pragma once
// Calls in Redis: durable ingest of alarms and every call transition, each one Lua script so it is
// atomic across dispatcher instances. Also operator presence leases.
//
// Threading: io thread only (it shares the redis_connection). Errors: each operation returns a
// result whose `code` names what happened; `unavailable` means Redis could not be asked (the
// caller nacks / reports "degraded"), which is never confused with a rule saying no.

#include "anxin/dispatcher/redis_connection.hpp"

#include <boost/asio/awaitable.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace anxin::console::v1 {
class Call;
}

namespace anxin::dispatcher {

struct alarm_input {
    std::string device_id;
    std::string resident_id;
    std::uint32_t sequence = 0;
    std::string type;  // alarm_type_name()
    std::int64_t device_time_ms = 0;
    int battery_percent = -1;
};

struct ingest_result {
    bool stored = false;       // false: Redis unavailable or refused; nack the device
    std::string call_id;
    bool duplicate = false;
    std::int64_t received_ms = 0;
    std::string error;
};

// Outcome of a transition script. code is the script's first reply element ("ok", "missing",
// "state", "taken", "not_offered", "not_yours", "none") or "unavailable" when Redis failed.
struct transition_result {
    std::string code;
    std::vector<std::string> data;  // the remaining reply elements
    bool ok() const { return code == "ok"; }
};

struct online_operator {
    std::string station_id;
    std::string operator_id;
};

class call_store {
public:
    call_store(std::shared_ptr<redis_connection> redis, std::string instance);

    const std::string& instance() const { return instance_; }
    redis_connection& redis() { return *redis_; }

    boost::asio::awaitable<ingest_result> ingest(const alarm_input& alarm);
    boost::asio::awaitable<transition_result> offer(const std::string& call_id,
                                                    const std::string& expected_state,
                                                    const std::string& station_id,
                                                    const std::string& station_name,
                                                    double distance_km,
                                                    const std::vector<std::string>& operators);
    boost::asio::awaitable<transition_result> join_offer(const std::string& call_id,
                                                         const std::string& station_id,
                                                         const std::string& op);
    boost::asio::awaitable<transition_result> mark_waiting(const std::string& call_id);
    boost::asio::awaitable<transition_result> accept(const std::string& call_id, const std::string& op);
    boost::asio::awaitable<transition_result> close(const std::string& call_id, const std::string& op,
                                                    const std::string& outcome, const std::string& note);
    boost::asio::awaitable<transition_result> add_note(const std::string& call_id,
                                                       const std::string& op, const std::string& text);
    boost::asio::awaitable<transition_result> cancel(const std::string& device_id,
                                                     const std::string& call_id);

    // The call as the console shows it; nullopt if missing or Redis unavailable (ok=false).
    struct loaded_call {
        bool ok = false;  // Redis answered
        bool found = false;
        std::vector<std::pair<std::string, std::string>> fields;
    };
    boost::asio::awaitable<loaded_call> load(const std::string& call_id);
    // Fills a console Call from load()'s fields plus the notes list.
    boost::asio::awaitable<bool> load_console_call(const std::string& call_id,
                                                   anxin::console::v1::Call& out);

    // Open call ids of a device, oldest first.
    boost::asio::awaitable<std::vector<std::string>> device_open_calls(const std::string& device_id);
    // Calls still waiting for an operator (state received, nobody online), oldest first.
    boost::asio::awaitable<std::vector<std::string>> waiting_calls();
    // Calls on offer at a station.
    boost::asio::awaitable<std::vector<std::string>> station_offered_calls(const std::string& station_id);

    // Operator presence leases ("station/operator" members of anx:presence).
    boost::asio::awaitable<bool> refresh_presence(const std::string& station_id,
                                                  const std::string& op, std::int64_t lease_ms);
    boost::asio::awaitable<bool> drop_presence(const std::string& station_id, const std::string& op);
    // nullopt when Redis is unavailable.
    boost::asio::awaitable<std::optional<std::vector<online_operator>>> online_operators();

    boost::asio::awaitable<redis_result> eval(const char* body, std::vector<std::string> args);

private:
    std::shared_ptr<redis_connection> redis_;
    std::string instance_;
};

std::string script_sha1(const std::string& body);

}  // namespace anxin::dispatcher
