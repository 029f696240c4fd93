#include "anxin/dispatcher/directory.hpp"
#include "anxin/dispatcher/redis_keys.hpp"

#include "admin.pb.h"
#include "console.pb.h"

#include "anxin/dispatcher/offload.hpp"
#include "anxin/dispatcher/password.hpp"

#include "lua_scripts.hpp"

#include <spdlog/spdlog.h>

#include <google/protobuf/util/json_util.h>
#include <ctime>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cassert>
#include <unordered_set>

namespace asio = boost::asio;

namespace anxin::dispatcher {

namespace {

std::string num(double v) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.7f", v);
    return buf;
}

double to_double(const std::string& s) {
    try {
        return s.empty() ? 0.0 : std::stod(s);
    } catch (...) {
        return 0.0;
    }
}

std::unordered_map<std::string, std::string> to_map(const redis_reply& r) {
    std::unordered_map<std::string, std::string> m;
    for (std::size_t i = 0; i + 1 < r.elements.size(); i += 2)
        m[r.elements[i].str] = r.elements[i + 1].str;
    return m;
}

}  // namespace

bool valid_id(const std::string& id) {
    if (id.empty() || id.size() > 64) return false;
    for (char c : id) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-' || c == '.';
        if (!ok) return false;
    }
    return true;
}

void to_console_resident(const resident_record& r, anxin::console::v1::Resident& out) {
    out.set_id(r.id);
    out.set_name(r.name);
    out.set_address(r.address);
    out.set_phone(r.phone);
    out.set_lat(r.home.lat);
    out.set_lon(r.home.lon);
}

directory::directory(std::shared_ptr<redis_connection> redis, asio::thread_pool& pool,
                     int pbkdf2_iterations, std::shared_ptr<const secret_box> secrets)
    : redis_(std::move(redis)),
      secrets_(std::move(secrets)),
      pool_(pool),
      pbkdf2_iterations_(pbkdf2_iterations),
      logins_(redis_, pool, pbkdf2_iterations) {
    assert(secrets_);
}

asio::awaitable<lookup_status> directory::find_device(const std::string& id, device_record& out) {
    if (!valid_id(id)) co_return lookup_status::not_found;
    auto r = co_await redis_->exec(redis_cmd("HMGET", "anx:device:" + id, "secret", "resident",
                                             "heartbeat_interval_s", "epoch"));
    if (!r.ok() || r.reply.elements.size() != 4) co_return lookup_status::unavailable;
    if (r.reply.elements[0].is_nil()) co_return lookup_status::not_found;
    out.id = id;
    out.secret.clear();
    out.secret_unreadable = false;
    const std::string stored = r.reply.elements[0].str;
    switch (secrets_->open(id, stored, out.secret)) {
        case secret_box::open_status::sealed:
            break;
        case secret_box::open_status::plaintext: {
            // Sealed now, beside the handshake; the plaintext just read still serves this one.
            // (The executor and the job are named first: g++ 12 destroys a lambda temporary of a
            // full-expression holding a co_await twice.)
            auto ex = co_await asio::this_coro::executor;
            auto job = [this, id, stored]() -> asio::awaitable<void> {
                (void)co_await seal_if_unchanged(id, stored);
            };
            asio::co_spawn(ex, std::move(job), asio::detached);
            break;
        }
        case secret_box::open_status::failed:
            out.secret.clear();
            out.secret_unreadable = true;
            note_unreadable(id);
            break;
    }
    out.resident_id = r.reply.elements[1].str;
    out.heartbeat_interval_s = static_cast<int>(r.reply.elements[2].as_int());
    out.epoch = r.reply.elements[3].str;
    co_return lookup_status::found;
}

void directory::note_unreadable(const std::string& id) {
    // With the wrong key every device fails at once: one line per 30 s, not one per device.
    ++unreadable_unlogged_;
    const auto now = std::chrono::steady_clock::now();
    if (unreadable_logged_ != std::chrono::steady_clock::time_point{} &&
        now - unreadable_logged_ < std::chrono::seconds(30))
        return;
    spdlog::error(
        "device {}: its stored secret does not decrypt with this instance's secrets key (wrong "
        "--secrets-key-file? every instance on one Redis needs the same key); {} such device "
        "lookups in the last 30 s; the device cannot authenticate",
        id, unreadable_unlogged_);
    unreadable_logged_ = now;
    unreadable_unlogged_ = 0;
}

