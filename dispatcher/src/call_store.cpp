#include "anxin/dispatcher/call_store.hpp"

#include "console.pb.h"
#include "lua_scripts.hpp"

#include "anxin/dispatcher/call_policy.hpp"
#include "anxin/dispatcher/press_identity.hpp"

#include "anxin/protocol/device_auth.hpp"

#include <google/protobuf/util/json_util.h>
#include <openssl/sha.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <charconv>
#include <unordered_map>

namespace asio = boost::asio;

namespace anxin::dispatcher {

std::string script_sha1(const std::string& body) {
    unsigned char md[SHA_DIGEST_LENGTH];
    SHA1(reinterpret_cast<const unsigned char*>(body.data()), body.size(), md);
    return protocol::to_hex(std::string_view(reinterpret_cast<const char*>(md), sizeof md));
}

namespace {

transition_result to_transition(const redis_result& r) {
    transition_result out;
    if (!r.ok() || !r.reply.is_array() || r.reply.elements.empty()) {
        out.code = "unavailable";
        out.data.push_back(r.error_text());
        return out;
    }
    out.code = r.reply.elements[0].as_string();
    for (std::size_t i = 1; i < r.reply.elements.size(); ++i)
        out.data.push_back(r.reply.elements[i].as_string());
    return out;
}

std::int64_t to_i64(const std::string& s) {
    std::int64_t v = 0;
    std::from_chars(s.data(), s.data() + s.size(), v);
    return v;
}

double to_double(const std::string& s) {
    try {
        return s.empty() ? 0.0 : std::stod(s);
    } catch (...) {
        return 0.0;
    }
}

}  // namespace

bool valid_call_id(std::string_view id) {
    if (id.size() < 8 || id.size() > 20 || id[0] != 'C') return false;
    return id.find_first_not_of("0123456789", 1) == std::string_view::npos;
}

call_store::call_store(std::shared_ptr<redis_connection> redis, std::string instance,
                       std::shared_ptr<redis_connection> ingest)
    : redis_(std::move(redis)), ingest_(std::move(ingest)), instance_(std::move(instance)) {}

asio::awaitable<redis_result> call_store::eval(const char* body, std::vector<std::string> args) {
    return eval_on(*redis_, body, std::move(args));
}

asio::awaitable<redis_result> call_store::eval_on(redis_connection& conn, const char* body,
                                                  std::vector<std::string> args) {
    // The script text is the prelude plus the body; its SHA1 is computed once per script.
    static std::unordered_map<const char*, std::pair<std::string, std::string>> cache;
    auto it = cache.find(body);
    if (it == cache.end()) {
        std::string full = std::string(lua::prelude) + body;
        it = cache.emplace(body, std::make_pair(script_sha1(full), full)).first;
    }
    std::vector<std::string> cmd;
    cmd.reserve(args.size() + 3);
    cmd.push_back("EVALSHA");
    cmd.push_back(it->second.first);
    cmd.push_back("0");
    for (auto& a : args) cmd.push_back(a);
    auto r = co_await conn.exec(cmd);
    if (r.st == redis_result::status::ok && r.reply.is_error() &&
        r.reply.str.rfind("NOSCRIPT", 0) == 0) {
        // First use on this Redis (or after a restart): send the text, which also caches it.
        cmd[0] = "EVAL";
        cmd[1] = cache.at(body).second;  // looked up again: another script's first use may rehash
        r = co_await conn.exec(std::move(cmd));
    }
    co_return r;
}

// One WAIT and the ingests it answers for.
struct call_store::wait_round {
    explicit wait_round(asio::io_context& io) : done(io, asio::steady_timer::time_point::max()) {}
    asio::steady_timer done;  // cancelled when the answer is in
    std::int64_t replicas = -1;
};

void call_store::require_replicas(int replicas, std::chrono::milliseconds timeout) {
    wait_replicas_ = replicas;
    wait_timeout_ = timeout;
}

asio::awaitable<std::int64_t> call_store::replicas_confirmed(redis_connection& conn) {
    // WAIT blocks the connection until it returns: one per alarm would serialise the ack path
    // (and, with a replica down, cost every alarm the full timeout in turn). Every ingest whose
    // script has returned joins the next WAIT; it covers all of them.
    if (!next_round_) next_round_ = std::make_shared<wait_round>(conn.io());
    auto round = next_round_;
    if (!wait_running_) {
        wait_running_ = true;
        asio::co_spawn(conn.io(), run_wait_rounds(conn), asio::detached);
    }
    co_await round->done.async_wait(asio::as_tuple(asio::use_awaitable));
    co_return round->replicas;
}

asio::awaitable<void> call_store::run_wait_rounds(redis_connection& conn) {
    while (next_round_) {
        auto round = std::move(next_round_);
        next_round_.reset();
        auto cmd = redis_cmd("WAIT", std::to_string(wait_replicas_),
                             std::to_string(wait_timeout_.count()));
        auto r = co_await conn.exec(cmd);
        if (r.ok() && r.reply.type == redis_reply::kind::integer) round->replicas = r.reply.integer;
        round->done.cancel();
    }
    wait_running_ = false;
}

asio::awaitable<ingest_result> call_store::ingest(const alarm_input& a) {
    // Acks wait for this reply only: on a connection of its own it does not queue behind the
    // routing work pipelined on the main connection.
    auto& conn = ingest_ ? *ingest_ : *redis_;
    const auto generation = conn.generation();
    const incoming_press press{a.type, a.device_time_ms, !a.epoch.empty(),
                               a.sequence.find_first_not_of("0123456789") != std::string::npos};
    ingest_result out;
    std::string replaces, reason;
    // A sequence on record is classified and, for a new press, the call made only if the record
    // still names the call classified against; otherwise (another instance stored a press with
    // that sequence meanwhile) classify again against the newer one.
    for (int attempt = 0;; ++attempt) {
        if (attempt == 3) {
            out.error = "sequence " + a.sequence + " kept changing under us";
            co_return out;
        }
        auto args = redis_cmd(a.device_id, a.sequence, a.type, std::to_string(a.device_time_ms),
                              std::to_string(a.battery_percent), a.resident_id, instance_,
                              std::to_string(a.priority));
        if (a.route) {
            const auto& rt = *a.route;
            char dist[32];
            std::snprintf(dist, sizeof dist, "%.3f", rt.distance_km);
            for (auto& v : redis_cmd(rt.to_command_centre ? "cc" : "station", rt.station_id,
                                     rt.station_name, dist, std::to_string(rt.due_after_ms)))
                args.push_back(std::move(v));
        } else {
            args.resize(args.size() + 5);
        }
        for (auto& v : redis_cmd(a.epoch, replaces, reason)) args.push_back(std::move(v));
        if (a.route) {
            for (const auto& op : a.route->offers) args.push_back(op);
        }
        auto r = co_await eval_on(conn, lua::ingest, std::move(args));
        const auto& e = r.reply.elements;
        if (r.ok() && r.reply.is_array() && e.size() == 4 && e[0].as_string() == "created") {
            out.call_id = e[1].as_string();
            out.received_ms = to_i64(e[2].as_string());
            out.routed = e[3].as_int() == 1;
            out.collided_with = replaces;
            out.collision_reason = reason;
            break;
        }
        if (!r.ok() || !r.reply.is_array() || e.size() != 7 || e[0].as_string() != "seen") {
            out.error = r.ok() ? "unexpected ingest reply" : r.error_text();
            co_return out;
        }
        recorded_press rec{e[1].as_string(), e[2].as_string(), to_i64(e[3].as_string()),
                           to_i64(e[4].as_string()), e[5].as_string() == "closed"};
        auto verdict = classify_press(rec, press, to_i64(e[6].as_string()));
        if (verdict.match == press_match::resend) {
            out.call_id = rec.call_id;
            out.duplicate = true;
            out.received_ms = rec.received_ms;
            break;
        }
        replaces = rec.call_id;
        reason = std::move(verdict.reason);
    }
    if (wait_replicas_ > 0) {
        if (out.duplicate) {
            // The script wrote nothing, so WAIT would only cover this connection's earlier
            // writes (none, on a fresh connection), not the original alarm. Any replicated write
            // moves the connection's offset past it; PUBLISH stores nothing.
            auto barrier = redis_cmd("PUBLISH", "anx:replication-barrier", a.device_id);
            co_await conn.exec(barrier);
        }
        auto replicas = co_await replicas_confirmed(conn);
        // A reconnect in between means WAIT ran on another connection (maybe another primary)
        // and says nothing about this alarm.
        if (replicas < wait_replicas_ || conn.generation() != generation) {
            out.error =
                "stored as call " + out.call_id + " but " +
                (replicas < 0 ? std::string("WAIT failed")
                              : std::to_string(replicas) + " of " + std::to_string(wait_replicas_) +
                                    " replicas confirmed it within " +
                                    std::to_string(wait_timeout_.count()) + " ms");
            co_return out;
        }
    }
    out.stored = true;
    co_return out;
}

asio::awaitable<transition_result> call_store::escalate(
    const std::string& call_id, std::int64_t version, const std::string& station_id,
    const std::string& station_name, double distance_km, std::int64_t next_due_ms,
    int missed_threshold, bool require_due) {
    char dist[32];
    std::snprintf(dist, sizeof dist, "%.3f", distance_km);
    auto args = redis_cmd(call_id, std::to_string(version), station_id.empty() ? "cc" : "station",
                          station_id, station_name, dist, std::to_string(next_due_ms), instance_,
                          std::to_string(missed_threshold), require_due ? "1" : "0");
    co_return to_transition(co_await eval(lua::escalate, std::move(args)));
}

asio::awaitable<transition_result> call_store::apply_offers(
    const std::string& call_id, std::int64_t version, const std::vector<std::string>& operators) {
    std::vector<std::string> args{call_id, std::to_string(version)};
    args.insert(args.end(), operators.begin(), operators.end());
    co_return to_transition(co_await eval(lua::apply_offers, std::move(args)));
}

asio::awaitable<transition_result> call_store::accept(const std::string& call_id,
                                                      const std::string& op, bool supervisor,
                                                      int max_calls) {
    if (!valid_call_id(call_id)) co_return transition_result{"bad_id", {}};
    co_return to_transition(co_await eval(
        lua::accept,
        redis_cmd(call_id, op, instance_, supervisor ? "1" : "0", std::to_string(max_calls))));
}

asio::awaitable<transition_result> call_store::close(const std::string& call_id,
                                                     const std::string& op,
                                                     const std::string& outcome,
                                                     const std::string& note,
                                                     std::int64_t wrap_up_ms) {
    if (!valid_call_id(call_id)) co_return transition_result{"bad_id", {}};
    co_return to_transition(co_await eval(
        lua::close, redis_cmd(call_id, op, outcome, note, instance_, std::to_string(wrap_up_ms),
                              std::to_string(max_note_bytes))));
}

asio::awaitable<transition_result> call_store::release(
    const std::string& call_id, const std::string& op, const std::string& reason,
    const std::string& station_id, const std::string& station_name, std::int64_t next_due_ms,
    const std::string& note) {
    if (!valid_call_id(call_id)) co_return transition_result{"bad_id", {}};
    co_return to_transition(co_await eval(
        lua::release,
        redis_cmd(call_id, op, instance_, reason, station_id, station_name,
                  std::to_string(next_due_ms), note, std::to_string(max_notes_per_call),
                  std::to_string(max_note_bytes))));
}

asio::awaitable<transition_result> call_store::add_note(const std::string& call_id,
                                                        const std::string& op,
                                                        const std::string& text, bool supervisor) {
    if (!valid_call_id(call_id)) co_return transition_result{"bad_id", {}};
    co_return to_transition(co_await eval(
        lua::note, redis_cmd(call_id, op, text, instance_, supervisor ? "1" : "0",
                             std::to_string(max_notes_per_call), std::to_string(max_note_bytes))));
}

namespace {

// Calls per bulk script: each call is a dozen Redis commands, so a chunk keeps Redis busy for
// about a millisecond, not the time of a thousand calls.
constexpr std::size_t bulk_chunk = 100;

// Runs `script` over ids in chunks; fixed are the ARGV before the ids. Ids that are not call ids
// are answered bad_id without asking Redis.
asio::awaitable<std::vector<call_store::bulk_item>> run_bulk(call_store& store, const char* script,
                                                             const std::vector<std::string>& fixed,
                                                             const std::vector<std::string>& ids) {
    std::vector<call_store::bulk_item> out;
    std::vector<std::string> valid;
    for (const auto& id : ids) {
        if (valid_call_id(id))
            valid.push_back(id);
        else
            out.push_back({id, "bad_id", {}, {}});
    }
    for (std::size_t start = 0; start < valid.size(); start += bulk_chunk) {
        const auto end = std::min(valid.size(), start + bulk_chunk);
        auto args = fixed;
        args.insert(args.end(), valid.begin() + static_cast<std::ptrdiff_t>(start),
                    valid.begin() + static_cast<std::ptrdiff_t>(end));
        auto r = co_await store.eval(script, std::move(args));
        const auto* e = r.ok() && r.reply.is_array() ? &r.reply.elements : nullptr;
        std::size_t i = 0;
        for (std::size_t k = start; k < end; ++k) {
            call_store::bulk_item item{valid[k], "unavailable", {}, {}};
            if (e && i + 4 <= e->size() && (*e)[i].as_string() == valid[k]) {
                item.code = (*e)[i + 1].as_string();
                item.device_id = (*e)[i + 2].as_string();
                std::size_t n = 0;
                const auto ns = (*e)[i + 3].as_string();
                std::from_chars(ns.data(), ns.data() + ns.size(), n);
                i += 4;
                for (std::size_t j = 0; j < n && i < e->size(); ++j, ++i)
                    item.offered.push_back((*e)[i].as_string());
            }
            out.push_back(std::move(item));
        }
    }
    co_return out;
}

}  // namespace

// (The fixed arguments are named: g++ 12 cannot take a braced list in a co_await expression.)
asio::awaitable<std::vector<call_store::bulk_item>> call_store::bulk_close(
    const std::vector<std::string>& ids, const std::string& supervisor, const std::string& outcome,
    const std::string& note, const std::string& detail) {
    std::vector<std::string> fixed{instance_, supervisor, outcome, note, detail};
    co_return co_await run_bulk(*this, lua::bulk_close, fixed, ids);
}

asio::awaitable<std::vector<call_store::bulk_item>> call_store::bulk_transfer(
    const std::vector<std::string>& ids, const std::string& supervisor,
    const std::string& station_id, const std::string& station_name, std::int64_t next_due_ms,
    const std::string& note, const std::string& detail) {
    std::vector<std::string> fixed{instance_,
                                   supervisor,
                                   station_id,
                                   station_name,
                                   std::to_string(next_due_ms),
                                   note,
                                   std::to_string(max_notes_per_call),
                                   detail};
    co_return co_await run_bulk(*this, lua::bulk_transfer, fixed, ids);
}

asio::awaitable<transition_result> call_store::cancel(const std::string& device_id,
                                                      const std::string& call_id,
                                                      int auto_close_priority) {
    co_return to_transition(co_await eval(
        lua::cancel,
        redis_cmd(device_id, call_id, instance_, std::to_string(auto_close_priority))));
}

asio::awaitable<transition_result> call_store::auto_resolve(const std::string& call_id,
                                                            const std::string& outcome,
                                                            const std::string& detail) {
    co_return to_transition(
        co_await eval(lua::auto_resolve, redis_cmd(call_id, outcome, detail, instance_)));
}

asio::awaitable<transition_result> call_store::set_status(const std::string& op,
                                                          const std::string& status,
                                                          const std::string& reason) {
    co_return to_transition(
        co_await eval(lua::set_status, redis_cmd(op, status, reason, instance_)));
}

asio::awaitable<call_store::loaded_call> call_store::load(const std::string& call_id) {
    loaded_call out;
    auto r = co_await redis_->exec(redis_cmd("HGETALL", "anx:call:" + call_id));
    if (!r.ok()) co_return out;
    out.ok = true;
    const auto& e = r.reply.elements;
    for (std::size_t i = 0; i + 1 < e.size(); i += 2)
        out.fields.emplace_back(e[i].str, e[i + 1].str);
    out.found = !out.fields.empty();
    co_return out;
}

namespace {
// A console Call from the fields of its anx:call hash (notes apart).
template <class Fields>
void fill_console_call(const Fields& fields, anxin::console::v1::Call& c) {
    c.set_battery_percent(-1);
    for (const auto& [k, v] : fields) {
        if (k == "id")
            c.set_id(v);
        else if (k == "state")
            c.set_state(v);
        else if (k == "type")
            c.set_alarm_type(v);
        else if (k == "device")
            c.set_device_id(v);
        else if (k == "resident")
            c.set_resident_id(v);
        else if (k == "received_ms")
            c.set_received_ms(to_i64(v));
        else if (k == "station")
            c.set_station_id(v);
        else if (k == "station_name")
            c.set_station_name(v);
        else if (k == "distance_km")
            c.set_distance_km(to_double(v));
        else if (k == "operator")
            c.set_operator_id(v);
        else if (k == "accepted_ms")
            c.set_accepted_ms(to_i64(v));
        else if (k == "closed_ms")
            c.set_closed_ms(to_i64(v));
        else if (k == "outcome")
            c.set_outcome(v);
        else if (k == "cancelled_ms")
            c.set_cancelled_ms(to_i64(v));
        else if (k == "battery")
            c.set_battery_percent(static_cast<int>(to_i64(v)));
        else if (k == "priority") {
            c.set_priority(static_cast<int>(to_i64(v)));
            c.set_priority_name(std::string(priority_name(c.priority())));
        } else if (k == "cc")
            c.set_at_command_centre(v == "1");
        else if (k == "tiers") {
            std::size_t start = 0;
            while (start < v.size()) {
                auto comma = v.find(',', start);
                c.add_tier_station_ids(v.substr(
                    start, comma == std::string::npos ? std::string::npos : comma - start));
                if (comma == std::string::npos) break;
                start = comma + 1;
            }
        }
    }
}
}  // namespace

asio::awaitable<bool> call_store::load_console_call(const std::string& call_id,
                                                    anxin::console::v1::Call& c) {
    auto loaded = co_await load(call_id);
    if (!loaded.found) co_return false;
    fill_console_call(loaded.fields, c);
    auto notes =
        co_await redis_->exec(redis_cmd("LRANGE", "anx:call:" + call_id + ":notes", "0", "-1"));
    if (notes.ok()) {
        for (const auto& n : notes.reply.elements) {
            anxin::console::v1::Note note;
            if (google::protobuf::util::JsonStringToMessage(n.str, &note).ok())
                *c.add_notes() = note;
        }
    }
    co_return true;
}

asio::awaitable<std::optional<std::vector<anxin::console::v1::Call>>> call_store::load_open_calls(
    std::size_t batch) {
    auto ids = co_await redis_->exec(redis_cmd("ZRANGE", "anx:calls:open", "0", "-1"));
    if (!ids.ok()) co_return std::nullopt;
    std::vector<anxin::console::v1::Call> out;
    out.reserve(ids.reply.elements.size());
    const auto& e = ids.reply.elements;
    for (std::size_t from = 0; from < e.size(); from += batch) {
        std::vector<std::vector<std::string>> cmds;
        for (std::size_t i = from; i < std::min(e.size(), from + batch); ++i)
            cmds.push_back(redis_cmd("HGETALL", "anx:call:" + e[i].str));
        auto replies = co_await redis_->exec_many(std::move(cmds));
        for (const auto& r : replies) {
            if (!r.ok()) co_return std::nullopt;
            const auto& f = r.reply.elements;
            if (f.empty()) continue;  // gone meanwhile
            std::vector<std::pair<std::string, std::string>> fields;
            fields.reserve(f.size() / 2);
            for (std::size_t i = 0; i + 1 < f.size(); i += 2)
                fields.emplace_back(f[i].str, f[i + 1].str);
            fill_console_call(fields, out.emplace_back());
        }
    }
    co_return out;
}

asio::awaitable<std::optional<bool>> call_store::offered_to(const std::string& call_id,
                                                            const std::string& op) {
    auto r = co_await redis_->exec(redis_cmd("SISMEMBER", "anx:op:" + op + ":offers", call_id));
    if (!r.ok()) co_return std::nullopt;
    co_return r.reply.as_int() == 1;
}

asio::awaitable<std::vector<std::string>> call_store::device_open_calls(
    const std::string& device_id) {
    std::vector<std::string> out;
    auto r =
        co_await redis_->exec(redis_cmd("ZRANGE", "anx:device:" + device_id + ":open", "0", "-1"));
    if (r.ok()) {
        for (auto& e : r.reply.elements) out.push_back(e.str);
    }
    co_return out;
}

asio::awaitable<bool> call_store::refresh_presence(const std::string& station_id,
                                                   const std::string& op, std::int64_t lease_ms) {
    auto r = co_await eval(lua::presence_refresh,
                           redis_cmd(station_id + "/" + op, std::to_string(lease_ms)));
    co_return r.ok();
}

asio::awaitable<bool> call_store::drop_presence(const std::string& station_id,
                                                const std::string& op) {
    auto r = co_await eval(lua::presence_refresh, redis_cmd(station_id + "/" + op, "0"));
    co_return r.ok();
}

asio::awaitable<std::optional<std::vector<presence_entry>>> call_store::presence(
    std::int64_t& now_ms, redis_connection* on) {
    auto r = co_await eval_on(on ? *on : *redis_, lua::presence_all, redis_cmd());
    if (!r.ok() || !r.reply.is_array() || r.reply.elements.empty()) co_return std::nullopt;
    now_ms = to_i64(r.reply.elements[0].as_string());
    std::vector<presence_entry> out;
    for (std::size_t i = 1; i + 1 < r.reply.elements.size(); i += 2) {
        const auto& m = r.reply.elements[i].str;
        auto slash = m.find('/');
        if (slash == std::string::npos) continue;
        out.push_back({m.substr(0, slash), m.substr(slash + 1),
                       static_cast<std::int64_t>(to_double(r.reply.elements[i + 1].as_string()))});
    }
    co_return out;
}

asio::awaitable<device_seen_result> call_store::device_seen(const std::string& device,
                                                            int heartbeat_interval_s,
                                                            std::int64_t deadline_offset_ms,
                                                            int battery, std::int64_t recovery_ms) {
    device_seen_result out;
    auto r = co_await eval(
        lua::device_seen,
        redis_cmd(device, std::to_string(heartbeat_interval_s), std::to_string(deadline_offset_ms),
                  std::to_string(battery), std::to_string(recovery_ms)));
    if (!r.ok() || r.reply.elements.size() != 3) co_return out;
    out.ok = true;
    out.was_offline = r.reply.elements[0].str == "1";
    out.offline_call = r.reply.elements[1].str;
    out.low_battery_episode = r.reply.elements[2].str == "1";
    co_return out;
}

asio::awaitable<transition_result> call_store::claim_offline(const std::string& device) {
    co_return to_transition(co_await eval(lua::device_offline, redis_cmd(device)));
}

asio::awaitable<std::optional<std::string>> call_store::recovered(const std::string& device) {
    auto r = to_transition(co_await eval(lua::device_recovered, redis_cmd(device)));
    if (!r.ok() || r.data.empty()) co_return std::nullopt;
    co_return r.data[0];
}

asio::awaitable<std::optional<std::string>> call_store::note_epoch(const std::string& device,
                                                                   const std::string& epoch) {
    auto r = to_transition(co_await eval(lua::note_epoch, redis_cmd(device, epoch)));
    if (r.code == "unavailable" || r.data.empty()) co_return std::nullopt;
    co_return r.data[0];
}

asio::awaitable<std::optional<std::string>> call_store::battery_episode(const std::string& device,
                                                                        bool low) {
    auto r = to_transition(co_await eval(lua::battery_episode, redis_cmd(device, low ? "1" : "0")));
    if (r.code != "changed" || r.data.empty()) co_return std::nullopt;
    co_return r.data[0];
}

}  // namespace anxin::dispatcher
