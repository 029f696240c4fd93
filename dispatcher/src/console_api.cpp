#include "anxin/dispatcher/console_api.hpp"

#include "anxin/dispatcher/wall_clock.hpp"

#include "admin.pb.h"
#include "console.pb.h"

#include "anxin/dispatcher/call_scan.hpp"
#include "anxin/dispatcher/call_store.hpp"
#include "anxin/dispatcher/directory.hpp"

#include <algorithm>
#include <cctype>
#include <map>
#include <set>

namespace asio = boost::asio;
namespace adm = anxin::admin::v1;

namespace anxin::dispatcher {

namespace {

std::string lower(std::string_view s) {
    std::string out(s);
    // ASCII only: Chinese names are matched byte for byte, which is what a substring needs.
    for (auto& ch : out) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    return out;
}

// The operators behind the given (station, operator) pairs: name, status, state, calls held. One
// pipeline for the whole district.
asio::awaitable<bool> load_operators(server_context& ctx,
                                     const std::vector<std::pair<std::string, std::string>>& who,
                                     std::int64_t now_ms, const std::set<std::string>& present,
                                     std::vector<adm::OperatorState>& out) {
    std::vector<std::string> ids;
    ids.reserve(who.size());
    for (const auto& w : who) ids.push_back(w.second);
    auto rows = co_await ctx.store.operator_rows(ids);
    if (!rows) co_return false;
    for (std::size_t i = 0; i < who.size(); ++i) {
        const auto& row = (*rows)[i];
        adm::OperatorState o;
        o.set_id(who[i].second);
        o.set_name(row.name);
        o.set_station_id(who[i].first);
        o.set_status(row.status.value_or("logged_out"));
        o.set_calls_held(static_cast<std::uint32_t>(std::max<std::int64_t>(row.active_calls, 0)));
        o.set_state(operator_state(row.active_calls, row.wrap_until_ms, now_ms));
        o.set_present(present.count(who[i].first + "/" + who[i].second) > 0);
        out.push_back(std::move(o));
    }
    co_return true;
}

}  // namespace

std::string operator_state(std::int64_t active_calls, std::int64_t wrap_until_ms,
                           std::int64_t now_ms) {
    if (active_calls > 0) return "on_call";
    if (wrap_until_ms > now_ms) return "wrap_up";
    return "idle";
}

bool call_matches(const adm::CallSummary& c, std::string_view q) {
    const std::string hay =
        lower(c.id() + "\n" + c.resident_id() + "\n" + c.resident_name() + "\n" + c.device_id() +
              "\n" + c.station_id() + "\n" + c.station_name() + "\n" + c.operator_id() + "\n" +
              c.alarm_type() + "\n" + c.state() + "\n" + c.outcome());
    const std::string needle = lower(q);
    std::size_t pos = 0;
    while (pos < needle.size()) {
        auto end = needle.find(' ', pos);
        if (end == std::string::npos) end = needle.size();
        if (end > pos && hay.find(needle.substr(pos, end - pos)) == std::string::npos) return false;
        pos = end + 1;
    }
    return true;
}

std::string url_decode(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    auto hex = [](char ch) -> int {
        if (ch >= '0' && ch <= '9') return ch - '0';
        if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
        if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
        return -1;
    };
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '+') {
            out += ' ';
        } else if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
            out += static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2]));
            i += 2;
        } else {
            out += s[i];
        }
    }
    return out;
}