asio::awaitable<bool> directory::seal_if_unchanged(const std::string& id,
                                                   const std::string& plaintext) {
    auto sealed = secrets_->seal(id, plaintext);
    if (sealed.empty()) co_return false;
    auto r = co_await redis_->exec(
        redis_cmd("EVAL", lua::seal_secret, "1", "anx:device:" + id, plaintext, sealed));
    co_return r.ok() && r.reply.as_int() == 1;
}

asio::awaitable<int> directory::seal_legacy_secrets() {
    int sealed = 0;
    std::string cursor = "0";
    do {
        auto r = co_await redis_->exec(
            redis_cmd("SCAN", cursor, "MATCH", "anx:device:*", "COUNT", "1000", "TYPE", "hash"));
        if (!r.ok() || r.reply.elements.size() != 2) co_return -1;
        cursor = r.reply.elements[0].str;
        // Copied out first: the reply is not touched across the awaits below.
        std::vector<std::string> ids;
        for (const auto& key : r.reply.elements[1].elements) {
            auto id = key.str.substr(std::string_view("anx:device:").size());
            if (valid_id(id)) ids.push_back(std::move(id));
        }
        for (const auto& id : ids) {
            auto s = co_await redis_->exec(redis_cmd("HGET", "anx:device:" + id, "secret"));
            if (!s.ok()) co_return -1;
            if (s.reply.is_nil() || s.reply.str.empty() || secret_box::is_sealed(s.reply.str))
                continue;
            if (co_await seal_if_unchanged(id, s.reply.str)) ++sealed;
        }
    } while (cursor != "0");
    co_return sealed;
}

asio::awaitable<lookup_status> directory::find_operator(const std::string& id,
                                                        operator_record& out) {
    if (!valid_id(id)) co_return lookup_status::not_found;
    auto r = co_await redis_->exec(
        redis_cmd("HMGET", "anx:operator:" + id, "name", "station", "pwhash", "role"));
    if (!r.ok() || r.reply.elements.size() != 4) co_return lookup_status::unavailable;
    if (r.reply.elements[2].is_nil()) co_return lookup_status::not_found;
    out.id = id;
    out.name = r.reply.elements[0].str;
    out.station_id = r.reply.elements[1].str;
    out.password_hash = r.reply.elements[2].str;
    out.supervisor = r.reply.elements[3].str == "supervisor";
    co_return lookup_status::found;
}

namespace {
void parse_resident(const std::string& id, const redis_reply& hash, resident_record& out) {
    auto m = to_map(hash);
    out.id = id;
    out.name = m["name"];
    out.address = m["address"];
    out.phone = m["phone"];
    out.home = {to_double(m["lat"]), to_double(m["lon"])};
    out.date_of_birth = m["dob"];
    out.health_conditions = m["conditions"];
    out.medication = m["medication"];
    out.gp = m["gp"];
    out.key_holders_json = m["key_holders"];
}
}  // namespace

asio::awaitable<lookup_status> directory::find_resident(const std::string& id,
                                                        resident_record& out) {
    auto r = co_await redis_->exec(redis_cmd("HGETALL", "anx:resident:" + id));
    if (!r.ok()) co_return lookup_status::unavailable;
    if (r.reply.elements.empty()) co_return lookup_status::not_found;
    parse_resident(id, r.reply, out);
    co_return lookup_status::found;
}

int age_on(const std::string& dob, std::int64_t now_ms) {
    int y = 0, mo = 0, d = 0;
    if (dob.size() != 10 || std::sscanf(dob.c_str(), "%4d-%2d-%2d", &y, &mo, &d) != 3 || mo < 1 ||
        mo > 12 || d < 1 || d > 31) {
        return 0;
    }
    std::time_t t = static_cast<std::time_t>(now_ms / 1000);
    std::tm tm{};
    gmtime_r(&t, &tm);
    int age = tm.tm_year + 1900 - y;
    if (tm.tm_mon + 1 < mo || (tm.tm_mon + 1 == mo && tm.tm_mday < d)) --age;
    return age < 0 ? 0 : age;
}

