#pragma once
// Counters for /metrics (Prometheus text format). Touched only on the io thread, so plain
// integers suffice.

#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace anxin::dispatcher {

// The busiest console's frames and bytes per second: each console reports its running totals for
// the current second after every frame; this keeps the highest per second for the last 16.
class per_second_peak {
  public:
    struct figures {
        std::uint64_t frames = 0;
        std::uint64_t bytes = 0;
    };
    // `second`: whole seconds of a monotonic clock; frames and bytes: one console's totals so
    // far in that second.
    void record(std::int64_t second, std::uint64_t frames, std::uint64_t bytes);
    // The highest frames and the highest bytes (each the busiest console's) over the `span`
    // (at most 15) complete seconds before `now_second`.
    figures max_over(std::int64_t now_second, int span = 10) const;

  private:
    struct slot {
        std::int64_t second = -1;
        figures f;
    };
    std::array<slot, 16> slots_{};
};

struct metrics {
    std::int64_t device_connections = 0;     // gauge: open device sockets
    std::int64_t devices_authenticated = 0;  // gauge
    std::int64_t console_connections = 0;    // gauge
    std::uint64_t device_auth_failures = 0;
    std::uint64_t device_auth_unknown_ids = 0;  // of those: no such device id
    std::uint64_t device_tls_failures = 0;      // TLS handshakes that failed on the device port
    std::uint64_t device_protocol_errors = 0;   // bad frames, oversized, unparsable, unexpected
    std::uint64_t alarms_received = 0;
    std::uint64_t alarms_acked = 0;
    std::uint64_t alarms_duplicate = 0;
    std::uint64_t alarms_sequence_collisions = 0;  // new presses that re-used a sequence
    std::uint64_t device_counter_resets = 0;       // a device announced a new counter epoch
    std::uint64_t alarms_nacked = 0;
    std::uint64_t heartbeats = 0;
    std::uint64_t calls_routed = 0;
    std::uint64_t calls_routed_at_store = 0;  // of calls_routed: first step stored with the call
    std::uint64_t calls_escalated = 0;
    std::uint64_t devices_went_offline = 0;
    std::uint64_t low_battery_episodes = 0;
    std::uint64_t console_logins = 0;
    std::uint64_t console_login_failures = 0;
    std::uint64_t console_logins_rate_limited = 0;  // refused by a guess limit, not checked
    std::uint64_t console_logins_shed = 0;          // refused "busy": the hashing queue was full
    std::uint64_t console_login_timeouts = 0;       // closed: no login within 10 s
    std::int64_t login_hash_jobs = 0;               // gauge: password checks queued or running
    std::uint64_t login_passwords_hashed = 0;       // checks run (unknown ids against a dummy)
    std::uint64_t console_bad_requests = 0;
    std::uint64_t console_bulk_closed = 0;       // calls closed by supervisors' bulk actions
    std::uint64_t console_bulk_transferred = 0;  // calls sent to a station by bulk actions
    std::uint64_t http_requests = 0;
    // Strangers: connections shed at the pending caps (connection_gate.hpp), accept failures
    // (EMFILE at the open-files limit), and how many are pending now.
    std::uint64_t device_handshakes_shed = 0;
    std::uint64_t http_connections_shed = 0;
    std::uint64_t device_handshakes_refused = 0;  // newcomers closed at once: all pending young
    std::uint64_t http_connections_refused = 0;
    std::uint64_t accept_errors = 0;
    // The HTTP port: failed TLS handshakes, plaintext requests answered with a redirect to
    // HTTPS, requests refused before their body was read (no or wrong token, no right), bodies
    // over the route's limit.
    std::uint64_t http_tls_failures = 0;
    std::uint64_t http_plain_redirected = 0;
    std::uint64_t http_unauthorized = 0;
    std::uint64_t http_forbidden = 0;
    std::uint64_t http_bodies_too_large = 0;
    std::uint64_t http_busy = 0;       // reports/searches refused while the previous ones run
    std::int64_t pending_devices = 0;  // gauge
    std::int64_t pending_http = 0;     // gauge
    // Device handshakes refused because the stored secret does not decrypt with this instance's
    // --secrets-key-file (also counted in device_auth_failures).
    std::uint64_t device_secrets_unreadable = 0;
    // The supervisors' board of this instance (board_feed.hpp).
    std::int64_t board_supervisors = 0;  // gauge: board-mode supervisor consoles logged in here
    std::int64_t board_calls = 0;        // gauge: open calls on the board (0 while inactive)
    std::uint64_t board_resyncs = 0;     // full reads of the open calls
    std::uint64_t board_events = 0;      // call_changed events applied
    // The console feed (console_outbox, offer_window): frames and bytes written to consoles,
    // events in them, events dropped because a newer one replaced them before they were sent,
    // offers not sent because the console's queue window was full, and how many are held now.
    std::uint64_t console_frames_sent = 0;
    std::uint64_t console_bytes_sent = 0;
    std::uint64_t console_events_sent = 0;
    std::uint64_t console_events_coalesced = 0;
    std::uint64_t console_offers_held_back = 0;
    std::int64_t console_offers_held = 0;  // gauge
    per_second_peak console_peak;

    // Renders everything; calls_by_state and redis_up/rtt are read by the caller.
    std::string render(const std::vector<std::pair<std::string, std::int64_t>>& calls_by_state,
                       bool redis_up, double redis_rtt_seconds) const;
};

}  // namespace anxin::dispatcher
