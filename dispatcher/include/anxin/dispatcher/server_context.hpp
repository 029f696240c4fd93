#pragma once
// What every session and loop of one dispatcher instance shares. Owned by `server`; sessions hold
// a reference and must not outlive it (server stops the io_context before destroying it).

#include "anxin/dispatcher/call_policy.hpp"

#include <chrono>
#include <string>

#include <boost/asio/io_context.hpp>

namespace anxin::dispatcher {

class call_store;
class directory;
class session_registry;
class event_bus;
class call_router;
class board_feed;
class pending_connections;
struct metrics;

struct server_settings {
    std::string instance;     // unique per process, written to the audit trail
    std::string admin_token;  // bearer token for /api
    // Bearer token that may read /metrics and nothing else (Prometheus); empty: the admin token
    // only. A --metrics-listen address serves /metrics without a token.
    std::string metrics_token;
    std::chrono::seconds heartbeat_interval{60};  // told to devices in Welcome
    // From accept, not from the last byte: a peer trickling a byte at a time still times out.
    std::chrono::seconds handshake_timeout{10};
    // Connections that have not yet proved who they are (device: before Welcome; HTTP: before
    // upgrading to a console WebSocket), overall and per source address (connection_gate.hpp).
    std::size_t max_pending_devices = 1000;
    // Generous: thousands of buttons may share a carrier's NAT address.
    std::size_t max_pending_devices_per_address = 250;
    std::size_t max_pending_http = 256;
    std::size_t max_pending_http_per_address = 32;
    std::chrono::seconds write_timeout{10};  // a peer that will not read is dropped
    std::size_t max_queued_frames = 256;     // per device connection
    std::chrono::milliseconds presence_lease{30000};
    std::chrono::milliseconds presence_refresh{10000};
    std::chrono::milliseconds nack_retry_after{1000};
    // Acks wait until this many replicas have the alarm (Redis WAIT), at most wait_timeout;
    // 0: the primary's fsync is enough (call_store::require_replicas).
    int wait_replicas = 0;
    std::chrono::milliseconds wait_timeout{500};

    // Call handling (call_policy.hpp).
    routing_config routing;
    priority_table priorities = priority_table::defaults();
    supervision_config supervision;
    std::int64_t wrap_up_ms = 10000;        // after closing a call, before new offers
    int auto_close_cancelled_priority = 3;  // a cancel closes waiting calls of this priority or
                                            // less urgent (technical); 0: never
    std::string command_centre_name = "区级养老指挥中心";
    std::string map_tile_url;  // web console map background, "{z}/{x}/{y}" template; empty: none
    // The supervisors' board says "surge" at this many calls received in the last minute, or
    // this many waiting (call_board.hpp).
    std::uint32_t surge_calls_per_minute = 120;
    std::uint32_t surge_waiting = 200;
};

// Supervisors of the district command centre are registered and present under this pseudo
// station id.
inline constexpr const char* command_centre_station = "@cc";

struct server_context {
    boost::asio::io_context& io;
    server_settings settings;
    call_store& store;
    directory& dir;
    session_registry& registry;
    event_bus& bus;
    call_router* router = nullptr;  // set once the router exists (it needs this context)
    board_feed* board = nullptr;    // the supervisors' board of this instance (set by server)
    metrics& stats;
    pending_connections* device_gate = nullptr;  // set by server before it accepts
    pending_connections* http_gate = nullptr;
    // Reports and searches running now (each walks the call index page by page): at most two at
    // once, so that a supervisor's clicks cannot queue the shared connection behind them.
    int heavy_reads = 0;
};

}  // namespace anxin::dispatcher