asio::awaitable<bool> directory::resident_card(const std::string& resident_id,
                                               const std::string& current_call,
                                               anxin::console::v1::Resident& out) {
    // The resident (unless cached), their devices and recent calls in one round trip (this is on
    // the way of every offer), then the devices' and calls' fields in a second.
    // The cache entry is shared, not referenced: other coroutines insert (rehash), expire or
    // clear residents_ while this one waits for Redis, so nothing into the map outlives an await.
    const auto now = std::chrono::steady_clock::now();
    std::shared_ptr<const cached_resident> card;
    if (auto it = residents_.find(resident_id); it != residents_.end()) {
        if (now - it->second->at > std::chrono::seconds(10))
            residents_.erase(it);
        else
            card = it->second;
    }
    const bool have = card != nullptr;
    std::vector<std::vector<std::string>> reads;
    if (!have) reads.push_back(redis_cmd("HGETALL", "anx:resident:" + resident_id));
    reads.push_back(redis_cmd("SMEMBERS", "anx:resident:" + resident_id + ":devices"));
    reads.push_back(redis_cmd("ZREVRANGE", "anx:resident:" + resident_id + ":calls", "0", "5"));
    auto first = co_await redis_->exec_many(std::move(reads));
    const std::size_t base = have ? 0 : 1;
    if (first.size() != base + 2) co_return false;
    if (!have) {
        if (!first[0].ok() || first[0].reply.elements.empty()) co_return false;
        auto c = std::make_shared<cached_resident>();
        parse_resident(resident_id, first[0].reply, c->record);
        if (!c->record.key_holders_json.empty()) {
            anxin::admin::v1::Resident holder;  // {"key_holders": [...]} via the admin message
            if (google::protobuf::util::JsonStringToMessage(
                    "{\"key_holders\":" + c->record.key_holders_json + "}", &holder)
                    .ok()) {
                anxin::console::v1::Resident holders;
                for (const auto& k : holder.key_holders()) *holders.add_key_holders() = k;
                c->key_holders = holders.SerializeAsString();
            }
        }
        c->at = now;
        if (residents_.size() >= 50000) residents_.clear();  // bounded; refilled as needed
        residents_.insert_or_assign(resident_id, c);
        card = std::move(c);
    }
    const resident_record& r = card->record;
    const auto& devs = first[base];
    const auto& recent = first[base + 1];
    to_console_resident(r, out);
    auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
    out.set_date_of_birth(r.date_of_birth);
    out.set_age(age_on(r.date_of_birth, now_ms));
    out.set_health_conditions(r.health_conditions);
    out.set_medication(r.medication);
    out.set_gp(r.gp);
    if (!card->key_holders.empty()) {
        anxin::console::v1::Resident holders;
        if (holders.ParseFromString(card->key_holders)) {
            for (auto& k : *holders.mutable_key_holders()) *out.add_key_holders() = std::move(k);
        }
    }
    std::vector<std::vector<std::string>> cmds;
    std::vector<std::string> dev_ids, call_ids;
    if (devs.ok()) {
        for (const auto& d : devs.reply.elements) {
            dev_ids.push_back(d.str);
            cmds.push_back(redis_cmd("HMGET", "anx:device:" + d.str, "model", "battery",
                                     "last_seen_ms", "offline", "sequence_collisions",
                                     "counter_resets"));
        }
    }
    if (recent.ok()) {
        for (const auto& c : recent.reply.elements) {
            if (c.str == current_call || call_ids.size() >= 5) continue;
            call_ids.push_back(c.str);
            cmds.push_back(
                redis_cmd("HMGET", "anx:call:" + c.str, "type", "received_ms", "state", "outcome"));
        }
    }
    auto replies = co_await redis_->exec_many(std::move(cmds));
    for (std::size_t i = 0; i < replies.size(); ++i) {
        if (!replies[i].ok()) continue;
        const auto& e = replies[i].reply.elements;
        if (i < dev_ids.size()) {
            if (e.size() != 6) continue;
            auto* d = out.add_devices();
            d->set_id(dev_ids[i]);
            d->set_model(e[0].str);
            d->set_battery_percent(e[1].is_nil() ? -1 : static_cast<int>(e[1].as_int()));
            d->set_last_seen_ms(e[2].as_int());
            d->set_online(!e[2].is_nil() && e[3].str != "1");
            d->set_sequence_collisions(static_cast<std::uint32_t>(e[4].as_int()));
            d->set_counter_resets(static_cast<std::uint32_t>(e[5].as_int()));
        } else {
            if (e.size() != 4) continue;
            auto* c = out.add_recent_calls();
            c->set_id(call_ids[i - dev_ids.size()]);
            c->set_alarm_type(e[0].str);
            c->set_received_ms(e[1].as_int());
            c->set_state(e[2].str);
            c->set_outcome(e[3].str);
        }
    }
    co_return true;
}

