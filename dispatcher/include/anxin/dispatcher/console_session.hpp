#pragma once
// One operator console on the /console WebSocket (protocol/CONSOLE.md): login, offers pushed to
// it, accept, notes, close. Owns its WebSocket and outgoing queue; kept alive by its coroutines.
//
// What it pushes goes through the outbox (at most one frame per 100 ms, coalesced, in batches)
// and offers through the queue window (the 20 most urgent shown, the rest held): see
// console_outbox.hpp and offer_window.hpp.
//
// Threading: io thread only. A malformed message gets an `error` event and the connection stays
// open (a console is a person's screen; one bad click must not log them out); a console that does
// not read its events is closed, and so is one that does not log in within 10 s of the upgrade
// (or of logging out). Password logins go through login_guard (guess limits, bounded hashing);
// ids from the console are validated before any key is built from them.

#include "anxin/dispatcher/console_event_meta.hpp"
#include "anxin/dispatcher/console_outbox.hpp"
#include "anxin/dispatcher/event_bus.hpp"
#include "anxin/dispatcher/offer_window.hpp"
#include "anxin/dispatcher/server_context.hpp"
#include "anxin/protocol/maybe_tls_stream.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/websocket/stream.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace anxin::console::v1 {
class ConsoleRequest;
class ConsoleEvent;
class Watch;
}  // namespace anxin::console::v1

namespace anxin::dispatcher {

using protocol::maybe_tls_stream;

// Calls one bulk action may change.
inline constexpr std::size_t max_bulk_calls = 1000;

struct transition_result;

class console_session : public peer, public std::enable_shared_from_this<console_session> {
  public:
    console_session(maybe_tls_stream stream, server_context& ctx);
    ~console_session() override;

    // Completes the WebSocket handshake for `req` and serves until the console goes away.
    boost::asio::awaitable<void> run(
        boost::beast::http::request<boost::beast::http::string_body> req);
    void deliver(std::string json) override;
    void service_status(bool degraded, const std::string& detail) override;
    // Called once, at the first successful login (the connection stops being a stranger's).
    void on_authenticated(std::function<void()> f) { on_authenticated_ = std::move(f); }
    // Closes the connection (pending writes are dropped).
    void close() { shutdown(); }

  private:
    boost::asio::awaitable<void> writer();
    boost::asio::awaitable<void> presence_loop();
    boost::asio::awaitable<void> handle(anxin::console::v1::ConsoleRequest req);
    // With a session token instead of a password, op may be empty.
    boost::asio::awaitable<void> on_login(const std::string& req_id, std::string op,
                                          std::string password, std::string session_token);
    boost::asio::awaitable<void> on_accept(const std::string& req_id, const std::string& call_id);
    boost::asio::awaitable<void> on_close(const std::string& req_id, const std::string& call_id,
                                          const std::string& outcome, const std::string& note);
    boost::asio::awaitable<void> on_note(const std::string& req_id, const std::string& call_id,
                                         const std::string& text);
    // explicit_logout: the operator logged out (held calls are given back at once); otherwise the
    // console vanished (held calls wait for the reconnect grace period).
    boost::asio::awaitable<void> logout(bool explicit_logout);
    boost::asio::awaitable<void> on_set_status(const std::string& req_id,
                                               const std::string& status);
    boost::asio::awaitable<void> on_transfer(const std::string& req_id, const std::string& call_id,
                                             const std::string& station_id,
                                             const std::string& note);
    // Supervisors: bulk_close / bulk_transfer (console_bulk.cpp).
    boost::asio::awaitable<void> on_bulk(const std::string& req_id,
                                         const anxin::console::v1::ConsoleRequest& req);
    // The waiting calls a bulk action's filter matches now (technical_only: priority 3), at most
    // max_bulk_calls; nullopt when this instance cannot tell (its board is not loaded).
    boost::asio::awaitable<std::optional<std::vector<std::string>>> bulk_matches(
        const anxin::console::v1::Watch& filter, bool technical_only);
    // Calls this operator holds, every open call (supervisors) and calls on offer to them: sent
    // after login and again when the store comes back after an outage.
    boost::asio::awaitable<void> send_current_state();
    void announce_status(const std::string& status, const std::string& reason);
    void send(const anxin::console::v1::ConsoleEvent& ev);
    // Every event for the console comes through here: offers and their withdrawals through the
    // window, everything into the outbox.
    void feed(const console_event_meta& m, std::string json);
    void enqueue(std::string json, const std::string& key, bool answer);
    // Pushes a `queue` event if the window's numbers changed since the last one (or always).
    void queue_changed(bool always = false);
    // Forgets the window (logout), keeping the held-offers gauge right.
    void clear_window();
    // Counts a frame just written (metrics: totals and the per-second peak).
    void count_frame(std::size_t bytes, std::size_t events);
    void send_error(const std::string& req_id, const std::string& code, const std::string& message,
                    const std::string& call_id = {}, std::int64_t retry_after_ms = 0);
    // After a failed or refused login: this connection reads nothing more for a while, growing
    // with each failure (0.5 s more each time, up to 5 s).
    boost::asio::awaitable<void> pause_after_failure();
    // Closes the connection if nobody has logged in on it within login_deadline from now.
    void arm_login_deadline();
    // Sends a close frame with `reason` once the queued events are written, then closes.
    void close_with(std::string reason);
    // Sends the console the error that a failed transition means; false if r succeeded.
    bool refused(const std::string& req_id, const std::string& call_id, const transition_result& r,
                 const std::string& bad_state_message);
    void shutdown();

