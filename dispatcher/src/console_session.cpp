#include "anxin/dispatcher/console_session.hpp"

#include "anxin/dispatcher/wall_clock.hpp"

#include "console.pb.h"
#include "device.pb.h"

#include "anxin/dispatcher/call_router.hpp"
#include "anxin/dispatcher/call_state.hpp"
#include "anxin/dispatcher/call_store.hpp"
#include "anxin/dispatcher/directory.hpp"
#include "anxin/dispatcher/log_safe.hpp"
#include "anxin/dispatcher/login_limiter.hpp"
#include "anxin/dispatcher/metrics.hpp"
#include "anxin/dispatcher/redis_reply.hpp"
#include "anxin/dispatcher/session_tokens.hpp"

#include <google/protobuf/util/json_util.h>
#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>

#include <algorithm>
#include <set>
#include <tuple>
#include <vector>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace cv = anxin::console::v1;
namespace dv = anxin::device::v1;
using namespace std::chrono_literals;

namespace anxin::dispatcher {

namespace {

constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t max_console_message = 64 * 1024;
// A console that has not logged in this long after the upgrade (or after logging out) is closed:
// an unauthenticated WebSocket costs a descriptor and a pending slot and gives nothing back.
constexpr auto login_deadline = 10s;

dv::ServerMessage device_update(const std::string& call_id, dv::CallState state,
                                const std::string& station_name, const std::string& outcome = {}) {
    dv::ServerMessage m;
    auto* u = m.mutable_call_update();
    u->set_call_id(call_id);
    u->set_state(state);
    u->set_server_time_ms(wall_ms());
    u->set_station_name(station_name);
    u->set_outcome(outcome);
    return m;
}

}  // namespace

console_session::console_session(maybe_tls_stream stream, server_context& ctx)
    : ws_(std::move(stream)),
      ctx_(ctx),
      wake_writer_(ws_.get_executor()),
      presence_timer_(ws_.get_executor()),
      login_timer_(ws_.get_executor()),
      board_timer_(ws_.get_executor()) {
    boost::system::error_code ec;
    auto ep = beast::get_lowest_layer(ws_).socket().remote_endpoint(ec);
    peer_ = ec ? "?" : ep.address().to_string() + ":" + std::to_string(ep.port());
    source_ = ec ? "?" : source_key(ep.address().to_string());
    ++ctx_.stats.console_connections;
}

console_session::~console_session() {
    stop_board();
    --ctx_.stats.console_connections;
    ctx_.stats.console_offers_held -= std::int64_t(held_counted_);
}

void console_session::deliver(std::string json) {
    if (closed_ || !wanted(json)) return;
    // Described before the call: feed() takes the string by value.
    const auto meta = describe_console_json(json);
    feed(meta, std::move(json));
}

void console_session::send(const cv::ConsoleEvent& ev) {
    if (closed_) return;
    feed(describe_console_event(ev), to_console_json(ev));
}

void console_session::feed(const console_event_meta& m, std::string json) {
    const std::size_t held_before = window_.offered() - window_.shown_count();
    std::vector<std::string> out;
    bool windowed = true;
    if (m.kind == "offer" && !m.call_id.empty()) {
        out = window_.add({m.call_id, m.priority, m.received_ms, std::move(json)});
        if (!window_.shown(m.call_id)) ++ctx_.stats.console_offers_held_back;
    } else if (m.kind == "withdrawn" && !m.answer) {
        out = window_.withdraw(m.call_id, std::move(json));
    } else if (m.kind == "cancelled" && !m.answer) {
        out = window_.follow(m.call_id, std::move(json));
    } else if (m.kind == "accepted") {
        // The console learns from this that the call is no longer on offer: no withdrawn.
        enqueue(std::move(json), {}, m.answer);
        // At the limit of calls held, the router withdraws all their other offers.
        if (ctx_.settings.routing.max_calls_per_operator <= 1) window_.pause();
        out = window_.remove(m.call_id);
    } else {
        windowed = false;
        enqueue(std::move(json), m.coalescing_key(), m.answer);
    }
    for (auto& e : out) enqueue(std::move(e), {}, false);
    if (!windowed) return;
    const std::size_t held = window_.offered() - window_.shown_count();
    ctx_.stats.console_offers_held += std::int64_t(held) - std::int64_t(held_before);
    held_counted_ = held;
    queue_changed();
}

void console_session::enqueue(std::string json, const std::string& key, bool answer) {
    if (closed_) return;
    const bool wake = outbox_.empty() || answer;
    if (!outbox_.push(std::move(json), key, answer)) {
        spdlog::warn(
            "console {} ({}): not reading its events ({} events, {} bytes waiting), "
            "closing",
            log_safe(operator_id_), peer_, outbox_.pending_events(), outbox_.pending_bytes());
        shutdown();
        return;
    }
    ctx_.stats.console_events_coalesced += outbox_.coalesced() - coalesced_counted_;
    coalesced_counted_ = outbox_.coalesced();
    if (wake) wake_writer_.cancel_one();
}

void console_session::queue_changed(bool always) {
    if (!always && window_.offered() == queue_offered_ && window_.shown_count() == queue_shown_)
        return;
    queue_offered_ = window_.offered();
    queue_shown_ = window_.shown_count();
    cv::ConsoleEvent ev;
    ev.mutable_queue()->set_offered(static_cast<std::uint32_t>(queue_offered_));
    ev.mutable_queue()->set_shown(static_cast<std::uint32_t>(queue_shown_));
    enqueue(to_console_json(ev), "queue", false);
}

void console_session::clear_window() {
    ctx_.stats.console_offers_held -= std::int64_t(held_counted_);
    held_counted_ = 0;
    window_.clear();
    queue_offered_ = queue_shown_ = 0;
}

void console_session::count_frame(std::size_t bytes, std::size_t events) {
    ++ctx_.stats.console_frames_sent;
    ctx_.stats.console_bytes_sent += bytes;
    ctx_.stats.console_events_sent += events;
    const auto second = std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::steady_clock::now().time_since_epoch())
                            .count();
    if (second != rate_second_) {
        rate_second_ = second;
        rate_frames_ = rate_bytes_ = 0;
    }
    ++rate_frames_;
    rate_bytes_ += bytes;
    ctx_.stats.console_peak.record(second, rate_frames_, rate_bytes_);
}