asio::awaitable<std::shared_ptr<const std::vector<station_site>>> directory::stations() {
    auto now = std::chrono::steady_clock::now();
    if (stations_ && now - stations_checked_ < std::chrono::seconds(1)) co_return stations_;
    // One refresh at a time: a batch of calls routed concurrently must not each load every
    // station (at start, with the cache empty, that was hundreds of copies of the same reads).
    // Meanwhile the others use the list they have, or wait for the first one.
    if (stations_refreshing_) {
        if (stations_) co_return stations_;
        asio::steady_timer t(co_await asio::this_coro::executor);
        for (int i = 0; i < 1000 && stations_refreshing_; ++i) {
            t.expires_after(std::chrono::milliseconds(5));
            boost::system::error_code ec;
            co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        }
        co_return stations_;
    }
    stations_refreshing_ = true;
    struct done_guard {
        bool& flag;
        ~done_guard() { flag = false; }
    } guard{stations_refreshing_};
    auto v = co_await redis_->exec(redis_cmd("GET", "anx:directory:version"));
    if (!v.ok()) co_return stations_;  // keep serving the cached list while Redis is away
    stations_checked_ = now;
    if (stations_ && v.reply.as_string() == stations_version_) co_return stations_;
    residents_.clear();  // something was provisioned: cards are read afresh
    auto list = co_await list_stations();
    auto sites = std::make_shared<std::vector<station_site>>();
    for (const auto& s : list) sites->push_back({s.id(), s.name(), {s.lat(), s.lon()}, s.area()});
    stations_ = sites;
    stations_version_ = v.reply.as_string();
    co_return stations_;
}

std::shared_ptr<const std::vector<station_site>> directory::cached_stations() {
    if (!stations_refreshing_ &&
        (!stations_ ||
         std::chrono::steady_clock::now() - stations_checked_ > std::chrono::seconds(1))) {
        asio::co_spawn(redis_->io(), stations(), asio::detached);
    }
    return stations_;
}

asio::awaitable<std::vector<anxin::admin::v1::Station>> directory::list_stations() {
    std::vector<anxin::admin::v1::Station> out;
    auto ids = co_await redis_->exec(redis_cmd("SMEMBERS", "anx:stations"));
    if (!ids.ok()) co_return out;
    std::vector<std::vector<std::string>> cmds;
    for (const auto& id : ids.reply.elements) cmds.push_back({"HGETALL", "anx:station:" + id.str});
    auto replies = co_await redis_->exec_many(std::move(cmds));
    for (std::size_t i = 0; i < replies.size(); ++i) {
        if (!replies[i].ok()) continue;
        auto m = to_map(replies[i].reply);
        anxin::admin::v1::Station s;
        s.set_id(ids.reply.elements[i].str);
        s.set_name(m["name"]);
        s.set_area(m["area"]);
        s.set_address(m["address"]);
        s.set_phone(m["phone"]);
        s.set_lat(to_double(m["lat"]));
        s.set_lon(to_double(m["lon"]));
        out.push_back(std::move(s));
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.id() < b.id(); });
    co_return out;
}

