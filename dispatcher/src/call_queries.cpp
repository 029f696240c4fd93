// call_store's reads for the consoles and the HTTP API: lists, rows and counters, each a typed
// result (nullopt when Redis did not answer). The transitions are in call_store.cpp.

#include "anxin/dispatcher/call_scan.hpp"
#include "anxin/dispatcher/call_store.hpp"
#include "anxin/dispatcher/redis_keys.hpp"
#include "anxin/dispatcher/redis_reply.hpp"
#include "anxin/dispatcher/report.hpp"
#include "anxin/dispatcher/session_tokens.hpp"

#include "admin.pb.h"

#include <google/protobuf/util/json_util.h>

namespace asio = boost::asio;
namespace adm = anxin::admin::v1;

namespace anxin::dispatcher {

namespace {

std::optional<std::vector<std::string>> strings(const redis_result& r) {
    if (!r.ok()) return std::nullopt;
    std::vector<std::string> out;
    out.reserve(r.reply.elements.size());
    for (const auto& e : r.reply.elements) out.push_back(e.str);
    return out;
}

}  // namespace

bool call_store::connected() const {
    return redis_->connected();
}

double call_store::round_trip_seconds() const {
    return redis_->last_rtt_seconds();
}

session_tokens call_store::sessions() {
    return session_tokens(*redis_);
}

call_scan call_store::scan(std::int64_t from_ms, std::int64_t to_ms, bool newest_first,
                           const std::string& cursor) {
    return call_scan(*redis_, from_ms, to_ms, newest_first, cursor);
}

asio::awaitable<std::optional<std::vector<std::string>>> call_store::held_by(
    const std::string& op) {
    auto r = co_await redis_->exec(redis_cmd("SMEMBERS", keys::operator_calls(op)));
    co_return strings(r);
}

asio::awaitable<std::optional<std::vector<std::string>>> call_store::offers_of(
    const std::string& op) {
    auto r = co_await redis_->exec(redis_cmd("SMEMBERS", keys::operator_offers(op)));
    co_return strings(r);
}

asio::awaitable<std::optional<std::vector<std::string>>> call_store::offered_operators(
    const std::string& call_id) {
    auto r = co_await redis_->exec(redis_cmd("SMEMBERS", keys::call_offers(call_id)));
    co_return strings(r);
}

asio::awaitable<std::optional<std::vector<std::string>>> call_store::open_call_ids() {
    auto r = co_await redis_->exec(redis_cmd("ZRANGE", keys::calls_open, "0", "-1"));
    co_return strings(r);
}

asio::awaitable<std::optional<call_store::open_window>> call_store::open_calls_window(
    std::size_t limit) {
    const auto last = std::to_string(limit == 0 ? 0 : limit - 1);
    std::vector<std::vector<std::string>> reads;
    reads.push_back(redis_cmd("ZCARD", keys::calls_open));
    reads.push_back(redis_cmd("ZCARD", keys::calls_active));
    reads.push_back(redis_cmd("ZRANGE", keys::calls_active, "0", last));
    reads.push_back(redis_cmd("ZRANGE", keys::calls_open, "0", last));
    auto r = co_await redis_->exec_many(std::move(reads));
    for (const auto& x : r)
        if (!x.ok()) co_return std::nullopt;
    open_window w;
    w.open_total = static_cast<std::uint32_t>(r[0].reply.integer);
    w.waiting_total = static_cast<std::uint32_t>(r[1].reply.integer);
    w.most_urgent_waiting = *strings(r[2]);
    w.oldest_open = *strings(r[3]);
    co_return w;
}

asio::awaitable<std::optional<std::vector<call_store::operator_row>>> call_store::operator_rows(
    const std::vector<std::string>& ids) {
    std::vector<std::vector<std::string>> cmds;
    for (const auto& id : ids) {
        cmds.push_back(redis_cmd("HGET", keys::operator_(id), "name"));
        cmds.push_back(
            redis_cmd("HMGET", keys::operator_state(id), "status", "active", "wrap_until"));
    }
    auto replies = co_await redis_->exec_many(std::move(cmds));
    std::vector<operator_row> out;
    out.reserve(ids.size());
    for (std::size_t i = 0; i < ids.size(); ++i) {
        const auto& name = replies[2 * i];
        const auto& st = replies[2 * i + 1];
        if (!name.ok() || !st.ok() || st.reply.elements.size() != 3) co_return std::nullopt;
        const auto& e = st.reply.elements;
        operator_row row;
        row.name = name.reply.str;
        if (!e[0].is_nil()) row.status = e[0].str;
        row.active_calls = e[1].is_nil() ? 0 : e[1].as_int();
        row.wrap_until_ms = e[2].is_nil() ? 0 : e[2].as_int();
        out.push_back(std::move(row));
    }
    co_return out;
}

asio::awaitable<std::optional<std::vector<adm::CallSummary>>> call_store::search_rows(
    const std::vector<std::string>& ids) {
    std::vector<std::vector<std::string>> cmds;
    for (const auto& id : ids) {
        cmds.push_back(redis_cmd("HMGET", keys::call(id), "state", "type", "priority", "station",
                                 "station_name", "resident", "device", "operator", "received_ms",
                                 "accepted_ms", "closed_ms", "outcome", "cc"));
    }
    auto rows = co_await redis_->exec_many(std::move(cmds));
    std::vector<adm::CallSummary> calls(ids.size());
    for (std::size_t i = 0; i < rows.size(); ++i) {
        if (!rows[i].ok()) co_return std::nullopt;
        const auto& e = rows[i].reply.elements;
        if (e.size() != 13 || e[0].is_nil()) continue;
        adm::CallSummary& c = calls[i];
        c.set_id(ids[i]);
        c.set_state(e[0].str);
        c.set_alarm_type(e[1].str);
        c.set_priority(static_cast<int>(e[2].as_int()));
        c.set_station_id(e[3].str);
        c.set_station_name(e[4].str);
        c.set_resident_id(e[5].str);
        c.set_device_id(e[6].str);
        c.set_operator_id(e[7].str);
        c.set_received_ms(e[8].as_int());
        c.set_accepted_ms(e[9].as_int());
        c.set_closed_ms(e[10].as_int());
        c.set_outcome(e[11].str);
        c.set_at_command_centre(e[12].str == "1");
    }
    co_return calls;
}

asio::awaitable<std::optional<std::vector<call_summary>>> call_store::report_rows(
    const std::vector<std::string>& ids) {
    std::vector<std::vector<std::string>> cmds;
    for (const auto& id : ids) {
        cmds.push_back(redis_cmd("HMGET", keys::call(id), "station", "type", "priority", "state",
                                 "outcome", "operator", "received_ms", "accepted_ms", "closed_ms"));
    }
    auto rows = co_await redis_->exec_many(std::move(cmds));
    std::vector<call_summary> calls;
    calls.reserve(ids.size());
    for (std::size_t i = 0; i < rows.size(); ++i) {
        if (!rows[i].ok()) co_return std::nullopt;
        const auto& e = rows[i].reply.elements;
        if (e.size() != 9 || e[3].is_nil()) continue;  // gone (expired) since the index was read
        call_summary c;
        c.id = ids[i];
        c.station_id = e[0].str;
        c.alarm_type = e[1].str;
        c.priority = static_cast<int>(e[2].as_int());
        c.state = e[3].str;
        c.outcome = e[4].str;
        c.operator_id = e[5].str;
        c.received_ms = e[6].as_int();
        c.accepted_ms = e[7].as_int();
        c.closed_ms = e[8].as_int();
        calls.push_back(std::move(c));
    }
    co_return calls;
}

asio::awaitable<std::optional<std::vector<std::string>>> call_store::offline_devices(
    std::size_t limit) {
    auto r = co_await redis_->exec(redis_cmd("ZRANGE", keys::devices_offline, "0",
                                             std::to_string(limit == 0 ? 0 : limit - 1)));
    co_return strings(r);
}

asio::awaitable<std::vector<std::pair<std::string, std::int64_t>>> call_store::calls_by_state() {
    std::vector<std::pair<std::string, std::int64_t>> out;
    auto r = co_await redis_->exec(redis_cmd("HGETALL", keys::calls_by_state));
    if (r.ok()) {
        for (std::size_t i = 0; i + 1 < r.reply.elements.size(); i += 2)
            out.emplace_back(r.reply.elements[i].str, r.reply.elements[i + 1].as_int());
    }
    co_return out;
}

asio::awaitable<std::optional<std::vector<adm::HistoryEntry>>> call_store::history(
    const std::string& call_id) {
    auto h = co_await redis_->exec(redis_cmd("LRANGE", keys::call_history(call_id), "0", "-1"));
    if (!h.ok()) co_return std::nullopt;
    google::protobuf::util::JsonParseOptions po;
    po.ignore_unknown_fields = true;
    std::vector<adm::HistoryEntry> out;
    for (const auto& e : h.reply.elements) {
        adm::HistoryEntry entry;
        if (google::protobuf::util::JsonStringToMessage(e.str, &entry, po).ok())
            out.push_back(std::move(entry));
    }
    co_return out;
}

}  // namespace anxin::dispatcher