void console_session::send_error(const std::string& req_id, const std::string& code,
                                 const std::string& message, const std::string& call_id,
                                 std::int64_t retry_after_ms) {
    cv::ConsoleEvent ev;
    ev.set_req(req_id);
    ev.mutable_error()->set_code(code);
    ev.mutable_error()->set_message(message);
    ev.mutable_error()->set_call_id(call_id);
    ev.mutable_error()->set_retry_after_ms(retry_after_ms);
    send(ev);
}

bool console_session::refused(const std::string& req_id, const std::string& call_id,
                              const transition_result& r, const std::string& bad_state_message) {
    if (r.ok()) return false;
    const std::string who =
        r.data.empty() || r.data[0].empty() ? std::string("another operator") : r.data[0];
    if (r.code == "unavailable")
        send_error(req_id, "unavailable", "store unavailable, try again", call_id);
    else if (r.code == "missing")
        send_error(req_id, "not_found", "no such call", call_id);
    else if (r.code == "taken")
        send_error(req_id, "already_taken", "taken by " + who, call_id);
    else if (r.code == "not_offered")
        send_error(req_id, "not_offered", "this call is not on offer to you", call_id);
    else if (r.code == "busy")
        send_error(req_id, "busy", "close the call you hold first", call_id);
    else if (r.code == "not_yours")
        send_error(req_id, "not_yours", "this call is held by " + who, call_id);
    else if (r.code == "forbidden")
        send_error(req_id, "forbidden",
                   "only the operator holding this call, an operator it is offered to or a "
                   "supervisor may add a note",
                   call_id);
    else if (r.code == "too_long")
        send_error(req_id, "note_too_long",
                   "a note is at most " + std::to_string(max_note_bytes) + " bytes", call_id);
    else if (r.code == "too_many_notes")
        send_error(req_id, "too_many_notes",
                   "this call has its maximum of " + std::to_string(max_notes_per_call) + " notes",
                   call_id);
    else if (r.code == "bad_id")
        send_error(req_id, "bad_id", "not a call id", call_id);
    else
        send_error(req_id, "bad_state",
                   bad_state_message + (r.data.empty() ? "" : " (call is " + r.data[0] + ")"),
                   call_id);
    return true;
}

void console_session::shutdown() {
    if (closed_) return;
    closed_ = true;
    wake_writer_.cancel();
    presence_timer_.cancel();
    login_timer_.cancel();
    board_timer_.cancel();
    beast::get_lowest_layer(ws_).close();
}

void console_session::close_with(std::string reason) {
    if (closed_ || close_reason_) return;
    close_reason_ = std::move(reason);
    wake_writer_.cancel_one();
}