    // The supervisors' board (console_board.cpp): supervisors logged in without all_calls get
    // `summary` and `board` instead of a call_changed per change of every open call.
    // start_board joins this instance's board_feed (at login, before login_ok); board_loop
    // pushes (spawned after login_ok); stop_board leaves it (logout, disconnect).
    void start_board();
    void stop_board();
    boost::asio::awaitable<void> board_loop();
    void on_watch(const std::string& req_id, const anxin::console::v1::Watch& w);
    boost::asio::awaitable<void> on_get_call(const std::string& req_id, const std::string& call_id);
    // Sends the watched board (summary) if it differs from the last one sent, or always (force).
    void push_board(bool force, const std::string& req_id = {});
    void push_summary(bool force);
    // Whether a pushed event goes to this console (board mode: no call_changed).
    bool wanted(const std::string& json) const;

    boost::beast::websocket::stream<maybe_tls_stream> ws_;
    server_context& ctx_;
    std::string peer_;
    std::string source_;  // source_key() of the peer address: what login limits count by
    console_outbox outbox_;
    offer_window window_;
    std::size_t queue_offered_ = 0;  // the numbers of the last `queue` event
    std::size_t queue_shown_ = 0;
    std::size_t held_counted_ = 0;  // this session's share of stats.console_offers_held
    std::uint64_t coalesced_counted_ = 0;
    std::int64_t rate_second_ = -1;  // count_frame(): the current second and its totals
    std::uint64_t rate_frames_ = 0;
    std::uint64_t rate_bytes_ = 0;
    boost::asio::steady_timer wake_writer_;
    boost::asio::steady_timer presence_timer_;
    boost::asio::steady_timer login_timer_;  // the login deadline
    boost::asio::steady_timer board_timer_;  // paces summary and board pushes
    bool closed_ = false;
    std::optional<std::string> close_reason_;  // set: the writer closes after the queue
    std::string operator_id_;                  // empty until logged in
    std::string operator_name_;
    std::string station_id_;  // command_centre_station for supervisors
    bool supervisor_ = false;
    int failed_logins_ = 0;
    std::string session_token_;  // issued at login, revoked at logout
    std::function<void()> on_authenticated_;
    bool all_calls_ = false;   // Login.all_calls of this login
    bool board_mode_ = false;  // a supervisor without all_calls: summary and board
    std::unique_ptr<anxin::console::v1::Watch> watch_;
    std::optional<std::string> watch_req_;  // a watch to answer once the board has loaded
    std::uint64_t board_version_sent_ = 0;
    std::uint64_t board_epoch_ = 0;          // +1 at each start_board
    std::string board_sent_, summary_sent_;  // the last pushed, without their server times
};

}  // namespace anxin::dispatcher