namespace {

// Checks a whole request before anything is written. Returns an error message or empty; fills
// `unknown_stations` with operator stations that must already exist in Redis.
std::string validate(const anxin::admin::v1::ProvisionRequest& req,
                     std::vector<std::string>& unknown_stations) {
    std::unordered_set<std::string> new_stations;
    for (const auto& s : req.stations()) {
        if (!valid_id(s.id()))
            return "station id '" + s.id() + "' is invalid (1-64 of A-Za-z0-9_.-)";
        if (s.name().empty()) return "station " + s.id() + " has no name";
        if (!valid_point({s.lat(), s.lon()}) || (s.lat() == 0 && s.lon() == 0)) {
            return "station " + s.id() + " has no valid lat/lon";
        }
        new_stations.insert(s.id());
    }
    std::unordered_set<std::string> devices_seen;
    for (const auto& r : req.residents()) {
        if (!valid_id(r.id())) return "resident id '" + r.id() + "' is invalid";
        if (r.name().empty()) return "resident " + r.id() + " has no name";
        if (!valid_point({r.lat(), r.lon()}) || (r.lat() == 0 && r.lon() == 0)) {
            return "resident " + r.id() + " has no valid home lat/lon";
        }
        if (!r.date_of_birth().empty() && age_on(r.date_of_birth(), 4102444800000) == 0) {
            return "resident " + r.id() + ": date_of_birth must be YYYY-MM-DD";
        }
        for (const auto& d : r.devices()) {
            if (!valid_id(d.id())) return "device id '" + d.id() + "' is invalid";
            if (d.secret().size() < 16)
                return "device " + d.id() + ": secret must be at least 16 characters";
            if (!devices_seen.insert(d.id()).second) return "device " + d.id() + " appears twice";
            if (d.heartbeat_interval_s() != 0 &&
                (d.heartbeat_interval_s() < 5 || d.heartbeat_interval_s() > 3600)) {
                return "device " + d.id() +
                       ": heartbeat_interval_s must be 5..3600 (or 0 for the default)";
            }
        }
    }
    std::unordered_set<std::string> unknown;
    for (const auto& o : req.operators()) {
        if (!valid_id(o.id())) return "operator id '" + o.id() + "' is invalid";
        if (o.password().size() < 8)
            return "operator " + o.id() + ": password must be at least 8 characters";
        if (!o.role().empty() && o.role() != "operator" && o.role() != "supervisor") {
            return "operator " + o.id() + ": role must be operator or supervisor";
        }
        if (o.role() == "supervisor" && o.station_id().empty()) continue;  // command centre
        if (!new_stations.contains(o.station_id()) && unknown.insert(o.station_id()).second) {
            unknown_stations.push_back(o.station_id());
        }
    }
    return {};
}

// The writes of a validated request. Each entity is an upsert: provisioning twice is safe.
std::vector<std::vector<std::string>> provision_commands(
    const anxin::admin::v1::ProvisionRequest& req, const std::vector<std::string>& hashes,
    const secret_box& secrets) {
    std::vector<std::vector<std::string>> cmds;
    for (const auto& s : req.stations()) {
        cmds.push_back(redis_cmd("HSET", "anx:station:" + s.id(), "name", s.name(), "area",
                                 s.area(), "address", s.address(), "phone", s.phone(), "lat",
                                 num(s.lat()), "lon", num(s.lon())));
        cmds.push_back(redis_cmd("SADD", "anx:stations", s.id()));
    }
    for (const auto& r : req.residents()) {
        std::string holders;
        if (r.key_holders_size() > 0) {
            anxin::admin::v1::Resident only;
            *only.mutable_key_holders() = r.key_holders();
            google::protobuf::util::JsonPrintOptions po;
            po.preserve_proto_field_names = true;
            std::string json;
            (void)google::protobuf::util::MessageToJsonString(only, &json, po);
            // {"key_holders":[...]} -> [...]
            auto b = json.find('['), e = json.rfind(']');
            if (b != std::string::npos && e != std::string::npos)
                holders = json.substr(b, e - b + 1);
        }
        cmds.push_back(redis_cmd("HSET", "anx:resident:" + r.id(), "name", r.name(), "address",
                                 r.address(), "phone", r.phone(), "lat", num(r.lat()), "lon",
                                 num(r.lon()), "dob", r.date_of_birth(), "conditions",
                                 r.health_conditions(), "medication", r.medication(), "gp", r.gp(),
                                 "key_holders", holders));
        for (const auto& d : r.devices()) {
            cmds.push_back(redis_cmd("HSET", "anx:device:" + d.id(), "secret",
                                     secrets.seal(d.id(), d.secret()), "resident", r.id(), "model",
                                     d.model(), "heartbeat_interval_s",
                                     std::to_string(d.heartbeat_interval_s())));
            cmds.push_back(redis_cmd("SADD", "anx:resident:" + r.id() + ":devices", d.id()));
        }
    }
    for (int i = 0; i < req.operators_size(); ++i) {
        const auto& o = req.operators(i);
        cmds.push_back(redis_cmd("HSET", "anx:operator:" + o.id(), "name", o.name(), "station",
                                 o.station_id(), "pwhash", hashes[static_cast<std::size_t>(i)],
                                 "role", o.role().empty() ? "operator" : o.role()));
        if (!o.station_id().empty()) {
            cmds.push_back(
                redis_cmd("SADD", "anx:station:" + o.station_id() + ":operators", o.id()));
        }
    }
    cmds.push_back(redis_cmd("INCR", "anx:directory:version"));
    return cmds;
}

std::vector<std::string> operator_passwords(const anxin::admin::v1::ProvisionRequest& req) {
    std::vector<std::string> out;
    for (const auto& o : req.operators()) out.push_back(o.password());
    return out;
}

}  // namespace

