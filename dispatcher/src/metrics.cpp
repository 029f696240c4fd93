#include "anxin/dispatcher/metrics.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>

namespace anxin::dispatcher {

namespace {
void line(std::string& out, const char* name, const char* type, const char* help, double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.9g", v);
    out += "# HELP ";
    out += name;
    out += ' ';
    out += help;
    out += "\n# TYPE ";
    out += name;
    out += ' ';
    out += type;
    out += '\n';
    out += name;
    out += ' ';
    out += buf;
    out += '\n';
}
}  // namespace

void per_second_peak::record(std::int64_t second, std::uint64_t frames, std::uint64_t bytes) {
    auto& s = slots_[static_cast<std::size_t>(second) % slots_.size()];
    if (s.second != second) s = slot{second, {}};
    s.f.frames = std::max(s.f.frames, frames);
    s.f.bytes = std::max(s.f.bytes, bytes);
}

per_second_peak::figures per_second_peak::max_over(std::int64_t now_second, int span) const {
    figures out;
    for (const auto& s : slots_) {
        if (s.second < now_second - span || s.second >= now_second) continue;
        out.frames = std::max(out.frames, s.f.frames);
        out.bytes = std::max(out.bytes, s.f.bytes);
    }
    return out;
}

std::string metrics::render(const std::vector<std::pair<std::string, std::int64_t>>& calls_by_state,
                            bool redis_up, double redis_rtt_seconds) const {
    std::string out;
    line(out, "anxin_device_connections", "gauge", "Open device TCP connections.",
         double(device_connections));
    line(out, "anxin_devices_authenticated", "gauge", "Device connections past the handshake.",
         double(devices_authenticated));
    line(out, "anxin_console_connections", "gauge", "Open console WebSocket connections.",
         double(console_connections));
    line(out, "anxin_device_auth_failures_total", "counter", "Rejected device handshakes.",
         double(device_auth_failures));
    line(out, "anxin_device_auth_unknown_ids_total", "counter",
         "Of the rejected handshakes, those naming a device id that is not provisioned (the "
         "device is told only \"authentication failed\", as for a wrong secret).",
         double(device_auth_unknown_ids));
    line(out, "anxin_device_secrets_unreadable_total", "counter",
         "Of the rejected handshakes, those whose stored device secret does not decrypt with this "
         "instance's secrets key (wrong --secrets-key-file?).",
         double(device_secrets_unreadable));
    line(out, "anxin_device_tls_handshake_failures_total", "counter",
         "TLS handshakes on the device port that failed (wrong CA on the device, plaintext sent "
         "to the TLS port, a client certificate refused, a scanner).",
         double(device_tls_failures));
    line(out, "anxin_device_protocol_errors_total", "counter",
         "Device connections closed for malformed, oversized or unexpected frames.",
         double(device_protocol_errors));
    line(out, "anxin_device_handshakes_shed_total", "counter",
         "Device connections still in their handshake closed to make room at the pending caps "
         "(the oldest goes first).",
         double(device_handshakes_shed));
    line(out, "anxin_http_connections_shed_total", "counter",
         "HTTP connections not yet a console closed to make room at the pending caps.",
         double(http_connections_shed));
    line(out, "anxin_device_handshakes_refused_total", "counter",
         "New device connections closed at once at the pending caps because every pending "
         "handshake was young (a surge of real ones in progress); the device retries.",
         double(device_handshakes_refused));
    line(out, "anxin_http_connections_refused_total", "counter",
         "New HTTP connections closed at once at the pending caps (every pending one young).",
         double(http_connections_refused));
    line(out, "anxin_accept_errors_total", "counter",
         "Failed accepts on either port (EMFILE: the open-files limit), each followed by a short "
         "back-off.",
         double(accept_errors));
    line(out, "anxin_http_tls_failures_total", "counter",
         "HTTPS connections whose TLS handshake failed or timed out.", double(http_tls_failures));
    line(out, "anxin_http_plain_redirected_total", "counter",
         "Plaintext HTTP requests on the HTTPS port, answered with a redirect (or an error) and "
         "closed.",
         double(http_plain_redirected));
    line(out, "anxin_http_unauthorized_total", "counter",
         "/api and /metrics requests without a valid bearer token, refused before any body was "
         "read.",
         double(http_unauthorized));
    line(out, "anxin_http_forbidden_total", "counter",
         "Requests whose token may not do what they ask, refused before any body was read.",
         double(http_forbidden));
    line(out, "anxin_http_bodies_too_large_total", "counter",
         "Requests whose body was over the route's limit (64 MiB for provisioning, 4 KiB "
         "elsewhere).",
         double(http_bodies_too_large));
    line(out, "anxin_http_busy_total", "counter",
         "Reports and searches refused (503, Retry-After) while others were still running.",
         double(http_busy));
    line(out, "anxin_pending_devices", "gauge", "Device connections before Welcome.",
         double(pending_devices));
    line(out, "anxin_pending_http", "gauge", "HTTP connections not (yet) a console.",
         double(pending_http));
    line(out, "anxin_alarms_received_total", "counter", "Alarm messages received from devices.",
         double(alarms_received));
    line(out, "anxin_alarms_acked_total", "counter", "Alarms acknowledged after being stored.",
         double(alarms_acked));
    line(out, "anxin_alarms_duplicate_total", "counter",
         "Re-sent alarms recognised as the press on record and acked with the original call id.",
         double(alarms_duplicate));
    line(out, "anxin_alarms_sequence_collisions_total", "counter",
         "New presses that re-used a sequence on record (a device that lost its counter): each "
         "made a new call, with the collision in its audit trail.",
         double(alarms_sequence_collisions));
    line(out, "anxin_device_counter_resets_total", "counter",
         "Hellos announcing a new sequence_epoch after another one (a device re-initialised its "
         "counter).",
         double(device_counter_resets));
    line(out, "anxin_alarms_nacked_total", "counter",
         "Alarms refused (store unavailable or invalid).", double(alarms_nacked));
    line(out, "anxin_heartbeats_total", "counter", "Device heartbeats.", double(heartbeats));
    line(out, "anxin_calls_routed_total", "counter", "Calls offered to a station by this instance.",
         double(calls_routed));
    line(out, "anxin_calls_routed_at_store_total", "counter",
         "Of those, calls whose first step was stored with the call itself (decided from the "
         "cached view of who is on duty; the others went through the router's queue).",
         double(calls_routed_at_store));
    line(out, "anxin_calls_escalated_total", "counter",
         "Escalation steps (next station, or the command centre) taken by this instance.",
         double(calls_escalated));
    line(out, "anxin_devices_went_offline_total", "counter",
         "Devices whose heartbeats stopped (one device_offline call per episode).",
         double(devices_went_offline));
    line(out, "anxin_low_battery_episodes_total", "counter",
         "Low-battery episodes that raised a call.", double(low_battery_episodes));
    line(out, "anxin_console_logins_total", "counter", "Successful console logins.",
         double(console_logins));
    line(out, "anxin_console_login_failures_total", "counter", "Refused console logins.",
         double(console_login_failures));
    line(out, "anxin_console_logins_rate_limited_total", "counter",
         "Console password logins refused by a guess limit (per source, per account, per "
         "account and source) without checking the password.",
         double(console_logins_rate_limited));
    line(out, "anxin_console_logins_shed_total", "counter",
         "Console password logins refused at once (\"busy\") because the password-hashing "
         "queue was full or the source already had its share of it.",
         double(console_logins_shed));
    line(out, "anxin_console_login_hash_jobs", "gauge",
         "Console password checks queued or running on the hashing thread.",
         double(login_hash_jobs));
    line(out, "anxin_console_login_passwords_hashed_total", "counter",
         "Console passwords checked against a hash (an unknown operator's against a dummy of "
         "the same cost).",
         double(login_passwords_hashed));
    line(out, "anxin_console_login_timeouts_total", "counter",
         "Console WebSockets closed because nobody logged in within 10 s.",
         double(console_login_timeouts));
    line(out, "anxin_console_bulk_closed_total", "counter",
         "Waiting technical calls closed by supervisors' bulk actions.",
         double(console_bulk_closed));
    line(out, "anxin_console_bulk_transferred_total", "counter",
         "Waiting calls sent to a station by supervisors' bulk actions.",
         double(console_bulk_transferred));
    line(out, "anxin_console_bad_requests_total", "counter",
         "Console messages that could not be parsed.", double(console_bad_requests));
    line(out, "anxin_console_frames_sent_total", "counter",
         "WebSocket frames written to consoles (a frame holds one event or a batch).",
         double(console_frames_sent));
    line(out, "anxin_console_bytes_sent_total", "counter",
         "Bytes of the frames written to consoles (payload, without WebSocket framing).",
         double(console_bytes_sent));
    line(out, "anxin_console_events_sent_total", "counter",
         "Events written to consoles (each event of a batch counted).",
         double(console_events_sent));
    line(out, "anxin_console_events_coalesced_total", "counter",
         "Events never sent because a newer one with the same key (call_changed of the same call, "
         "summary, board, queue) replaced them while they waited for the console's next frame.",
         double(console_events_coalesced));
    line(out, "anxin_console_offers_held_back_total", "counter",
         "Offers not sent when they arrived because the console's queue window (its 20 most "
         "urgent offers) was full; each is sent when its turn comes.",
         double(console_offers_held_back));
    line(out, "anxin_console_offers_held", "gauge",
         "Offers held back now, over all consoles of this instance.", double(console_offers_held));
    {
        const auto now_s = std::chrono::duration_cast<std::chrono::seconds>(
                               std::chrono::steady_clock::now().time_since_epoch())
                               .count();
        const auto peak = console_peak.max_over(now_s);
        line(out, "anxin_console_max_frames_per_second", "gauge",
             "Frames written to the busiest console in one second, the most in the last 10 "
             "complete seconds (pushed events: at most 10 a second, plus answers to requests).",
             double(peak.frames));
        line(out, "anxin_console_max_bytes_per_second", "gauge",
             "Bytes written to the busiest console in one second, the most in the last 10 "
             "complete seconds.",
             double(peak.bytes));
    }
    line(out, "anxin_http_requests_total", "counter", "HTTP requests served.",
         double(http_requests));
    line(out, "anxin_board_supervisors", "gauge",
         "Supervisor consoles on the board (logged in without all_calls) on this instance.",
         double(board_supervisors));
    line(out, "anxin_board_calls", "gauge",
         "Open calls on this instance's supervisors' board (0 while no supervisor watches).",
         double(board_calls));
    line(out, "anxin_board_resyncs_total", "counter",
         "Full reads of the open calls for the supervisors' board (activation, every 30 s, "
         "after a store outage).",
         double(board_resyncs));
    line(out, "anxin_board_events_total", "counter",
         "call_changed events applied to the supervisors' board.", double(board_events));
    line(out, "anxin_redis_up", "gauge", "1 if the command connection to Redis is up.",
         redis_up ? 1 : 0);
    line(out, "anxin_redis_rtt_seconds", "gauge", "Round-trip time of the latest Redis command.",
         redis_rtt_seconds);
    out +=
        "# HELP anxin_calls Calls by state (district-wide, from Redis).\n# TYPE anxin_calls "
        "gauge\n";
    for (const auto& [state, n] : calls_by_state) {
        out += "anxin_calls{state=\"" + state + "\"} " + std::to_string(n) + "\n";
    }
    return out;
}

}  // namespace anxin::dispatcher
