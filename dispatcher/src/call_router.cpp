#include "anxin/dispatcher/call_router.hpp"

#include "console.pb.h"
#include "device.pb.h"

#include "anxin/dispatcher/call_store.hpp"
#include "anxin/dispatcher/directory.hpp"
#include "anxin/dispatcher/event_bus.hpp"
#include "anxin/dispatcher/geo.hpp"
#include "anxin/dispatcher/metrics.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include <map>
#include <set>

namespace asio = boost::asio;
namespace cv = anxin::console::v1;
namespace dv = anxin::device::v1;
using namespace std::chrono_literals;

namespace anxin::dispatcher {

namespace {
constexpr const char* stream = "anx:alarms";
constexpr const char* group = "router";

asio::awaitable<void> sleep_for(std::chrono::milliseconds d) {
    asio::steady_timer t(co_await asio::this_coro::executor, d);
    boost::system::error_code ec;
    co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
}
}  // namespace

call_router::call_router(server_context& ctx, std::shared_ptr<redis_connection> blocking)
    : ctx_(ctx), blocking_(std::move(blocking)), sweep_timer_(ctx.io) {}

void call_router::start() {
    asio::co_spawn(ctx_.io, consume(), asio::detached);
    asio::co_spawn(ctx_.io, sweep_loop(), asio::detached);
}

void call_router::kick() { sweep_timer_.cancel(); }

asio::awaitable<bool> call_router::route(const std::string& call_id, const std::string& expected_state) {
    auto loaded = co_await ctx_.store.load(call_id);
    if (!loaded.ok) co_return false;
    if (!loaded.found) co_return true;  // nothing to route
    std::map<std::string, std::string> f(loaded.fields.begin(), loaded.fields.end());
    if (f["state"] != expected_state) co_return true;  // someone else moved it on

    resident_record resident;
    auto rs = co_await ctx_.dir.find_resident(f["resident"], resident);
    if (rs == lookup_status::unavailable) co_return false;
    auto online = co_await ctx_.store.online_operators();
    if (!online) co_return false;
    auto stations = co_await ctx_.dir.stations();
    if (!stations) co_return false;

    std::set<std::string> eligible;
    std::map<std::string, std::vector<std::string>> ops_at;
    for (const auto& o : *online) {
        eligible.insert(o.station_id);
        ops_at[o.station_id].push_back(o.operator_id);
    }
    std::vector<ranked_station> ranked;
    if (rs == lookup_status::found) {
        ranked = rank_stations(resident.home, *stations, eligible);
    } else {
        // A device whose resident record is gone still gets a person: any online station.
        spdlog::error("call {}: resident {} not found; offering to any online station", call_id, f["resident"]);
        ranked = rank_stations({0, 0}, *stations, eligible);
    }
    if (ranked.empty()) {
        if (expected_state == "received") {
            auto w = co_await ctx_.store.mark_waiting(call_id);
            if (w.code == "unavailable") co_return false;
            ++ctx_.stats.calls_waiting;
            spdlog::warn("call {}: no operator online anywhere; waiting", call_id);
        }
        co_return true;  // an offered call stays with its station until someone is online
    }
    const auto& best = ranked.front();
    auto& ops = ops_at[best.station->id];
    if (expected_state == "offered" && f["station"] == best.station->id) co_return true;

    auto r = co_await ctx_.store.offer(call_id, expected_state, best.station->id, best.station->name,
                                       best.distance_km, ops);
    if (r.code == "unavailable") co_return false;
    if (!r.ok()) co_return true;  // state moved on meanwhile
    ++ctx_.stats.calls_routed;
    spdlog::info("call {}: offered to station {} ({:.2f} km), {} operator(s)", call_id, best.station->id,
                 best.distance_km, ops.size());

    // data: device, resident, received_ms, previously offered ops...
    cv::ConsoleEvent ev;
    auto* offer = ev.mutable_offer();
    if (!co_await ctx_.store.load_console_call(call_id, *offer->mutable_call())) co_return true;
    if (rs == lookup_status::found) to_console_resident(resident, *offer->mutable_resident());
    for (const auto& op : ops) ctx_.bus.to_operator(op, ev);

    std::set<std::string> now_offered(ops.begin(), ops.end());
    for (std::size_t i = 3; i < r.data.size(); ++i) {
        if (now_offered.contains(r.data[i])) continue;
        cv::ConsoleEvent w;
        w.mutable_withdrawn()->set_call_id(call_id);
        w.mutable_withdrawn()->set_reason("rerouted");
        ctx_.bus.to_operator(r.data[i], w);
    }
    dv::ServerMessage m;
    auto* u = m.mutable_call_update();
    u->set_call_id(call_id);
    u->set_state(dv::OFFERED);
    u->set_station_name(best.station->name);
    u->set_server_time_ms(std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count());
    ctx_.bus.to_device(r.data[0], m);
    co_return true;
}

asio::awaitable<bool> call_router::handle_entries(const redis_reply& reply) {
    // XREADGROUP reply: [[stream, [[id, [field, value, ...]], ...]]]
    if (!reply.is_array()) co_return true;
    bool all_ok = true;
    for (const auto& s : reply.elements) {
        if (s.elements.size() != 2) continue;
        for (const auto& entry : s.elements[1].elements) {
            if (entry.elements.size() != 2) continue;
            const std::string& id = entry.elements[0].str;
            std::string call_id;
            const auto& fields = entry.elements[1].elements;
            for (std::size_t i = 0; i + 1 < fields.size(); i += 2) {
                if (fields[i].str == "call") call_id = fields[i + 1].str;
            }
            bool done = call_id.empty() || co_await route(call_id, "received");
            if (!done) {
                all_ok = false;
                continue;
            }
            // The call's state now records the decision; the queue entry has served its purpose.
            std::vector<std::vector<std::string>> done_cmds;
            done_cmds.push_back(redis_cmd("XACK", stream, group, id));
            done_cmds.push_back(redis_cmd("XDEL", stream, id));
            (void)co_await ctx_.store.redis().exec_many(std::move(done_cmds));
        }
    }
    co_return all_ok;
}

asio::awaitable<void> call_router::consume() {
    const std::string consumer = ctx_.settings.instance;
    bool group_ready = false;
    bool pending_first = true;  // on start, our own unacknowledged entries come first
    auto last_claim = std::chrono::steady_clock::now() - 1h;
    for (;;) {
        if (!blocking_->connected()) {
            co_await sleep_for(200ms);
            continue;
        }
        if (!group_ready) {
            // "0": entries added before the group existed are routed too.
            auto r = co_await blocking_->exec(redis_cmd("XGROUP", "CREATE", stream, group, "0", "MKSTREAM"));
            if (r.ok() || (r.st == redis_result::status::ok && r.reply.str.rfind("BUSYGROUP", 0) == 0)) {
                group_ready = true;
            } else {
                co_await sleep_for(500ms);
                continue;
            }
        }
        if (std::chrono::steady_clock::now() - last_claim > 5s) {
            // Entries another instance read but never acknowledged (it died) for 15 s are ours now.
            last_claim = std::chrono::steady_clock::now();
            auto c = co_await blocking_->exec(redis_cmd("XAUTOCLAIM", stream, group, consumer, "15000", "0-0", "COUNT", "100"));
            if (c.ok() && c.reply.elements.size() >= 2 && !c.reply.elements[1].elements.empty()) {
                spdlog::warn("router: claimed {} stalled alarm(s) from other instances",
                             c.reply.elements[1].elements.size());
                redis_reply wrapped;
                wrapped.type = redis_reply::kind::array;
                redis_reply s;
                s.type = redis_reply::kind::array;
                s.elements.push_back(redis_reply{redis_reply::kind::string, stream, 0, {}});
                s.elements.push_back(c.reply.elements[1]);
                wrapped.elements.push_back(std::move(s));
                co_await handle_entries(wrapped);
            }
        }
        auto r = co_await blocking_->exec(redis_cmd("XREADGROUP", "GROUP", group, consumer, "COUNT", "64", "BLOCK",
                                           pending_first ? "1" : "2000", "STREAMS", stream,
                                           pending_first ? "0" : ">"));
        if (!r.ok()) {
            if (r.st == redis_result::status::ok && r.reply.str.rfind("NOGROUP", 0) == 0) group_ready = false;
            pending_first = true;
            co_await sleep_for(200ms);
            continue;
        }
        if (pending_first) {
            bool any = r.reply.is_array() && !r.reply.elements.empty() &&
                       r.reply.elements[0].elements.size() == 2 && !r.reply.elements[0].elements[1].elements.empty();
            if (!any) {
                pending_first = false;
                continue;
            }
        }
        if (!co_await handle_entries(r.reply)) {
            pending_first = true;  // retry the ones that failed before taking new ones
            co_await sleep_for(200ms);
        }
    }
}

asio::awaitable<void> call_router::sweep_loop() {
    for (;;) {
        sweep_timer_.expires_after(2s);
        boost::system::error_code ec;
        co_await sweep_timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        if (!ctx_.store.redis().connected()) continue;
        co_await sweep();
    }
}

asio::awaitable<void> call_router::sweep() {
    for (const auto& id : co_await ctx_.store.waiting_calls()) co_await route(id, "received");
    // Offered calls at stations where nobody is online any more go to the nearest station that
    // has someone.
    auto online = co_await ctx_.store.online_operators();
    auto stations = co_await ctx_.dir.stations();
    if (!online || !stations || online->empty()) co_return;
    std::set<std::string> staffed;
    for (const auto& o : *online) staffed.insert(o.station_id);
    std::vector<std::vector<std::string>> cmds;
    std::vector<std::string> unstaffed;
    for (const auto& s : *stations) {
        if (staffed.contains(s.id)) continue;
        unstaffed.push_back(s.id);
        cmds.push_back({"SMEMBERS", "anx:station:" + s.id + ":offered"});
    }
    auto replies = co_await ctx_.store.redis().exec_many(std::move(cmds));
    for (std::size_t i = 0; i < replies.size(); ++i) {
        if (!replies[i].ok()) continue;
        for (const auto& c : replies[i].reply.elements) {
            // Drop stale members (accepted/closed calls are removed by their scripts; this is
            // belt and braces) by letting route() check the state.
            co_await route(c.str, "offered");
        }
    }
}

}  // namespace anxin::dispatcher
