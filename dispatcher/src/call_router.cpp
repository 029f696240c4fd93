#include "anxin/dispatcher/call_router.hpp"

#include "anxin/dispatcher/wall_clock.hpp"

#include "console.pb.h"
#include "device.pb.h"

#include "anxin/dispatcher/call_state.hpp"
#include "anxin/dispatcher/call_store.hpp"
#include "anxin/dispatcher/directory.hpp"
#include "anxin/dispatcher/event_bus.hpp"
#include "anxin/dispatcher/log_safe.hpp"
#include "anxin/dispatcher/metrics.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <set>

namespace asio = boost::asio;
namespace cv = anxin::console::v1;
namespace dv = anxin::device::v1;
using namespace std::chrono_literals;

namespace anxin::dispatcher {

namespace {
// One stream per priority (1 emergency, 2 urgent, 3 technical), drained in that order.
const std::vector<std::string> streams = {"anx:alarms:1", "anx:alarms:2", "anx:alarms:3"};
constexpr const char* group = "router";
constexpr const char* leader_key = "anx:leader:router";

asio::awaitable<void> sleep_for(std::chrono::milliseconds d) {
    asio::steady_timer t(co_await asio::this_coro::executor, d);
    boost::system::error_code ec;
    co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

std::vector<std::string> split_commas(const std::string& s) {
    std::vector<std::string> out;
    std::size_t start = 0;
    while (start < s.size()) {
        auto comma = s.find(',', start);
        out.push_back(
            s.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    return out;
}

// The device's "help is being arranged" update: its call is on offer at station_name.
dv::ServerMessage offered_update(const std::string& call_id, const std::string& station_name) {
    dv::ServerMessage m;
    auto* u = m.mutable_call_update();
    u->set_call_id(call_id);
    u->set_state(dv::OFFERED);
    u->set_server_time_ms(wall_ms());
    u->set_station_name(station_name);
    return m;
}

std::chrono::steady_clock::time_point clock_type_max() {
    return std::chrono::steady_clock::time_point::max();
}
std::chrono::steady_clock::time_point clock_type_now() {
    return std::chrono::steady_clock::now();
}

}  // namespace

call_router::call_router(server_context& ctx, std::shared_ptr<redis_connection> blocking,
                         std::shared_ptr<redis_connection> view)
    : ctx_(ctx), blocking_(std::move(blocking)), view_(std::move(view)), kick_timer_(ctx.io) {}

void call_router::start() {
    asio::co_spawn(ctx_.io, consume(), asio::detached);
    asio::co_spawn(ctx_.io, leader_loop(), asio::detached);
    asio::co_spawn(ctx_.io, kicked_loop(), asio::detached);
}

void call_router::kick() {
    kick_pending_ = true;
    kick_timer_.cancel();
}

asio::awaitable<void> call_router::kicked_loop() {
    for (;;) {
        if (!kick_pending_) {
            kick_timer_.expires_after(1h);
            boost::system::error_code ec;
            co_await kick_timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
            continue;
        }
        if (reconciling_) {
            // A pass is under way (waiting on Redis): let it finish; the kick stays pending.
            co_await sleep_for(20ms);
            continue;
        }
        kick_pending_ = false;
        if (ctx_.store.redis().connected()) co_await reconcile();
    }
}

asio::awaitable<void> call_router::leader_loop() {
    const std::string me = ctx_.settings.instance;
    for (;;) {
        co_await sleep_for(500ms);
        if (!ctx_.store.redis().connected()) continue;
        // A lease, not a lock held forever: if this instance dies another takes over in 3 s. The
        // work itself is safe to run twice; the lease only avoids doing it on every instance.
        auto r =
            co_await ctx_.store.redis().exec(redis_cmd("SET", leader_key, me, "NX", "PX", "3000"));
        bool leader = r.ok() && r.reply.type == redis_reply::kind::status;
        if (!leader) {
            auto who = co_await ctx_.store.redis().exec(redis_cmd("GET", leader_key));
            if (who.ok() && who.reply.str == me) {
                co_await ctx_.store.redis().exec(redis_cmd("PEXPIRE", leader_key, "3000"));
                leader = true;
            }
        }
        if (!leader) continue;
        const bool full =
            ctx_.settings.routing.offer_strategy == routing_config::strategy::longest_idle ||
            clock_type_now() - last_full_ > 10s;
        co_await reconcile(full);
        co_await supervise();
    }
}

asio::awaitable<std::optional<call_router::world>> call_router::observe() {
    const auto gen = world_gen_;
    const auto started = clock_type_now();
    world w;
    auto present = co_await ctx_.store.presence(w.now, view_.get());
    if (!present) co_return std::nullopt;
    std::vector<std::vector<std::string>> cmds;
    for (const auto& p : *present) {
        cmds.push_back(redis_cmd("HMGET", "anx:opstate:" + p.operator_id, "status", "active",
                                 "wrap_until", "idle_since", "missed"));
    }
    auto replies = co_await view_->exec_many(std::move(cmds));
    for (std::size_t i = 0; i < present->size(); ++i) {
        const auto& p = (*present)[i];
        if (!replies[i].ok() || replies[i].reply.elements.size() != 5) co_return std::nullopt;
        const auto& e = replies[i].reply.elements;
        operator_snapshot op;
        op.id = p.operator_id;
        op.station_id = p.station_id;
        op.supervisor = p.station_id == command_centre_station;
        op.online = p.lease_end_ms > w.now;
        op.offline_since_ms = op.online ? 0 : p.lease_end_ms;
        op.status = parse_operator_status(e[0].str).value_or(operator_status::logged_out);
        op.active_calls = static_cast<int>(e[1].as_int());
        op.wrap_until_ms = e[2].as_int();
        op.idle_since_ms = e[3].as_int();
        op.missed_in_row = static_cast<int>(e[4].as_int());
        // An operator moved to another station has an old, ended member too: keep the freshest.
        auto same = std::find_if(w.ops.begin(), w.ops.end(),
                                 [&](const operator_snapshot& o) { return o.id == op.id; });
        if (same == w.ops.end()) {
            w.ops.push_back(std::move(op));
        } else if (p.lease_end_ms > (same->online ? w.now + 1 : same->offline_since_ms)) {
            *same = std::move(op);
        }
    }
    if (gen == world_gen_) {
        world_cache_ = w;
        world_at_ = started;
        ++world_serial_;
    }
    co_return w;
}

void call_router::refresh_world() {
    if (world_refreshing_) return;
    world_refreshing_ = true;
    asio::co_spawn(
        ctx_.io,
        [this]() -> asio::awaitable<void> {
            struct done {
                bool& flag;
                ~done() { flag = false; }
            } g{world_refreshing_};
            for (int attempt = 0; attempt < 3; ++attempt) {
                const auto gen = world_gen_;
                auto w = co_await observe();
                // Forgotten meanwhile: what was read may predate the change; read again.
                if (!w || gen == world_gen_) break;
            }
        },
        asio::detached);
}

void call_router::forget_world() {
    ++world_gen_;
    ++world_serial_;
    world_cache_.reset();
}

void call_router::rebuild_duty(std::shared_ptr<const std::vector<station_site>> stations,
                               std::int64_t now) {
    const auto& w = *world_cache_;
    const auto& cfg = ctx_.settings.routing;
    duty_view d;
    d.at_ms = now;
    d.world_serial = world_serial_;
    // As staffed_for() and step() decide a first step.
    for (const auto& op : w.ops) {
        if (!op.supervisor && can_take_offers(op, now, cfg)) d.staffed.insert(op.station_id);
        if (op.supervisor && op.online) d.supervisors_online = true;
    }
    if (cfg.offer_strategy == routing_config::strategy::ring_all) {
        // The plan for one new call at each staffed station and one at the command centre.
        std::vector<call_snapshot> calls;
        auto add = [&](const std::string& station) {
            call_snapshot c;
            c.id = station;
            c.state = "offered";
            c.received_ms = now;
            if (station.empty())
                c.at_command_centre = true;
            else
                c.tier_stations = {station};
            calls.push_back(std::move(c));
        };
        for (const auto& st : d.staffed) add(st);
        add("");
        for (auto& [station, ops] : plan_offers(std::move(calls), w.ops, now, cfg))
            d.offers[station].assign(ops.begin(), ops.end());
    }
    const bool same = duty_ && duty_->staffed == d.staffed && duty_->stations == stations;
    d.version = same ? duty_->version : ++duty_versions_;
    d.stations = std::move(stations);
    duty_ = std::move(d);
}

void call_router::world_changed() {
    forget_world();
    ctx_.bus.world_changed();
    kick();
}

void call_router::prefetch_home(const std::string& resident_id) {
    if (resident_id.empty() || !homes_loading_.insert(resident_id).second) return;
    asio::co_spawn(
        ctx_.io,
        [this, resident_id]() -> asio::awaitable<void> {
            resident_record r;
            auto st = co_await ctx_.dir.find_resident(resident_id, r);
            if (st != lookup_status::unavailable) {
                auto& cached = homes_[resident_id];
                cached.home = st == lookup_status::found ? std::optional(r.home) : std::nullopt;
                cached.at = clock_type_now();
                cached.ranked_for = 0;
            }
            homes_loading_.erase(resident_id);
        },
        asio::detached);
}

std::optional<first_route> call_router::route_for_new(const std::string& resident_id) {
    const auto now_steady = clock_type_now();
    if (!world_cache_ || now_steady - world_at_ > 1s) {
        refresh_world();
        return std::nullopt;
    }
    if (now_steady - world_at_ > 300ms) refresh_world();  // keep it warm
    auto stations = ctx_.dir.cached_stations();
    if (!stations) return std::nullopt;
    const auto now = wall_ms();
    if (!duty_ || duty_->world_serial != world_serial_ || duty_->stations != stations ||
        now - duty_->at_ms > 50)
        rebuild_duty(stations, now);
    const auto& d = *duty_;
    auto h = homes_.find(resident_id);
    if (h == homes_.end()) {
        if (!resident_id.empty()) {
            prefetch_home(resident_id);
            return std::nullopt;
        }
        h = homes_.emplace(resident_id, cached_home{std::nullopt, now_steady}).first;
    }
    auto& home = h->second;
    if (!resident_id.empty() && now_steady - home.at > 60s) prefetch_home(resident_id);
    if (home.ranked_for != d.version) {
        // A resident without a home on record still gets a person: stations in id order.
        auto ranked = rank_stations(home.home.value_or(geo_point{0, 0}), *stations, d.staffed);
        home.nearest = ranked.empty() ? nullptr : ranked.front().station;
        home.nearest_km = ranked.empty() ? 0 : ranked.front().distance_km;
        home.ranked_for = d.version;
    }
    std::vector<std::string> staffed;
    if (home.nearest) staffed.push_back(home.nearest->id);
    auto s = first_step(staffed, 0, ctx_.settings.routing);
    first_route out;
    if (s.what == escalation_step::kind::add_station) {
        out.station_id = s.station_id;
        out.station_name = home.nearest->name;
        out.distance_km = home.nearest_km;
        out.due_after_ms = s.next_due_ms;
    } else {
        out.to_command_centre = true;
        out.station_name = ctx_.settings.command_centre_name;
    }
    out.supervisors_online = d.supervisors_online;
    if (auto it = d.offers.find(out.station_id); it != d.offers.end()) out.offers = it->second;
    return out;
}

asio::awaitable<void> call_router::announce_first_step(const alarm_input& in,
                                                       const ingest_result& stored) {
    const auto& rt = *in.route;
    ++ctx_.stats.calls_routed;
    ++ctx_.stats.calls_routed_at_store;
    spdlog::info("call {}: {} {}{}", log_safe(stored.call_id), "offered at",
                 rt.to_command_centre ? "the command centre" : log_safe(rt.station_id),
                 rt.to_command_centre ? "" : " (" + log_safe(rt.station_name) + ")");
    // The call as load_console_call() would read it back: everything is known here.
    cv::ConsoleEvent changed;
    auto* c = changed.mutable_call_changed()->mutable_call();
    c->set_id(stored.call_id);
    c->set_state("offered");
    c->set_alarm_type(in.type);
    c->set_device_id(in.device_id);
    c->set_resident_id(in.resident_id);
    c->set_received_ms(stored.received_ms);
    c->set_station_name(rt.station_name);
    if (!rt.to_command_centre) {
        c->set_station_id(rt.station_id);
        c->add_tier_station_ids(rt.station_id);
        char dist[32];  // as stored: three decimals
        std::snprintf(dist, sizeof dist, "%.3f", rt.distance_km);
        c->set_distance_km(std::strtod(dist, nullptr));
    }
    c->set_at_command_centre(rt.to_command_centre);
    c->set_battery_percent(in.battery_percent);
    c->set_priority(in.priority);
    c->set_priority_name(std::string(priority_name(in.priority)));
    // Offers first: a supervisor shown the call could take it, and the withdrawal must not
    // overtake the offer.
    if (!rt.offers.empty()) {
        cv::ConsoleEvent ev;
        auto* o = ev.mutable_offer();
        *o->mutable_call() = *c;
        co_await ctx_.dir.resident_card(in.resident_id, stored.call_id, *o->mutable_resident());
        ctx_.bus.to_operators(rt.offers, ev);
    }
    if (rt.supervisors_online) ctx_.bus.to_station(command_centre_station, changed);
    ctx_.bus.to_device(in.device_id, offered_update(stored.call_id, rt.station_name));
    // Longest-idle: one operator per call is a choice among all waiting calls (a full pass).
    if (ctx_.settings.routing.offer_strategy == routing_config::strategy::longest_idle) kick();
}

asio::awaitable<std::vector<call_snapshot>> call_router::snapshot(
    const std::vector<std::string>& ids, std::vector<std::string>* residents) {
    // In chunks, one after the other: a full pass over thousands of waiting calls must not put
    // thousands of commands in front of Redis (and thousands of replies in front of this thread)
    // at once, or the alarms being stored meanwhile would wait behind them.
    constexpr std::size_t chunk = 128;
    std::vector<redis_result> replies;
    replies.reserve(ids.size() * 2);
    for (std::size_t start = 0; start < ids.size(); start += chunk) {
        std::vector<std::vector<std::string>> cmds;
        for (std::size_t i = start; i < std::min(ids.size(), start + chunk); ++i) {
            cmds.push_back(redis_cmd("HMGET", "anx:call:" + ids[i], "state", "priority",
                                     "received_ms", "tiers", "cc", "next_esc_ms", "ver", "resident",
                                     "operator"));
            cmds.push_back(redis_cmd("SMEMBERS", "anx:call:" + ids[i] + ":offers"));
        }
        auto part = co_await ctx_.store.redis().exec_many(std::move(cmds));
        for (auto& r : part) replies.push_back(std::move(r));
    }
    std::vector<call_snapshot> out;
    for (std::size_t i = 0; i < ids.size() && 2 * i + 1 < replies.size(); ++i) {
        const auto& h = replies[2 * i];
        const auto& o = replies[2 * i + 1];
        if (!h.ok() || h.reply.elements.size() != 9 || h.reply.elements[0].is_nil() || !o.ok())
            continue;
        const auto& e = h.reply.elements;
        call_snapshot c;
        c.id = ids[i];
        c.state = e[0].str;
        c.priority = static_cast<int>(e[1].as_int());
        c.received_ms = e[2].as_int();
        c.tier_stations = split_commas(e[3].str);
        c.at_command_centre = e[4].str == "1";
        c.next_escalation_ms = e[5].as_int();
        c.version = e[6].as_int();
        c.operator_id = e[8].str;
        for (const auto& op : o.reply.elements) c.offered.insert(op.str);
        if (residents) residents->push_back(e[7].str);
        out.push_back(std::move(c));
    }
    co_return out;
}

asio::awaitable<call_router::staffed_stations> call_router::staffed_for(
    const std::string& resident_id, const world& w) {
    staffed_stations out;
    out.stations = co_await ctx_.dir.stations();
    if (!out.stations) co_return out;
    bool stale = true;
    if (auto h = homes_.find(resident_id); h != homes_.end())
        stale = !h->second.home || std::chrono::steady_clock::now() - h->second.at > 60s;
    if (stale) {
        resident_record r;
        auto st = co_await ctx_.dir.find_resident(resident_id, r);
        auto& cached = homes_[resident_id];  // after the await: homes_ may have changed meanwhile
        if (st == lookup_status::found)
            cached.home = r.home;
        else if (st == lookup_status::not_found)
            cached.home = std::nullopt;
        cached.at = std::chrono::steady_clock::now();
    }
    std::set<std::string> eligible;
    for (const auto& op : w.ops) {
        if (!op.supervisor && can_take_offers(op, w.now, ctx_.settings.routing))
            eligible.insert(op.station_id);
    }
    // A resident without a home on record still gets a person: stations in id order.
    out.ranked =
        rank_stations(homes_[resident_id].home.value_or(geo_point{0, 0}), *out.stations, eligible);
    co_return out;
}

asio::awaitable<bool> call_router::step(const call_snapshot& call, const std::string& resident_id,
                                        const world& w, bool first) {
    const auto staffed_at = co_await staffed_for(resident_id, w);
    const auto& ranked = staffed_at.ranked;  // points into staffed_at.stations
    std::vector<std::string> staffed;
    for (const auto& r : ranked) staffed.push_back(r.station->id);
    const auto& cfg = ctx_.settings.routing;
    // A call that went to the command centre because no station had anyone is also offered to
    // the nearest station as soon as one has: the closest help is still the best help.
    if (first && call.at_command_centre && staffed.empty()) co_return true;
    escalation_step s =
        first ? first_step(staffed, call.received_ms, cfg) : next_step(call, staffed, w.now, cfg);
    if (s.what == escalation_step::kind::none) co_return true;
    std::string station_name = ctx_.settings.command_centre_name;
    double distance = 0;
    if (s.what == escalation_step::kind::add_station) {
        for (const auto& r : ranked) {
            if (r.station->id == s.station_id) {
                station_name = r.station->name;
                distance = r.distance_km;
            }
        }
    }
    const std::string station =
        s.what == escalation_step::kind::add_station ? s.station_id : std::string();
    auto r = co_await ctx_.store.escalate(call.id, call.version, station, station_name, distance,
                                          s.next_due_ms, cfg.missed_offers_before_away, !first);
    if (r.code == "unavailable") co_return false;
    if (!r.ok()) co_return true;  // someone else moved it on
    if (first)
        ++ctx_.stats.calls_routed;
    else
        ++ctx_.stats.calls_escalated;
    spdlog::info("call {}: {} {}{}", log_safe(call.id), first ? "offered at" : "escalated to",
                 station.empty() ? "the command centre" : log_safe(station),
                 station.empty() ? "" : " (" + log_safe(station_name) + ")");
    // data: device, new version, operators set away...
    for (std::size_t i = 2; i < r.data.size(); ++i) {
        cv::ConsoleEvent ev;
        auto* sc = ev.mutable_status_changed();
        sc->set_operator_id(r.data[i]);
        sc->set_status("away");
        sc->set_state("idle");
        sc->set_reason("let " + std::to_string(cfg.missed_offers_before_away) +
                       " offers in a row time out");
        std::string op_station;
        for (const auto& op : w.ops) {
            if (op.id == r.data[i]) op_station = op.station_id;
        }
        ctx_.bus.to_operator(r.data[i], ev);
        if (!op_station.empty()) ctx_.bus.to_station(op_station, ev);
        spdlog::warn("operator {}: set away after {} missed offers", log_safe(r.data[i]),
                     cfg.missed_offers_before_away);
    }
    // Someone set away changes who can take offers: every instance's cached view must go.
    if (r.data.size() > 2) world_changed();
    bool supervisors = std::any_of(w.ops.begin(), w.ops.end(), [](const operator_snapshot& op) {
        return op.supervisor && op.online;
    });
    if (supervisors) {
        co_await call_changed(call.id, true);
    } else {
        // Nobody at the command centre to show the whole call to: the device's update needs no
        // read of the call (this is the hot path of a surge).
        ctx_.bus.to_device(r.data[0], offered_update(call.id, station_name));
    }
    co_return true;
}

asio::awaitable<void> call_router::offer(const call_snapshot& call,
                                         const std::set<std::string>& want) {
    if (want == call.offered) co_return;
    std::vector<std::string> ops(want.begin(), want.end());
    auto r = co_await ctx_.store.apply_offers(call.id, call.version, ops);
    if (!r.ok()) co_return;
    // data: version, '+', added..., '-', removed...
    std::vector<std::string> added, removed;
    bool minus = false;
    for (std::size_t i = 2; i < r.data.size(); ++i) {
        if (r.data[i] == "-") {
            minus = true;
            continue;
        }
        (minus ? removed : added).push_back(r.data[i]);
    }
    if (!added.empty()) {
        cv::ConsoleEvent ev;
        auto* o = ev.mutable_offer();
        // The call may have been taken meanwhile (its withdrawn may already be out): then say
        // nothing.
        if (co_await ctx_.store.load_console_call(call.id, *o->mutable_call()) &&
            (o->call().state() == "offered" || o->call().state() == "received")) {
            co_await ctx_.dir.resident_card(o->call().resident_id(), call.id,
                                            *o->mutable_resident());
            for (const auto& op : added) ctx_.bus.to_operator(op, ev);
        }
    }
    for (const auto& op : removed) {
        cv::ConsoleEvent ev;
        ev.mutable_withdrawn()->set_call_id(call.id);
        ev.mutable_withdrawn()->set_reason("reassigned");
        ctx_.bus.to_operator(op, ev);
    }
}

asio::awaitable<void> call_router::call_changed(const std::string& call_id, bool tell_device) {
    cv::ConsoleEvent ev;
    auto* c = ev.mutable_call_changed()->mutable_call();
    if (!co_await ctx_.store.load_console_call(call_id, *c)) co_return;
    ctx_.bus.to_station(command_centre_station, ev);
    if (!tell_device) co_return;
    auto st = parse_call_state(c->state());
    if (!st) co_return;
    dv::ServerMessage m;
    auto* u = m.mutable_call_update();
    u->set_call_id(call_id);
    u->set_state(device_view(*st));
    u->set_server_time_ms(wall_ms());
    u->set_station_name(c->station_name());
    u->set_outcome(c->outcome());
    ctx_.bus.to_device(c->device_id(), m);
}

// Runs f(0..n-1) concurrently (their Redis commands pipeline on the one connection) and
// resumes when all have finished.
template <class F>
asio::awaitable<void> for_each_concurrently(std::size_t n, F f) {
    if (n == 0) co_return;
    auto ex = co_await asio::this_coro::executor;
    auto remaining = std::make_shared<std::size_t>(n);
    auto all_done = std::make_shared<asio::steady_timer>(ex, clock_type_max());
    for (std::size_t i = 0; i < n; ++i) {
        asio::co_spawn(
            ex,
            [f, i, remaining, all_done]() -> asio::awaitable<void> {
                co_await f(i);
                if (--*remaining == 0) all_done->cancel();
            },
            asio::detached);
    }
    // co_spawn may run a coroutine inline up to its first suspension: all may be finished already
    // (then the cancel above happened before there was a wait to cancel).
    if (*remaining == 0) co_return;
    boost::system::error_code ec;
    co_await all_done->async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

asio::awaitable<bool> call_router::route_new(const std::vector<std::string>& ids) {
    auto w = co_await observe();
    if (!w) co_return false;
    std::vector<std::string> residents;
    auto calls = co_await snapshot(ids, &residents);
    if (calls.empty()) co_return true;  // gone
    // Named, not a temporary in the co_await: g++ 12 destroys such temporaries twice.
    auto ok = std::make_shared<bool>(true);
    auto first_steps = [this, &calls, &residents, &w, ok](std::size_t i) -> asio::awaitable<void> {
        const auto& call = calls[i];
        if (call.state == "received" && call.tier_stations.empty() && !call.at_command_centre) {
            if (!co_await step(call, residents[i], *w, true)) *ok = false;
        }
    };
    co_await for_each_concurrently(calls.size(), first_steps);
    if (!*ok) co_return false;
    if (ctx_.settings.routing.offer_strategy == routing_config::strategy::longest_idle) {
        // One operator per call is a choice among all waiting calls: leave it to a full pass.
        kick();
        co_return true;
    }
    // Ring-all offers of a call do not depend on the others: offer these at once.
    auto fresh = co_await snapshot(ids, nullptr);
    auto plan = plan_offers(fresh, w->ops, w->now, ctx_.settings.routing);
    auto offers = [this, &fresh, &plan](std::size_t i) -> asio::awaitable<void> {
        co_await offer(fresh[i], plan[fresh[i].id]);
    };
    co_await for_each_concurrently(fresh.size(), offers);
    co_return true;
}

asio::awaitable<bool> call_router::reconcile(bool full) {
    if (reconciling_) {
        kick();  // run again after the current pass
        co_return true;
    }
    reconciling_ = true;
    struct guard {
        bool& flag;
        ~guard() { flag = false; }
    } g{reconciling_};

    auto w = co_await observe();
    if (!w) co_return false;
    // Who can take offers now: if that changed, every waiting call's offers must be looked at.
    std::string world_key;
    for (const auto& op : w->ops) {
        if (can_take_offers(op, w->now, ctx_.settings.routing))
            world_key += op.station_id + "/" + op.id + ";";
    }
    // Nobody could take offers, and still nobody can: no waiting call can be offered or moved to
    // a station, so only the escalations that are due need looking at (a surge with nobody on
    // duty leaves thousands of calls at the command centre; reading them all every few seconds
    // would only slow the alarms down).
    if (world_key.empty() && last_world_.empty()) full = false;
    if (world_key != last_world_) full = true;
    if (full) {
        last_world_ = world_key;
        last_full_ = clock_type_now();
    }
    // Waiting calls, most urgent first (scored by priority, then age), plus any whose escalation
    // is due even if a surge pushed them past the first 5000.
    redis_result active;
    active.st = redis_result::status::ok;
    active.reply.type = redis_reply::kind::array;
    if (full)
        active =
            co_await ctx_.store.redis().exec(redis_cmd("ZRANGE", "anx:calls:active", "0", "4999"));
    auto due_timers = co_await ctx_.store.redis().exec(redis_cmd(
        "ZRANGEBYSCORE", "anx:timers", "-inf", std::to_string(w->now), "LIMIT", "0", "1000"));
    if (!active.ok() || !due_timers.ok()) co_return false;
    std::vector<std::string> ids;
    std::set<std::string> seen_ids;
    for (const auto* list : {&active.reply, &due_timers.reply}) {
        for (const auto& e : list->elements) {
            if (seen_ids.insert(e.str).second) ids.push_back(e.str);
        }
    }
    std::vector<std::string> residents;
    auto calls = co_await snapshot(ids, &residents);

    // 1. First steps missed (e.g. the consumer died) and escalations that are due.
    // A call waiting at the command centre goes to a station once one is staffed: with none
    // staffed (a surge with nobody on duty leaves thousands there) there is nothing to look at.
    const bool any_staffed =
        std::any_of(w->ops.begin(), w->ops.end(), [&](const operator_snapshot& op) {
            return !op.supervisor && can_take_offers(op, w->now, ctx_.settings.routing);
        });
    std::vector<std::string> changed;
    for (std::size_t i = 0; i < calls.size(); ++i) {
        const auto& c = calls[i];
        bool first = (c.state == "received" || c.state == "offered") && c.tier_stations.empty();
        bool due = !first && c.next_escalation_ms > 0 && c.next_escalation_ms <= w->now;
        if (first && c.at_command_centre && !any_staffed) continue;
        if (!first && !due) continue;
        // A failure on one call (an error reply) must not hold up the others.
        if (!co_await step(c, residents[i], *w, first)) {
            if (!ctx_.store.redis().connected()) co_return false;
            spdlog::error("call {}: escalation step failed; retrying next pass", log_safe(c.id));
            continue;
        }
        changed.push_back(c.id);
    }
    if (!changed.empty()) {
        // Escalations may have set operators away: look again before planning.
        auto w2 = co_await observe();
        if (!w2) co_return false;
        *w = std::move(*w2);
        auto fresh = co_await snapshot(changed, nullptr);
        for (auto& f : fresh) {
            for (auto& c : calls) {
                if (c.id == f.id) c = f;
            }
        }
    }

    // 2. Offers.
    auto plan = plan_offers(calls, w->ops, w->now, ctx_.settings.routing);
    for (const auto& c : calls) {
        auto it = plan.find(c.id);
        if (it != plan.end()) co_await offer(c, it->second);
    }

    // 3. Calls held by operators whose console vanished longer ago than the grace period.
    const auto& cfg = ctx_.settings.routing;
    for (const auto& op : w->ops) {
        if (op.online || op.active_calls <= 0 ||
            w->now - op.offline_since_ms < cfg.reconnect_grace_ms)
            continue;
        auto held = co_await ctx_.store.redis().exec(
            redis_cmd("SMEMBERS", "anx:operator:" + op.id + ":calls"));
        if (!held.ok()) continue;
        for (const auto& c : held.reply.elements) {
            auto r = co_await ctx_.store.release(c.str, op.id,
                                                 "console gone for longer than the grace period",
                                                 "", "", w->now + cfg.tier_timeout_ms);
            if (!r.ok()) continue;
            spdlog::warn("call {}: operator {} gone for {} s; offered again", log_safe(c.str),
                         log_safe(op.id), (w->now - op.offline_since_ms) / 1000);
            co_await call_changed(c.str, true);
            world_changed();  // the operator holds one call fewer; offer it again at once
        }
    }
    co_return true;
}

asio::awaitable<void> call_router::supervise() {
    auto now = wall_ms();
    auto due = co_await ctx_.store.redis().exec(redis_cmd(
        "ZRANGEBYSCORE", "anx:supervision", "-inf", std::to_string(now), "LIMIT", "0", "500"));
    if (!due.ok()) co_return;
    for (const auto& d : due.reply.elements) {
        auto claim = co_await ctx_.store.claim_offline(d.str);
        if (claim.code == "again") {
            spdlog::info("device {}: silent again; still the same offline episode (call {})",
                         log_safe(d.str), log_safe(claim.data[0]));
            continue;
        }
        if (claim.code != "raise" || claim.data.empty()) continue;
        auto dev =
            co_await ctx_.store.redis().exec(redis_cmd("HGET", "anx:device:" + d.str, "resident"));
        alarm_input in;
        in.device_id = d.str;
        in.resident_id = dev.ok() ? dev.reply.str : "";
        in.sequence = "offline-" + claim.data[0];
        in.type = "device_offline";
        in.priority = ctx_.settings.priorities.of(in.type);
        auto r = co_await ctx_.store.ingest(in);
        if (!r.stored) {
            // Not raised: put the device back under supervision so the next pass tries again
            // (the episode's sequence makes a second attempt create the call only once).
            std::vector<std::vector<std::string>> undo;
            undo.push_back(redis_cmd("HSET", "anx:device:" + d.str, "offline", "0"));
            undo.push_back(redis_cmd("HINCRBY", "anx:device:" + d.str, "offline_episodes", "-1"));
            undo.push_back(redis_cmd("ZADD", "anx:supervision", std::to_string(now), d.str));
            co_await ctx_.store.redis().exec_many(std::move(undo));
            continue;
        }
        co_await ctx_.store.redis().exec(
            redis_cmd("HSET", "anx:device:" + d.str, "offline_call", r.call_id));
        ++ctx_.stats.devices_went_offline;
        spdlog::warn("device {}: silent past its supervision deadline; call {} raised",
                     log_safe(d.str), log_safe(r.call_id));
    }
    // Devices back long enough: their offline episode is over.
    auto back = co_await ctx_.store.redis().exec(
        redis_cmd("ZRANGEBYSCORE", "anx:devices:recovering", "-inf", std::to_string(now), "LIMIT",
                  "0", "500"));
    if (!back.ok()) co_return;
    for (const auto& d : back.reply.elements) {
        auto call = co_await ctx_.store.recovered(d.str);
        if (!call) continue;
        // Resolved unless a person has taken it (then it stays theirs to close).
        auto res = co_await ctx_.store.auto_resolve(*call, "technical", "device back online");
        spdlog::info("device {}: stayed back online; offline call {} {}", log_safe(d.str),
                     log_safe(*call), res.ok() ? "resolved" : "left with its operator");
        if (res.ok()) {
            cv::ConsoleEvent w;
            w.mutable_withdrawn()->set_call_id(*call);
            w.mutable_withdrawn()->set_reason("resolved");
            for (std::size_t i = 1; i < res.data.size(); ++i) ctx_.bus.to_operator(res.data[i], w);
        }
        co_await call_changed(*call, true);
    }
}

asio::awaitable<bool> call_router::handle_entries(const redis_reply& reply) {
    // XREADGROUP reply: [[stream, [[id, [field, value, ...]], ...]]]
    if (!reply.is_array()) co_return true;
    std::vector<std::pair<std::string, std::string>> entry_ids;  // (stream, entry id)
    std::vector<std::string> call_ids;
    for (const auto& s : reply.elements) {
        if (s.elements.size() != 2) continue;
        for (const auto& entry : s.elements[1].elements) {
            if (entry.elements.size() != 2) continue;
            entry_ids.emplace_back(s.elements[0].str, entry.elements[0].str);
            const auto& fields = entry.elements[1].elements;
            for (std::size_t i = 0; i + 1 < fields.size(); i += 2) {
                if (fields[i].str == "call") call_ids.push_back(fields[i + 1].str);
            }
        }
    }
    if (entry_ids.empty()) co_return true;
    // Within a batch, the most urgent calls go first (a surge fills batches with mixed priorities).
    auto pr = co_await ctx_.store.redis().exec_many([&] {
        std::vector<std::vector<std::string>> cmds;
        for (const auto& id : call_ids)
            cmds.push_back(redis_cmd("HGET", "anx:call:" + id, "priority"));
        return cmds;
    }());
    std::vector<std::pair<std::int64_t, std::string>> ordered;
    for (std::size_t i = 0; i < call_ids.size(); ++i) {
        ordered.emplace_back(i < pr.size() && pr[i].ok() ? pr[i].reply.as_int() : 1, call_ids[i]);
    }
    std::stable_sort(ordered.begin(), ordered.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    for (std::size_t i = 0; i < ordered.size(); ++i) call_ids[i] = ordered[i].second;
    // The whole batch is routed from one snapshot of who is on duty.
    bool done = call_ids.empty() || co_await route_new(call_ids);
    // While Redis is connected a failure is a call's own (an error reply): acknowledge anyway so
    // it cannot block the queue; the reconcile pass gives any such call its first step.
    if (!done && !ctx_.store.redis().connected()) co_return false;
    // The calls' states now record the decisions; the queue entries have served their purpose.
    std::vector<std::vector<std::string>> done_cmds;
    for (const auto& [stream, id] : entry_ids) {
        done_cmds.push_back(redis_cmd("XACK", stream, group, id));
        done_cmds.push_back(redis_cmd("XDEL", stream, id));
    }
    (void)co_await ctx_.store.redis().exec_many(std::move(done_cmds));
    co_return true;
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
            bool all = true;
            for (const auto& stream : streams) {
                auto r = co_await blocking_->exec(
                    redis_cmd("XGROUP", "CREATE", stream, group, "0", "MKSTREAM"));
                all &= r.ok() ||
                       (r.st == redis_result::status::ok && r.reply.str.rfind("BUSYGROUP", 0) == 0);
            }
            if (!all) {
                co_await sleep_for(500ms);
                continue;
            }
            group_ready = true;
        }
        if (std::chrono::steady_clock::now() - last_claim > 5s) {
            // Entries another instance read but never acknowledged (it died) for 15 s are ours now.
            last_claim = std::chrono::steady_clock::now();
            for (const auto& stream : streams) {
                auto c = co_await blocking_->exec(redis_cmd("XAUTOCLAIM", stream, group, consumer,
                                                            "15000", "0-0", "COUNT", "100"));
                if (c.ok() && c.reply.elements.size() >= 2 &&
                    !c.reply.elements[1].elements.empty()) {
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
        }
        auto has_entries = [](const redis_result& r) {
            if (!r.ok() || !r.reply.is_array()) return false;
            for (const auto& s : r.reply.elements) {
                if (s.elements.size() == 2 && !s.elements[1].elements.empty()) return true;
            }
            return false;
        };
        redis_result r;
        if (pending_first) {
            r = co_await blocking_->exec(redis_cmd("XREADGROUP", "GROUP", group, consumer, "COUNT",
                                                   "256", "STREAMS", streams[0], streams[1],
                                                   streams[2], "0", "0", "0"));
            if (r.ok() && !has_entries(r)) {
                pending_first = false;
                continue;
            }
        } else {
            // Weighted priority, in one round trip: each batch takes up to 256 emergencies, 128
            // urgent and 64 technical alarms (handle_entries routes them most urgent first). In a
            // surge the emergencies get most of the routing; under sustained load the others
            // still move instead of waiting for a gap in the emergencies. Block on all three only
            // when every queue is empty.
            const std::vector<const char*> counts = {"256", "128", "64"};
            std::vector<std::vector<std::string>> reads;
            for (std::size_t i = 0; i < streams.size(); ++i) {
                reads.push_back(redis_cmd("XREADGROUP", "GROUP", group, consumer, "COUNT",
                                          counts[i], "STREAMS", streams[i], ">"));
            }
            auto parts = co_await blocking_->exec_many(std::move(reads));
            bool got = false;
            r = redis_result{};
            r.st = redis_result::status::ok;
            r.reply.type = redis_reply::kind::array;
            for (auto& part : parts) {
                if (!part.ok()) {
                    r = std::move(part);  // an error: handled below like any failed read
                    got = true;
                    break;
                }
                if (has_entries(part)) {
                    got = true;
                    for (auto& s : part.reply.elements) r.reply.elements.push_back(std::move(s));
                }
            }
            if (!got) {
                r = co_await blocking_->exec(redis_cmd(
                    "XREADGROUP", "GROUP", group, consumer, "COUNT", "256", "BLOCK", "2000",
                    "STREAMS", streams[0], streams[1], streams[2], ">", ">", ">"));
            }
        }
        if (!r.ok()) {
            if (r.st == redis_result::status::ok && r.reply.str.rfind("NOGROUP", 0) == 0)
                group_ready = false;
            pending_first = true;
            co_await sleep_for(200ms);
            continue;
        }
        if (!co_await handle_entries(r.reply)) {
            pending_first = true;  // retry the ones that failed before taking new ones
            co_await sleep_for(200ms);
        }
    }
}

}  // namespace anxin::dispatcher
