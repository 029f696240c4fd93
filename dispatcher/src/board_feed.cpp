#include "anxin/dispatcher/board_feed.hpp"

#include "anxin/dispatcher/call_store.hpp"
#include "anxin/dispatcher/directory.hpp"
#include "anxin/dispatcher/metrics.hpp"
#include "anxin/dispatcher/server_context.hpp"
#include "anxin/dispatcher/wall_clock.hpp"

#include <google/protobuf/util/json_util.h>
#include <spdlog/spdlog.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace asio = boost::asio;
namespace cv = anxin::console::v1;
using namespace std::chrono_literals;

namespace anxin::dispatcher {

namespace {
constexpr auto resync_interval = 30s;
constexpr auto retry_after_failure = 5s;
// The router publishes a new call's call_changed to the command centre only while its cached view
// of who is on duty says a supervisor is online (call_router: supervisors_online keeps that JSON
// and PUBLISH off the ingest path of a surge when nobody watches). A supervisor who has just
// logged in is in that view once every instance has re-read presence after the login's
// world_changed notice: well within a second or two. Rather than publish always, the board reads
// everything again this long after its first load, which covers calls stored in that gap.
constexpr auto settle_resync = 3s;
}  // namespace

board_feed::board_feed(server_context& ctx) : ctx_(ctx), wake_(ctx.io) {}

surge_thresholds board_feed::thresholds() const {
    return {ctx_.settings.surge_calls_per_minute, ctx_.settings.surge_waiting};
}

void board_feed::supervisor_joined() {
    ctx_.stats.board_supervisors = supervisors_ + 1;
    if (supervisors_++ > 0) return;
    const auto gen = ++generation_;
    ready_ = false;
    board_.clear();
    stations_seen_ = nullptr;
    asio::co_spawn(ctx_.io, run(gen), asio::detached);
}

void board_feed::supervisor_left() {
    if (supervisors_ <= 0) return;
    ctx_.stats.board_supervisors = --supervisors_;
    if (supervisors_ > 0) return;
    ++generation_;
    ready_ = false;
    board_.clear();
    ctx_.stats.board_calls = 0;
    wake_.cancel();
}

void board_feed::store_back() {
    if (active()) wake_.cancel();
}

void board_feed::on_station_event(const std::string& station, const std::string& json) {
    if (!active() || station != command_centre_station) return;
    // Supervisors also get status_changed events; only calls matter here. Cheap test first.
    if (json.find("\"call_changed\"") == std::string::npos) return;
    cv::ConsoleEvent ev;
    google::protobuf::util::JsonParseOptions po;
    po.ignore_unknown_fields = true;
    if (!google::protobuf::util::JsonStringToMessage(json, &ev, po).ok() ||
        !ev.has_call_changed()) {
        spdlog::warn("board: an event for the command centre did not parse");
        return;
    }
    if (board_.apply(ev.call_changed().call(), wall_ms())) ++ctx_.stats.board_events;
    ctx_.stats.board_calls = static_cast<std::int64_t>(board_.size());
}

asio::awaitable<bool> board_feed::resync(std::uint64_t generation) {
    // Stations first (areas), then the calls; the board is looked up again after each await.
    auto stations = co_await ctx_.dir.stations();
    if (generation != generation_) co_return true;
    if (stations && stations.get() != stations_seen_) {
        std::vector<board_station> list;
        for (const auto& s : *stations) list.push_back({s.id, s.name, s.area});
        board_.set_stations(list);
        stations_seen_ = stations.get();
    }
    const auto since = board_.seq();
    auto calls = co_await ctx_.store.load_open_calls();
    if (generation != generation_) co_return true;
    if (!calls) co_return false;
    board_.resync(*calls, since, wall_ms());
    ++ctx_.stats.board_resyncs;
    ctx_.stats.board_calls = static_cast<std::int64_t>(board_.size());
    if (!ready_) spdlog::info("board: {} open calls loaded for the supervisors", board_.size());
    ready_ = true;
    co_return true;
}

asio::awaitable<void> board_feed::run(std::uint64_t generation) {
    bool settled = false;
    while (generation == generation_) {
        const bool ok = co_await resync(generation);
        if (generation != generation_) co_return;
        auto wait = !ok ? retry_after_failure : settled ? resync_interval : settle_resync;
        if (ok && ready_) settled = true;
        wake_.expires_after(wait);
        boost::system::error_code ec;
        co_await wake_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
}

}  // namespace anxin::dispatcher
