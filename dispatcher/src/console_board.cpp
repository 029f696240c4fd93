// console_session's part of the supervisors' board (protocol/CONSOLE.md, "The supervisors'
// board"): watch, get_call, and the paced summary and board pushes. The board itself is this
// instance's board_feed; nothing of it is held across a co_await.
#include "anxin/dispatcher/console_session.hpp"

#include "console.pb.h"

#include "anxin/dispatcher/board_feed.hpp"
#include "anxin/dispatcher/call_store.hpp"
#include "anxin/dispatcher/directory.hpp"
#include "anxin/dispatcher/metrics.hpp"
#include "anxin/dispatcher/wall_clock.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace asio = boost::asio;
namespace cv = anxin::console::v1;
using namespace std::chrono_literals;

namespace anxin::dispatcher {

namespace {
constexpr auto board_tick = 250ms;  // the board at most 4 times a second
constexpr auto summary_every = 1s;  // the summary at most once a second
}  // namespace

bool console_session::wanted(const std::string& json) const {
    // Pushed events carry no req, so the body's name comes first (proto_json writes fields in
    // number order, and req, field 1, is omitted when empty).
    return !board_mode_ || !json.starts_with("{\"call_changed\"");
}

void console_session::start_board() {
    if (!ctx_.board || board_mode_) return;
    board_mode_ = true;
    watch_ = std::make_unique<cv::Watch>();  // the default watch: every open call, first 50
    watch_req_.reset();
    board_sent_.clear();
    summary_sent_.clear();
    board_version_sent_ = 0;
    ++board_epoch_;
    ctx_.board->supervisor_joined();
}

void console_session::stop_board() {
    if (!board_mode_) return;
    board_mode_ = false;
    board_timer_.cancel();
    if (ctx_.board) ctx_.board->supervisor_left();
}

asio::awaitable<void> console_session::board_loop() {
    auto self = shared_from_this();
    const auto epoch = board_epoch_;  // a logout and a new login start a loop of their own
    auto summary_due = std::chrono::steady_clock::now();
    while (!closed_ && board_mode_ && board_epoch_ == epoch) {
        if (ctx_.board->ready()) {
            if (watch_req_)
                push_board(true, *std::exchange(watch_req_, std::nullopt));
            else
                push_board(false);
            if (std::chrono::steady_clock::now() >= summary_due) {
                push_summary(false);
                summary_due = std::chrono::steady_clock::now() + summary_every;
            }
        }
        board_timer_.expires_after(board_tick);
        boost::system::error_code ec;
        co_await board_timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
}

void console_session::push_board(bool force, const std::string& req_id) {
    const auto& board = ctx_.board->board();
    if (!force && board_version_sent_ == board.version() && !board_sent_.empty()) return;
    board_version_sent_ = board.version();
    auto b = board.query(*watch_, 0);
    auto bytes = b.SerializeAsString();
    if (!force && bytes == board_sent_) return;
    board_sent_ = std::move(bytes);
    b.set_server_time_ms(wall_ms());
    cv::ConsoleEvent ev;
    ev.set_req(req_id);
    *ev.mutable_board() = std::move(b);
    send(ev);
}

void console_session::push_summary(bool force) {
    // received_last_minute moves with the clock: computed every time (O(areas + stations)) and
    // compared without the server time.
    auto s = ctx_.board->board().summary(wall_ms(), ctx_.board->thresholds());
    s.set_server_time_ms(0);
    auto bytes = s.SerializeAsString();
    if (!force && bytes == summary_sent_) return;
    summary_sent_ = std::move(bytes);
    s.set_server_time_ms(wall_ms());
    cv::ConsoleEvent ev;
    *ev.mutable_summary() = std::move(s);
    send(ev);
}

void console_session::on_watch(const std::string& req_id, const cv::Watch& w) {
    if (!supervisor_) {
        send_error(req_id, "forbidden", "only supervisors watch the board");
        return;
    }
    if (!board_mode_) {
        send_error(req_id, "bad_request",
                   "this console logged in with all_calls: it gets call_changed, not the board");
        return;
    }
    if (auto why = check_watch(w); !why.empty()) {
        ++ctx_.stats.console_bad_requests;
        send_error(req_id, "bad_request", why);
        return;
    }
    *watch_ = w;
    if (ctx_.board->ready())
        push_board(true, req_id);
    else
        watch_req_ = req_id;  // answered once loaded
}

asio::awaitable<void> console_session::on_get_call(const std::string& req_id,
                                                   const std::string& call_id) {
    auto self = shared_from_this();
    const std::string op = operator_id_;
    cv::ConsoleEvent ev;
    ev.set_req(req_id);
    auto* d = ev.mutable_call_detail();
    auto* c = d->mutable_call();
    if (!co_await ctx_.store.load_console_call(call_id, *c)) {
        // load_console_call says only "not loaded": a store that is away is not "no such call".
        if (!ctx_.store.connected())
            send_error(req_id, "unavailable", "store unavailable, try again", call_id);
        else
            send_error(req_id, "not_found", "no such call", call_id);
        co_return;
    }
    if (!supervisor_) {
        // Operators: a call held by them, or on offer to them now.
        bool mine = c->state() == "accepted" && c->operator_id() == op;
        if (!mine && (c->state() == "offered" || c->state() == "received")) {
            auto offered = co_await ctx_.store.offered_to(call_id, op);
            if (!offered) {
                send_error(req_id, "unavailable", "store unavailable, try again", call_id);
                co_return;
            }
            mine = *offered;
        }
        if (!mine) {
            send_error(req_id, "forbidden", "this call is neither on offer to you nor yours",
                       call_id);
            co_return;
        }
    }
    co_await ctx_.dir.resident_card(c->resident_id(), call_id, *d->mutable_resident());
    if (closed_) co_return;
    send(ev);
}

}  // namespace anxin::dispatcher
