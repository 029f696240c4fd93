#pragma once
// Every Redis key the dispatcher uses, in one place. Only the store layer (call_store, directory,
// session_tokens, login_guard, call_scan, event_bus) builds keys, through these; sessions, the
// router and the HTTP API ask the store for typed results. The Lua scripts (dispatcher/lua) name
// the same keys; docs/ARCHITECTURE.md describes what each holds.
//
// Ids are checked before a key is built from a peer's input (valid_call_id, the directory's id
// rules), so these only join strings.

#include <string>
#include <string_view>

namespace anxin::dispatcher::keys {

inline std::string join(std::string_view a, std::string_view b, std::string_view c = {}) {
    std::string out;
    out.reserve(a.size() + b.size() + c.size());
    out.append(a).append(b).append(c);
    return out;
}

// Calls.
inline std::string call(std::string_view id) {
    return join("anx:call:", id);
}
inline std::string call_notes(std::string_view id) {
    return join("anx:call:", id, ":notes");
}
inline std::string call_history(std::string_view id) {
    return join("anx:call:", id, ":history");
}
inline std::string call_offers(std::string_view id) {
    return join("anx:call:", id, ":offers");
}
inline constexpr const char* calls_open = "anx:calls:open";      // zset: open calls by received
inline constexpr const char* calls_active = "anx:calls:active";  // waiting, by priority then age
inline constexpr const char* calls_by_time = "anx:calls:by_time";
inline constexpr const char* calls_by_state = "anx:stats:calls_by_state";
inline constexpr const char* timers = "anx:timers";
// Queued alarms for the router, one stream per priority (1 most urgent).
inline std::string alarms(int priority) {
    return "anx:alarms:" + std::to_string(priority);
}

// Operators and their calls.
inline std::string operator_(std::string_view id) {
    return join("anx:operator:", id);
}
inline std::string operator_state(std::string_view id) {
    return join("anx:opstate:", id);
}
inline std::string operator_calls(std::string_view id) {
    return join("anx:operator:", id, ":calls");
}
inline std::string operator_offers(std::string_view id) {
    return join("anx:op:", id, ":offers");
}

// The directory.
inline std::string device(std::string_view id) {
    return join("anx:device:", id);
}
inline constexpr const char* device_prefix = "anx:device:";
inline std::string device_open_calls(std::string_view id) {
    return join("anx:device:", id, ":open");
}
inline std::string resident(std::string_view id) {
    return join("anx:resident:", id);
}
inline std::string resident_devices(std::string_view id) {
    return join("anx:resident:", id, ":devices");
}
inline std::string resident_calls(std::string_view id) {
    return join("anx:resident:", id, ":calls");
}
inline std::string station(std::string_view id) {
    return join("anx:station:", id);
}
inline std::string station_operators(std::string_view id) {
    return join("anx:station:", id, ":operators");
}
inline constexpr const char* stations = "anx:stations";
inline constexpr const char* directory_version = "anx:directory:version";

// Supervision.
inline constexpr const char* supervision = "anx:supervision";
inline constexpr const char* devices_offline = "anx:devices:offline";
inline constexpr const char* devices_recovering = "anx:devices:recovering";

// Consoles: sessions, logins, presence.
inline std::string session(std::string_view token_hash) {
    return join("anx:session:", token_hash);
}
inline std::string login_source(std::string_view source) {
    return join("anx:login:src:", source);
}
inline std::string login_account(std::string_view op) {
    return join("anx:login:acct:", op);
}
inline std::string login_pair(std::string_view op, std::string_view source) {
    return join("anx:login:pair:", op, join(":", source));
}
inline std::string login_trusted(std::string_view op, std::string_view source) {
    return join("anx:login:trusted:", op, join(":", source));
}

// Instances.
inline constexpr const char* router_leader = "anx:leader:router";
inline constexpr const char* bus_channel = "anx:bus";
inline constexpr const char* replication_barrier = "anx:replication-barrier";

}  // namespace anxin::dispatcher::keys