asio::awaitable<bool> build_overview(server_context& ctx, adm::Overview& out) {
    std::int64_t now_ms = wall_ms();
    out.set_server_time_ms(now_ms);
    out.set_command_centre_name(ctx.settings.command_centre_name);
    out.set_map_tile_url(ctx.settings.map_tile_url);

    std::int64_t redis_now = 0;
    auto presence = co_await ctx.store.presence(redis_now);
    if (!presence) co_return false;
    std::set<std::string> present;
    std::vector<std::string> supervisors;
    for (const auto& p : *presence) {
        if (p.lease_end_ms > redis_now) present.insert(p.station_id + "/" + p.operator_id);
        if (p.station_id == command_centre_station) supervisors.push_back(p.operator_id);
    }

    auto stations = co_await ctx.dir.list_stations();
    std::vector<std::string> station_ids;
    for (const auto& s : stations) station_ids.push_back(s.id());
    auto members = co_await ctx.dir.station_operators(station_ids);
    if (!members) co_return false;
    std::map<std::string, adm::StationOverview*> by_id;
    std::vector<std::pair<std::string, std::string>> who;  // (station, operator), sorted
    for (std::size_t i = 0; i < stations.size(); ++i) {
        auto* so = out.add_stations();
        *so->mutable_station() = stations[i];
        by_id[stations[i].id()] = so;
        for (const auto& m : (*members)[i]) who.emplace_back(stations[i].id(), m);
    }
    std::sort(supervisors.begin(), supervisors.end());
    for (const auto& s : supervisors) who.emplace_back(command_centre_station, s);
    std::sort(who.begin(), who.end());
    std::vector<adm::OperatorState> ops;
    if (!co_await load_operators(ctx, who, now_ms, present, ops)) co_return false;
    for (auto& o : ops) {
        if (o.station_id() == command_centre_station)
            *out.add_supervisors() = std::move(o);
        else if (auto it = by_id.find(o.station_id()); it != by_id.end())
            *it->second->add_operators() = std::move(o);
    }

    // At most overview_call_limit calls, whatever the queue: the most urgent waiting ones
    // (by priority, then age), then the oldest open ones (taken calls among them). What a
    // request costs the shared connection does not grow with a surge.
    auto window = co_await ctx.store.open_calls_window(overview_call_limit);
    if (!window) co_return false;
    out.set_open_calls_total(window->open_total);
    out.set_waiting_calls_total(window->waiting_total);
    std::vector<std::string> ids;
    std::set<std::string> listed;
    for (const auto* part : {&window->most_urgent_waiting, &window->oldest_open}) {
        for (const auto& id : *part) {
            if (ids.size() < overview_call_limit && listed.insert(id).second) ids.push_back(id);
        }
    }
    std::vector<anxin::console::v1::Call> calls;
    for (const auto& id : ids) {
        anxin::console::v1::Call c;
        if (!co_await ctx.store.load_console_call(id, c)) continue;
        if (c.state() == "closed") continue;
        calls.push_back(std::move(c));
    }
    std::sort(calls.begin(), calls.end(), [](const auto& a, const auto& b) {
        if (a.priority() != b.priority()) return a.priority() < b.priority();
        return a.received_ms() < b.received_ms();
    });
    for (auto& c : calls) {
        if (auto it = by_id.find(c.station_id()); it != by_id.end())
            it->second->add_open_call_ids(c.id());
        *out.add_open_calls() = std::move(c);
    }
    co_return true;
}

asio::awaitable<search_status> search_calls(server_context& ctx, std::int64_t from_ms,
                                            std::int64_t to_ms, const std::string& q,
                                            std::size_t limit, const std::string& cursor,
                                            adm::CallList& out) {
    // The index is read a page at a time, newest first, until `limit` calls match or a request's
    // budget of calls has been looked at: one search costs the shared Redis connection a bounded
    // amount whatever the range, and next_cursor resumes where it stopped.
    constexpr std::size_t page_size = 500, budget = 20'000;
    call_scan scan = ctx.store.scan(from_ms, to_ms, true, cursor);
    if (!scan.valid()) co_return search_status::bad_cursor;
    std::map<std::string, std::string> name_of;  // residents' names, so a name finds their calls
    std::uint32_t matched = 0;
    std::size_t scanned = 0;
    std::vector<std::string> ids;
    while (scanned < budget && !scan.done() && static_cast<std::size_t>(out.calls_size()) < limit) {
        if (!co_await scan.next(std::min(page_size, budget - scanned), ids))
            co_return search_status::unavailable;
        auto rows = co_await ctx.store.search_rows(ids);
        if (!rows) co_return search_status::unavailable;
        std::vector<adm::CallSummary>& calls = *rows;
        std::vector<std::string> unnamed;
        for (const auto& c : calls) {
            if (!c.resident_id().empty() && name_of.emplace(c.resident_id(), "").second)
                unnamed.push_back(c.resident_id());
        }
        auto names = co_await ctx.dir.resident_names(unnamed);
        for (std::size_t i = 0; i < unnamed.size(); ++i) name_of[unnamed[i]] = names[i];
        for (std::size_t i = 0; i < calls.size(); ++i) {
            ++scanned;
            auto& c = calls[i];
            if (c.id().empty()) continue;  // gone (expired) since the index was read
            c.set_resident_name(name_of[c.resident_id()]);
            if (!call_matches(c, q)) continue;
            ++matched;
            *out.add_calls() = std::move(c);
            if (static_cast<std::size_t>(out.calls_size()) == limit) {
                out.set_next_cursor(scan.cursor_after(i));
                break;
            }
        }
        if (static_cast<std::size_t>(out.calls_size()) < limit) out.set_next_cursor(scan.cursor());
    }
    out.set_matched(matched);
    out.set_scanned(static_cast<std::uint32_t>(scanned));
    out.set_truncated(!out.next_cursor().empty());
    co_return search_status::ok;
}

}  // namespace anxin::dispatcher