void console_session::arm_login_deadline() {
    login_timer_.expires_after(login_deadline);
    asio::co_spawn(
        ws_.get_executor(),
        [self = shared_from_this()]() -> asio::awaitable<void> {
            boost::system::error_code ec;
            co_await self->login_timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
            if (ec || self->closed_ || !self->operator_id_.empty()) co_return;
            ++self->ctx_.stats.console_login_timeouts;
            spdlog::info("console ({}): no login within {} s, closing", self->peer_,
                         login_deadline.count());
            self->close_with("no login within " + std::to_string(login_deadline.count()) + " s");
        },
        asio::detached);
}

asio::awaitable<void> console_session::run(beast::http::request<beast::http::string_body> req) {
    auto self = shared_from_this();
    beast::get_lowest_layer(ws_).expires_never();
    // Pings every 15 s; a console that does not answer within 30 s is gone.
    websocket::stream_base::timeout to{std::chrono::seconds(10), std::chrono::seconds(30), true};
    ws_.set_option(to);
    ws_.read_message_max(max_console_message);
    auto [ec] = co_await ws_.async_accept(req, use_nothrow);
    if (ec) co_return;
    ws_.text(true);
    asio::co_spawn(
        ws_.get_executor(), [self] { return self->writer(); }, asio::detached);
    arm_login_deadline();

    beast::flat_buffer buf;
    for (;;) {
        buf.clear();
        auto [rec, n] = co_await ws_.async_read(buf, use_nothrow);
        if (rec) break;
        std::string text = beast::buffers_to_string(buf.data());
        cv::ConsoleRequest request;
        auto status = google::protobuf::util::JsonStringToMessage(text, &request);
        if (!status.ok()) {
            ++ctx_.stats.console_bad_requests;
            send_error("", "bad_request",
                       "not a ConsoleRequest: " + log_safe(std::string(status.message()), 200));
            continue;
        }
        co_await handle(std::move(request));
        if (closed_) break;
    }
    co_await logout(false);
    shutdown();
}

asio::awaitable<void> console_session::writer() {
    auto self = shared_from_this();
    while (!closed_) {
        if (outbox_.empty() && close_reason_) {
            // One write at a time: the close frame goes from here, after what was queued.
            websocket::close_reason why(websocket::close_code::policy_error);
            why.reason = *close_reason_;
            co_await ws_.async_close(why, use_nothrow);
            shutdown();
            co_return;
        }
        // Idle until something is queued; then until the next frame is due (an answer makes it
        // due at once, and wakes this wait).
        const auto now = console_outbox::clock::now();
        if (outbox_.empty() || outbox_.due() > now) {
            wake_writer_.expires_at(outbox_.empty() ? console_outbox::clock::time_point::max()
                                                    : outbox_.due());
            boost::system::error_code ec;
            co_await wake_writer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
            continue;
        }
        std::size_t events = 0;
        std::string frame = outbox_.take_frame(now, &events);
        auto [ec, n] = co_await ws_.async_write(asio::buffer(frame), use_nothrow);
        if (ec) {
            shutdown();
            co_return;
        }
        count_frame(frame.size(), events);
    }
}

