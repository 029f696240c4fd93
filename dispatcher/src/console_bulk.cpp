// A supervisor's bulk actions on waiting calls (protocol/CONSOLE.md, "Bulk actions"): close a
// group of technical alarms, or send a group of waiting calls to a station. Each call is checked
// and changed atomically by the store's script; the console is told which were done and why the
// others were not.
#include "anxin/dispatcher/console_session.hpp"

#include "console.pb.h"

#include "anxin/dispatcher/board_feed.hpp"
#include "anxin/dispatcher/call_board.hpp"
#include "anxin/dispatcher/call_router.hpp"
#include "anxin/dispatcher/call_state.hpp"
#include "anxin/dispatcher/call_store.hpp"
#include "anxin/dispatcher/directory.hpp"
#include "anxin/dispatcher/log_safe.hpp"
#include "anxin/dispatcher/metrics.hpp"
#include "anxin/dispatcher/wall_clock.hpp"

#include <spdlog/spdlog.h>

#include <unordered_set>

namespace asio = boost::asio;
namespace cv = anxin::console::v1;

namespace anxin::dispatcher {

asio::awaitable<void> console_session::on_bulk(const std::string& req_id,
                                               const cv::ConsoleRequest& req) {
    auto self = shared_from_this();
    const bool closing = req.has_bulk_close();
    const auto& listed = closing ? req.bulk_close().call_ids() : req.bulk_transfer().call_ids();
    const bool has_filter =
        closing ? req.bulk_close().has_filter() : req.bulk_transfer().has_filter();
    const std::string& note = closing ? req.bulk_close().note() : req.bulk_transfer().note();
    if (!supervisor_) {
        send_error(req_id, "forbidden", "bulk actions are for supervisors");
        co_return;
    }
    if (listed.empty() == !has_filter) {
        send_error(req_id, "bad_request", "give either call_ids or a filter");
        co_return;
    }
    if (has_filter) {
        const auto why =
            check_watch(closing ? req.bulk_close().filter() : req.bulk_transfer().filter());
        if (!why.empty()) {
            send_error(req_id, "bad_request", "filter: " + why);
            co_return;
        }
    }
    if (static_cast<std::size_t>(listed.size()) > max_bulk_calls) {
        send_error(req_id, "bad_request",
                   "at most " + std::to_string(max_bulk_calls) + " calls per bulk action");
        co_return;
    }
    if (note.size() > max_note_bytes) {
        send_error(req_id, "note_too_long",
                   "a note is at most " + std::to_string(max_note_bytes) + " bytes");
        co_return;
    }
    if (closing && !valid_outcome(req.bulk_close().outcome())) {
        send_error(req_id, "bad_outcome",
                   "outcome must be one of resolved_by_phone, staff_visited, ambulance_called, "
                   "family_contacted, false_alarm, technical");
        co_return;
    }
    std::string station_id, station_name;
    if (!closing) {
        station_id = req.bulk_transfer().station_id();
        if (!valid_id(station_id)) {
            send_error(req_id, "bad_id", "not a station id");
            co_return;
        }
        if (auto stations = co_await ctx_.dir.stations()) {
            for (const auto& s : *stations) {
                if (s.id == station_id) station_name = s.name;
            }
        }
        if (station_name.empty()) {
            send_error(req_id, "not_found", "no station " + station_id);
            co_return;
        }
    }
    // The calls: the listed ids (each once), or what the filter matches on this instance's board
    // now. Either way the store's script decides, call by call, whether it may still be done.
    std::vector<std::string> ids;
    if (has_filter) {
        const auto& filter = closing ? req.bulk_close().filter() : req.bulk_transfer().filter();
        auto matched = co_await bulk_matches(filter, closing);
        if (!matched) {
            send_error(req_id, "unavailable", "the board is not loaded yet, try again");
            co_return;
        }
        ids = std::move(*matched);
    } else {
        std::unordered_set<std::string> seen;
        for (const auto& id : listed) {
            if (seen.insert(id).second) ids.push_back(id);
        }
    }
    const std::string detail = std::string("bulk ") + (closing ? "close" : "transfer") + " of " +
                               std::to_string(ids.size()) + " calls by supervisor " + operator_id_;
    // (One co_await per statement: g++ 12 miscompiles a co_await in each arm of a ?: .)
    std::vector<call_store::bulk_item> items;
    if (closing) {
        items = co_await ctx_.store.bulk_close(ids, operator_id_, req.bulk_close().outcome(), note,
                                               detail);
    } else {
        items = co_await ctx_.store.bulk_transfer(ids, operator_id_, station_id, station_name,
                                                  wall_ms() + ctx_.settings.routing.tier_timeout_ms,
                                                  note, detail);
    }
    cv::ConsoleEvent ev;
    ev.set_req(req_id);
    auto* result = ev.mutable_bulk_result();
    result->set_action(closing ? "close" : "transfer");
    for (const auto& item : items) {
        if (item.code != "ok") {
            auto* refusal = result->add_refused();
            refusal->set_call_id(item.call_id);
            refusal->set_code(item.code);
            continue;
        }
        result->add_done_call_ids(item.call_id);
        if (!item.offered.empty()) {
            cv::ConsoleEvent w;
            w.mutable_withdrawn()->set_call_id(item.call_id);
            w.mutable_withdrawn()->set_reason(closing ? "closed" : "rerouted");
            w.mutable_withdrawn()->set_by_operator_id(operator_id_);
            ctx_.bus.to_operators(item.offered, w);
        }
    }
    const auto done = result->done_call_ids_size();
    (closing ? ctx_.stats.console_bulk_closed : ctx_.stats.console_bulk_transferred) +=
        static_cast<std::uint64_t>(done);
    spdlog::info(
        "supervisor {}: bulk {} of {} calls{}: {} done, {} refused", log_safe(operator_id_),
        closing ? "close" : "transfer", ids.size(),
        closing ? " (" + log_safe(req.bulk_close().outcome()) + ")" : " to " + log_safe(station_id),
        done, result->refused_size());
    // Copied before co_await: the result event is sent once every call's change is out.
    std::vector<std::string> changed(result->done_call_ids().begin(),
                                     result->done_call_ids().end());
    for (const auto& id : changed) co_await ctx_.router->call_changed(id, true);
    if (done > 0) ctx_.router->world_changed();
    if (closed_) co_return;
    send(ev);
}

// The board is this instance's view of the open calls (board_feed.hpp), loaded while a
// supervisor in board mode is logged in here; the store's script then checks each call again.
asio::awaitable<std::optional<std::vector<std::string>>> console_session::bulk_matches(
    const cv::Watch& filter, bool technical_only) {
    if (!ctx_.board || !ctx_.board->ready()) co_return std::nullopt;
    cv::Watch f = filter;
    if (technical_only) {
        f.clear_priorities();
        f.add_priorities(3);
    }
    co_return ctx_.board->board().match(f, max_bulk_calls);
}

}  // namespace anxin::dispatcher