asio::awaitable<std::string> directory::provision(const anxin::admin::v1::ProvisionRequest& req,
                                                  anxin::admin::v1::ProvisionResult& result) {
    std::vector<std::string> unknown_stations;
    std::string err = validate(req, unknown_stations);
    if (!err.empty()) co_return err;
    for (std::size_t i = 0; i < unknown_stations.size(); ++i) {
        auto r = co_await redis_->exec(redis_cmd("SISMEMBER", "anx:stations", unknown_stations[i]));
        if (!r.ok()) co_return "unavailable: " + r.error_text();
        if (r.reply.integer == 0)
            co_return "operator's station '" + unknown_stations[i] + "' does not exist";
    }
    // Hash operator passwords off the I/O thread: PBKDF2 is slow on purpose.
    const int iterations = pbkdf2_iterations_;
    // (A named job, not a temporary: g++ 12 destroys non-trivial temporaries of a co_await
    // expression twice.)
    // One job per password: console logins queued on the same (one-thread) pool get their turn
    // between them instead of waiting for the whole batch.
    std::vector<std::string> hashes;
    for (auto& password : operator_passwords(req)) {
        auto job = [password = std::move(password), iterations] {
            return hash_password(password, iterations);
        };
        auto hash = co_await offload<std::string>(pool_, std::move(job));
        hashes.push_back(std::move(hash));
    }
    auto cmds = provision_commands(req, hashes, *secrets_);
    for (const auto& c : cmds) {
        // seal() fails only if OpenSSL cannot allocate: never store an empty secret.
        if (c[0] == "HSET" && c.size() > 3 && c[2] == "secret" && c[3].empty())
            co_return "cannot encrypt device secrets (out of memory?)";
    }
    auto replies = co_await redis_->exec_many(std::move(cmds));
    for (const auto& r : replies) {
        if (!r.ok()) co_return "unavailable: " + r.error_text();
    }
    stations_checked_ = {};
    std::uint32_t devices = 0;
    for (const auto& r : req.residents()) devices += static_cast<std::uint32_t>(r.devices_size());
    result.set_stations(static_cast<std::uint32_t>(req.stations_size()));
    result.set_residents(static_cast<std::uint32_t>(req.residents_size()));
    result.set_devices(devices);
    result.set_operators(static_cast<std::uint32_t>(req.operators_size()));
    co_return std::string();
}

asio::awaitable<std::optional<std::vector<std::vector<std::string>>>> directory::station_operators(
    const std::vector<std::string>& station_ids) {
    std::vector<std::vector<std::string>> cmds;
    for (const auto& id : station_ids)
        cmds.push_back(redis_cmd("SMEMBERS", keys::station_operators(id)));
    auto members = co_await redis_->exec_many(std::move(cmds));
    std::vector<std::vector<std::string>> out(station_ids.size());
    for (std::size_t i = 0; i < members.size(); ++i) {
        if (!members[i].ok()) co_return std::nullopt;
        for (const auto& m : members[i].reply.elements) out[i].push_back(m.str);
    }
    co_return out;
}

asio::awaitable<std::vector<std::string>> directory::resident_names(
    const std::vector<std::string>& ids) {
    std::vector<std::vector<std::string>> cmds;
    for (const auto& r : ids) cmds.push_back(redis_cmd("HGET", keys::resident(r), "name"));
    auto names = co_await redis_->exec_many(std::move(cmds));
    std::vector<std::string> out(ids.size());
    for (std::size_t i = 0; i < ids.size(); ++i) {
        if (names[i].ok()) out[i] = names[i].reply.str;
    }
    co_return out;
}

}  // namespace anxin::dispatcher