asio::awaitable<void> console_session::handle(cv::ConsoleRequest req) {
    const std::string& id = req.req();
    switch (req.body_case()) {
        case cv::ConsoleRequest::kLogin:
            if (operator_id_.empty()) all_calls_ = req.login().all_calls();
            co_await on_login(id, req.login().operator_id(), req.login().password(),
                              req.login().session_token());
            co_return;
        case cv::ConsoleRequest::kPing: {
            cv::ConsoleEvent ev;
            ev.set_req(id);
            ev.mutable_pong()->set_server_time_ms(wall_ms());
            send(ev);
            co_return;
        }
        default:
            break;
    }
    if (operator_id_.empty()) {
        send_error(id, "not_logged_in", "log in first");
        co_return;
    }
    // Every id a console sends is checked before a key is built from it.
    const std::string* call_id = nullptr;
    switch (req.body_case()) {
        case cv::ConsoleRequest::kAccept:
            call_id = &req.accept().call_id();
            break;
        case cv::ConsoleRequest::kClose:
            call_id = &req.close().call_id();
            break;
        case cv::ConsoleRequest::kAddNote:
            call_id = &req.add_note().call_id();
            break;
        case cv::ConsoleRequest::kTransfer:
            call_id = &req.transfer().call_id();
            break;
        case cv::ConsoleRequest::kGetCall:
            call_id = &req.get_call().call_id();
            break;
        default:
            break;
    }
    if (call_id && !valid_call_id(*call_id)) {
        ++ctx_.stats.console_bad_requests;
        spdlog::info("console {} ({}): request with a malformed call id '{}'",
                     log_safe(operator_id_), peer_, log_safe(*call_id));
        send_error(id, "bad_id", "not a call id",
                   call_id->size() <= 64 && valid_id(*call_id) ? *call_id : std::string());
        co_return;
    }
    switch (req.body_case()) {
        case cv::ConsoleRequest::kAccept:
            co_await on_accept(id, req.accept().call_id());
            break;
        case cv::ConsoleRequest::kClose:
            co_await on_close(id, req.close().call_id(), req.close().outcome(), req.close().note());
            break;
        case cv::ConsoleRequest::kAddNote:
            co_await on_note(id, req.add_note().call_id(), req.add_note().text());
            break;
        case cv::ConsoleRequest::kSetStatus:
            co_await on_set_status(id, req.set_status().status());
            break;
        case cv::ConsoleRequest::kTransfer:
            co_await on_transfer(id, req.transfer().call_id(), req.transfer().station_id(),
                                 req.transfer().note());
            break;
        case cv::ConsoleRequest::kBulkClose:
        case cv::ConsoleRequest::kBulkTransfer:
            co_await on_bulk(id, req);
            break;
        case cv::ConsoleRequest::kWatch:
            on_watch(id, req.watch());
            break;
        case cv::ConsoleRequest::kGetCall:
            co_await on_get_call(id, req.get_call().call_id());
            break;
        case cv::ConsoleRequest::kLogout: {
            co_await logout(true);
            cv::ConsoleEvent ev;
            ev.set_req(id);
            ev.mutable_logged_out();
            send(ev);
            break;
        }
        default:
            send_error(id, "bad_request", "message has no known body");
            break;
    }
}

asio::awaitable<void> console_session::on_login(const std::string& req_id, std::string op,
                                                std::string password, std::string session_token) {
    auto self = shared_from_this();
    if (!operator_id_.empty()) {
        send_error(req_id, "bad_request", "already logged in as " + operator_id_);
        co_return;
    }
    // A console resuming with its valid session token is never refused by the guess limits:
    // however hard someone guesses at an account, the operator's live console gets back in.
    bool token_ok = false;
    if (password.empty() && !session_token.empty()) {
        bool unavailable = false;
        session_tokens tokens = ctx_.store.sessions();
        auto who = co_await tokens.check(session_token, &unavailable);
        if (unavailable) {
            send_error(req_id, "unavailable", "store unavailable, try again");
            co_return;
        }
        token_ok = who && (op.empty() || op == who->operator_id);
        if (token_ok) op = who->operator_id;
    }
    operator_record rec;
    bool ok = false;
    if (token_ok) {
        auto st = co_await ctx_.dir.find_operator(op, rec);
        if (st == lookup_status::unavailable) {
            send_error(req_id, "unavailable", "directory unavailable, try again");
            co_return;
        }
        ok = st == lookup_status::found;
    } else if (valid_id(op) && !password.empty()) {
        auto& guard = ctx_.dir.logins();
        guard.report_to(&ctx_.stats.login_hash_jobs, &ctx_.stats.login_passwords_hashed);
        const auto gate = co_await guard.check(op, source_);
        if (closed_) co_return;
        if (!gate.verdict.allowed) {
            ++ctx_.stats.console_logins_rate_limited;
            spdlog::debug("console ({}): login for '{}' refused by the {} limit for {} ms", peer_,
                          log_safe(op), gate.verdict.limit, gate.verdict.retry_after_ms);
            send_error(req_id, "rate_limited",
                       "too many failed logins; try again in " +
                           std::to_string((gate.verdict.retry_after_ms + 999) / 1000) + " s",
                       "", gate.verdict.retry_after_ms);
            co_await pause_after_failure();
            co_return;
        }
        auto st = co_await ctx_.dir.find_operator(op, rec);
        if (st == lookup_status::unavailable) {
            send_error(req_id, "unavailable", "directory unavailable, try again");
            co_return;
        }
        // An unknown operator is checked against a dummy hash: the same work, the same answer.
        // (Named, not a temporary: g++ 12 destroys non-trivial temporaries of a co_await
        // expression twice.)
        std::string stored = st == lookup_status::found ? rec.password_hash : std::string();
        auto checked = co_await guard.verify(source_, std::move(password), std::move(stored));
        if (checked == login_guard::password_check::busy) {
            ++ctx_.stats.console_logins_shed;
            const auto retry = guard.busy_retry_after_ms();
            send_error(
                req_id, "busy",
                "too many logins being checked; try again in " + std::to_string(retry) + " ms", "",
                retry);
            // Nothing more from this connection until then: a "busy" is no invitation to hammer.
            asio::steady_timer t(ws_.get_executor(), std::chrono::milliseconds(retry));
            boost::system::error_code ec;
            co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
            co_return;
        }
        ok = checked == login_guard::password_check::match;
        // Counted even if the console has gone meanwhile: hanging up must not hide a guess.
        co_await guard.record(op, source_, gate.trusted, ok);
    }
    if (closed_) co_return;
    if (!ok) {
        ++ctx_.stats.console_login_failures;
        spdlog::info("console ({}): failed login for '{}'", peer_, log_safe(op));
        co_await pause_after_failure();
        send_error(req_id, "bad_credentials", "unknown operator or wrong password");
        co_return;
    }
    const std::string station =
        rec.supervisor ? std::string(command_centre_station) : rec.station_id;
    if (!co_await ctx_.store.refresh_presence(station, rec.id,
                                              ctx_.settings.presence_lease.count())) {
        send_error(req_id, "unavailable", "cannot record presence, try again");
        co_return;
    }
    auto st_res = co_await ctx_.store.set_status(rec.id, "available", "logged in");
    if (!st_res.ok()) {
        send_error(req_id, "unavailable", "cannot record status, try again");
        co_return;
    }
    operator_id_ = rec.id;
    login_timer_.cancel();
    operator_name_ = rec.name;
    station_id_ = station;
    supervisor_ = rec.supervisor;
    ++ctx_.stats.console_logins;
    if (auto f = std::exchange(on_authenticated_, nullptr)) f();
    ctx_.registry.add_operator(operator_id_, station_id_, weak_from_this());
    // Before any await: no call_changed may slip through to a board console.
    if (supervisor_ && !all_calls_) start_board();
    spdlog::info("console ({}): {} {} logged in at {}", peer_,
                 supervisor_ ? "supervisor" : "operator", log_safe(operator_id_),
                 log_safe(station_id_));

    if (token_ok) {
        session_token_ = session_token;
    } else {
        session_tokens tokens = ctx_.store.sessions();
        const console_identity who{operator_id_, supervisor_ ? "supervisor" : "operator",
                                   station_id_};
        session_token_ = co_await tokens.issue(who);
    }
    std::string station_name = supervisor_ ? ctx_.settings.command_centre_name : std::string();
    if (auto stations = co_await ctx_.dir.stations(); stations && !supervisor_) {
        for (const auto& s : *stations) {
            if (s.id == station_id_) station_name = s.name;
        }
    }
    cv::ConsoleEvent ok_ev;
    ok_ev.set_req(req_id);
    auto* lo = ok_ev.mutable_login_ok();
    lo->set_operator_id(operator_id_);
    lo->set_name(operator_name_);
    lo->set_station_id(station_id_);
    lo->set_station_name(station_name);
    lo->set_server_time_ms(wall_ms());
    lo->set_role(supervisor_ ? "supervisor" : "operator");
    lo->set_status("available");
    lo->set_session_token(session_token_);
    send(ok_ev);
    announce_status("available", "logged in");

    asio::co_spawn(
        ws_.get_executor(), [self] { return self->presence_loop(); }, asio::detached);
    if (board_mode_)
        asio::co_spawn(
            ws_.get_executor(), [self] { return self->board_loop(); }, asio::detached);
    co_await send_current_state();
}

asio::awaitable<void> console_session::pause_after_failure() {
    auto self = shared_from_this();
    // Each failure on this connection costs a growing pause before it reads the next request.
    asio::steady_timer t(ws_.get_executor(),
                         std::chrono::milliseconds(500 * std::min(++failed_logins_, 10)));
    boost::system::error_code ec;
    co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

void console_session::service_status(bool degraded, const std::string& detail) {
    if (closed_ || operator_id_.empty()) return;
    cv::ConsoleEvent ev;
    ev.mutable_service_status()->set_degraded(degraded);
    ev.mutable_service_status()->set_detail(detail);
    send(ev);
    if (!degraded) {
        auto self = shared_from_this();
        asio::co_spawn(
            ws_.get_executor(),
            [self]() -> asio::awaitable<void> {
                // The lease may have lapsed while the store was away: renew it first.
                co_await self->ctx_.store.refresh_presence(
                    self->station_id_, self->operator_id_,
                    self->ctx_.settings.presence_lease.count());
                co_await self->send_current_state();
            },
            asio::detached);
    }
}

asio::awaitable<void> console_session::send_current_state() {
    auto self = shared_from_this();
    // Calls this operator already holds (a reconnect within the grace period).
    auto mine = co_await ctx_.store.held_by(operator_id_);
    if (mine) {
        for (const auto& id : *mine) {
            cv::ConsoleEvent ev;
            auto* acc = ev.mutable_accepted();
            if (!co_await ctx_.store.load_console_call(id, *acc->mutable_call())) continue;
            if (acc->call().state() != "accepted" || acc->call().operator_id() != operator_id_)
                continue;
            co_await ctx_.dir.resident_card(acc->call().resident_id(), id,
                                            *acc->mutable_resident());
            send(ev);
        }
    }
    if (supervisor_ && !board_mode_) {
        // all_calls: the command centre sees every open call in the district.
        auto open = co_await ctx_.store.open_call_ids();
        if (open) {
            for (const auto& id : *open) {
                cv::ConsoleEvent ev;
                if (co_await ctx_.store.load_console_call(
                        id, *ev.mutable_call_changed()->mutable_call()))
                    send(ev);
            }
        }
    }
    // Calls already on offer to this operator (a reconnect: the offer outlived the console)...
    const auto known = window_.call_ids();  // before the read: what arrives later is not stale
    auto offered = co_await ctx_.store.offers_of(operator_id_);
    if (offered) {
        // After an outage: offers whose withdrawal was lost leave the window (and the screen).
        std::set<std::string> now_offered(offered->begin(), offered->end());
        for (const auto& id : known) {
            if (now_offered.count(id) || !window_.contains(id)) continue;
            console_event_meta m;
            m.kind = "withdrawn";
            m.call_id = id;
            feed(m, R"({"withdrawn":{"call_id":")" + id + R"(","reason":"stale"}})");
        }
        // Most urgent first, so that the window fills in its own order (no call shown and then
        // pushed out by a more urgent one a moment later).
        std::vector<cv::ConsoleEvent> offers;
        for (const auto& id : *offered) {
            cv::ConsoleEvent ev;
            auto* o = ev.mutable_offer();
            if (!co_await ctx_.store.load_console_call(id, *o->mutable_call())) continue;
            if (o->call().state() != "offered" && o->call().state() != "received") continue;
            co_await ctx_.dir.resident_card(o->call().resident_id(), id, *o->mutable_resident());
            offers.push_back(std::move(ev));
        }
        std::sort(offers.begin(), offers.end(), [](const auto& a, const auto& b) {
            return std::tuple(a.offer().call().priority(), a.offer().call().received_ms()) <
                   std::tuple(b.offer().call().priority(), b.offer().call().received_ms());
        });
        for (const auto& ev : offers) send(ev);
    }
    // The console learns the size of its queue even when it is empty.
    if (!closed_ && !operator_id_.empty()) queue_changed(true);
    // ...and new ones (open at the station, or waiting for anyone) come from the router's pass.
    ctx_.router->world_changed();
}

void console_session::announce_status(const std::string& status, const std::string& reason) {
    cv::ConsoleEvent ev;
    auto* sc = ev.mutable_status_changed();
    sc->set_operator_id(operator_id_);
    sc->set_status(status);
    sc->set_reason(reason);
    ctx_.bus.to_station(station_id_, ev);
    if (!supervisor_) ctx_.bus.to_station(command_centre_station, ev);
}

asio::awaitable<void> console_session::presence_loop() {
    auto self = shared_from_this();
    const std::string op = operator_id_;
    while (!closed_ && operator_id_ == op) {
        presence_timer_.expires_after(ctx_.settings.presence_refresh);
        boost::system::error_code ec;
        co_await presence_timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        if (closed_ || operator_id_ != op) co_return;
        co_await ctx_.store.refresh_presence(station_id_, op, ctx_.settings.presence_lease.count());
    }
}

asio::awaitable<void> console_session::logout(bool explicit_logout) {
    if (operator_id_.empty()) co_return;
    auto self = shared_from_this();
    stop_board();
    std::string op = std::exchange(operator_id_, {});
    std::string station = station_id_;
    ctx_.registry.remove_operator(op, station, this);
    clear_window();
    presence_timer_.cancel();
    // Another console of the same operator (e.g. a second tab) keeps them present.
    bool still_here = false;
    for (const auto& [s, o] : ctx_.registry.local_operators()) still_here |= (o == op);
    if (!still_here) {
        co_await ctx_.store.drop_presence(station, op);
        if (explicit_logout) {
            // Logging out with a call in hand gives it back at once (notes stay with the call);
            // a console that merely vanished keeps its calls for the grace period.
            auto held = co_await ctx_.store.held_by(op);
            if (held) {
                for (const auto& id : *held) {
                    auto r = co_await ctx_.store.release(
                        id, op, "operator logged out", "", "",
                        wall_ms() + ctx_.settings.routing.tier_timeout_ms);
                    if (r.ok()) co_await ctx_.router->call_changed(id, true);
                }
            }
            co_await ctx_.store.set_status(op, "logged_out", "logged out");
        }
        cv::ConsoleEvent ev;
        auto* sc = ev.mutable_status_changed();
        sc->set_operator_id(op);
        sc->set_status(explicit_logout ? "logged_out" : "disconnected");
        sc->set_reason(explicit_logout ? "logged out" : "console connection lost");
        ctx_.bus.to_station(station, ev);
        if (!supervisor_) ctx_.bus.to_station(command_centre_station, ev);
    }
    if (explicit_logout) {
        // The token dies with the session it was issued to; a dropped console keeps it.
        session_tokens tokens = ctx_.store.sessions();
        co_await tokens.revoke(std::exchange(session_token_, {}));
    }
    spdlog::info("console ({}): operator {} {}", peer_, log_safe(op),
                 explicit_logout ? "logged out" : "disconnected");
    ctx_.router->world_changed();
    // Logged out but still connected: a stranger's connection again, with the same deadline.
    if (explicit_logout && !closed_) arm_login_deadline();
}

asio::awaitable<void> console_session::on_set_status(const std::string& req_id,
                                                     const std::string& status) {
    auto self = shared_from_this();
    if (status != "available" && status != "away") {
        send_error(req_id, "bad_request", "status must be available or away");
        co_return;
    }
    auto r = co_await ctx_.store.set_status(operator_id_, status, "set by the operator");
    if (!r.ok()) {
        send_error(req_id, "unavailable", "store unavailable, try again");
        co_return;
    }
    cv::ConsoleEvent ev;
    ev.set_req(req_id);
    auto* sc = ev.mutable_status_changed();
    sc->set_operator_id(operator_id_);
    sc->set_status(status);
    sc->set_reason("set by the operator");
    send(ev);
    announce_status(status, "set by the operator");
    ctx_.router->world_changed();
}

asio::awaitable<void> console_session::on_transfer(const std::string& req_id,
                                                   const std::string& call_id,
                                                   const std::string& station_id,
                                                   const std::string& note) {
    auto self = shared_from_this();
    if (!valid_id(station_id)) {
        send_error(req_id, "bad_id", "not a station id", call_id);
        co_return;
    }
    if (note.size() > max_note_bytes) {
        send_error(req_id, "note_too_long",
                   "a note is at most " + std::to_string(max_note_bytes) + " bytes", call_id);
        co_return;
    }
    std::string station_name;
    if (auto stations = co_await ctx_.dir.stations()) {
        for (const auto& s : *stations) {
            if (s.id == station_id) station_name = s.name;
        }
    }
    if (station_name.empty()) {
        send_error(req_id, "not_found", "no station " + station_id, call_id);
        co_return;
    }
    // The note travels in the same script as the transfer: checked (size, the notes cap) and
    // written atomically with it, while this operator still holds the call.
    auto r = co_await ctx_.store.release(call_id, operator_id_, "transferred to " + station_id,
                                         station_id, station_name,
                                         wall_ms() + ctx_.settings.routing.tier_timeout_ms, note);
    if (refused(req_id, call_id, r, "only a call you hold can be transferred")) co_return;
    spdlog::info("call {}: transferred by {} to {}", log_safe(call_id), log_safe(operator_id_),
                 log_safe(station_id));
    cv::ConsoleEvent ev;
    ev.set_req(req_id);
    ev.mutable_transferred()->set_call_id(call_id);
    ev.mutable_transferred()->set_station_id(station_id);
    send(ev);
    co_await ctx_.router->call_changed(call_id, true);
    ctx_.router->world_changed();
}

asio::awaitable<void> console_session::on_accept(const std::string& req_id,
                                                 const std::string& call_id) {
    auto self = shared_from_this();
    auto r = co_await ctx_.store.accept(call_id, operator_id_, supervisor_,
                                        ctx_.settings.routing.max_calls_per_operator);
    if (refused(req_id, call_id, r, "this call cannot be taken now")) co_return;
    // data: device, station_name, other offered operators...
    spdlog::info("call {}: accepted by operator {}", log_safe(call_id), log_safe(operator_id_));
    cv::ConsoleEvent ev;
    ev.set_req(req_id);
    auto* acc = ev.mutable_accepted();
    co_await ctx_.store.load_console_call(call_id, *acc->mutable_call());
    co_await ctx_.dir.resident_card(acc->call().resident_id(), call_id, *acc->mutable_resident());
    send(ev);
    ctx_.bus.to_device(r.data[0], device_update(call_id, dv::OPERATOR_ASSIGNED, r.data[1]));
    cv::ConsoleEvent w;
    w.mutable_withdrawn()->set_call_id(call_id);
    w.mutable_withdrawn()->set_reason("taken");
    w.mutable_withdrawn()->set_by_operator_id(operator_id_);
    for (std::size_t i = 2; i < r.data.size(); ++i) ctx_.bus.to_operator(r.data[i], w);
    co_await ctx_.router->call_changed(call_id, false);
    // This operator is busy now: their other offers go to colleagues.
    ctx_.router->world_changed();
}

asio::awaitable<void> console_session::on_close(const std::string& req_id,
                                                const std::string& call_id,
                                                const std::string& outcome,
                                                const std::string& note) {
    auto self = shared_from_this();
    if (!valid_outcome(outcome)) {
        send_error(req_id, "bad_outcome",
                   "outcome must be one of resolved_by_phone, staff_visited, ambulance_called, "
                   "family_contacted, false_alarm, technical",
                   call_id);
        co_return;
    }
    if (note.size() > max_note_bytes) {
        send_error(req_id, "note_too_long",
                   "a note is at most " + std::to_string(max_note_bytes) + " bytes", call_id);
        co_return;
    }
    auto r =
        co_await ctx_.store.close(call_id, operator_id_, outcome, note, ctx_.settings.wrap_up_ms);
    if (refused(req_id, call_id, r, "only an accepted call can be closed")) co_return;
    spdlog::info("call {}: closed by operator {} ({})", log_safe(call_id), log_safe(operator_id_),
                 log_safe(outcome));
    cv::ConsoleEvent ev;
    ev.set_req(req_id);
    ev.mutable_closed()->set_call_id(call_id);
    ev.mutable_closed()->set_outcome(outcome);
    send(ev);
    ctx_.bus.to_device(r.data[0], device_update(call_id, dv::CLOSED, "", outcome));
    co_await ctx_.router->call_changed(call_id, false);
    ctx_.router->world_changed();  // one call fewer: free for offers after the wrap-up
    if (ctx_.settings.wrap_up_ms > 0) {
        cv::ConsoleEvent wr;
        auto* sc = wr.mutable_status_changed();
        sc->set_operator_id(operator_id_);
        sc->set_status("available");
        sc->set_state("wrap_up");
        sc->set_reason("wrap-up for " + std::to_string(ctx_.settings.wrap_up_ms / 1000) + " s");
        send(wr);
    }
}

asio::awaitable<void> console_session::on_note(const std::string& req_id,
                                               const std::string& call_id,
                                               const std::string& text) {
    auto self = shared_from_this();
    if (text.empty() || text.size() > max_note_bytes) {
        send_error(req_id, text.empty() ? "bad_request" : "note_too_long",
                   "a note is 1-" + std::to_string(max_note_bytes) + " bytes", call_id);
        co_return;
    }
    // Who may write (holder, offered operator, supervisor) and the notes cap are checked by the
    // script that writes, atomically: another instance may hand the call on meanwhile.
    auto r = co_await ctx_.store.add_note(call_id, operator_id_, text, supervisor_);
    if (refused(req_id, call_id, r, "cannot add a note")) co_return;
    cv::ConsoleEvent ev;
    ev.set_req(req_id);
    ev.mutable_note_added()->set_call_id(call_id);
    auto* n = ev.mutable_note_added()->mutable_note();
    n->set_time_ms(std::stoll(r.data[0]));
    n->set_operator_id(operator_id_);
    n->set_text(text);
    send(ev);
}

}  // namespace anxin::dispatcher
