#include "anxin/dispatcher/redis_connection.hpp"

#include "hiredis_convert.hpp"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <spdlog/spdlog.h>

#include <boost/asio/async_result.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cassert>
#include <charconv>

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace anxin::dispatcher {

std::int64_t redis_reply::as_int() const {
    if (type == kind::integer) return integer;
    std::int64_t v = 0;
    std::from_chars(str.data(), str.data() + str.size(), v);
    return v;
}

namespace {

// "host[:port]" with a default port; false for an empty host or a bad port.
bool parse_host_port(std::string_view s, int default_port, std::string& host, int& port) {
    auto colon = s.rfind(':');
    if (colon == std::string_view::npos) {
        host = std::string(s);
        port = default_port;
        return !host.empty();
    }
    host = std::string(s.substr(0, colon));
    auto tail = s.substr(colon + 1);
    int p = 0;
    auto [end, ec] = std::from_chars(tail.data(), tail.data() + tail.size(), p);
    if (ec != std::errc{} || end != tail.data() + tail.size() || p <= 0 || p > 65535) return false;
    port = p;
    return !host.empty();
}

bool parse_sentinel_uri(std::string_view rest, redis_endpoint& out) {
    auto slash = rest.find('/');
    if (slash == std::string_view::npos) return false;
    auto name = rest.substr(slash + 1);
    if (name.empty() || name.find_first_of("/ ,") != std::string_view::npos) return false;
    std::vector<redis_address> sentinels;
    auto hosts = rest.substr(0, slash);
    std::size_t start = 0;
    for (;;) {
        auto comma = hosts.find(',', start);
        auto item = hosts.substr(
            start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
        redis_address a;
        if (!parse_host_port(item, 26379, a.host, a.port)) return false;
        sentinels.push_back(std::move(a));
        if (comma == std::string_view::npos) break;
        start = comma + 1;
    }
    out.unix_path.clear();
    out.sentinels = std::move(sentinels);
    out.master_name = std::string(name);
    return true;
}

}  // namespace

bool redis_endpoint::parse(const std::string& uri, redis_endpoint& out) {
    std::string rest = uri;
    out.sentinels.clear();
    out.master_name.clear();
    if (rest.rfind("sentinel://", 0) == 0) return parse_sentinel_uri(rest.substr(11), out);
    if (rest.rfind("unix://", 0) == 0) {
        out.unix_path = rest.substr(7);
        return !out.unix_path.empty();
    }
    if (!rest.empty() && rest[0] == '/') {
        out.unix_path = rest;
        return true;
    }
    if (rest.rfind("redis://", 0) == 0) rest = rest.substr(8);
    if (auto slash = rest.find('/'); slash != std::string::npos) rest = rest.substr(0, slash);
    // [user]:password@ (RFC 3986 userinfo, as redis-cli -u takes it); the last '@' ends it, so a
    // password may hold one.
    if (auto at = rest.rfind('@'); at != std::string::npos) {
        auto userinfo = rest.substr(0, at);
        rest = rest.substr(at + 1);
        auto colon = userinfo.find(':');
        if (colon == std::string::npos) {
            out.auth.user.clear();
            out.auth.password = userinfo;  // redis://password@host, as some clients take it
        } else {
            out.auth.user = userinfo.substr(0, colon);
            out.auth.password = userinfo.substr(colon + 1);
        }
        if (out.auth.password.empty()) return false;
    }
    auto colon = rest.rfind(':');
    out.unix_path.clear();
    if (colon == std::string::npos) {
        out.host = rest;
        out.port = 6379;
    } else {
        out.host = rest.substr(0, colon);
        int port = 0;
        auto tail = rest.substr(colon + 1);
        auto [p, ec] = std::from_chars(tail.data(), tail.data() + tail.size(), port);
        if (ec != std::errc{} || p != tail.data() + tail.size() || port <= 0 || port > 65535) {
            return false;
        }
        out.port = port;
    }
    return !out.host.empty();
}

std::string redis_endpoint::describe() const {
    if (via_sentinel()) {
        std::string out = "sentinel://";
        for (std::size_t i = 0; i < sentinels.size(); ++i)
            out += (i ? "," : "") + sentinels[i].describe();
        return out + "/" + master_name;
    }
    if (!unix_path.empty()) return "unix:" + unix_path;
    return host + ":" + std::to_string(port);
}

namespace {

using detail::convert;

// Error replies meaning "this instance is no longer the primary": a write refused by a replica,
// or a blocking read (XREADGROUP BLOCK) ended because the instance was demoted.
bool demoted_error(const redisReply* r) {
    if (r->type != REDIS_REPLY_ERROR || !r->str) return false;
    std::string_view text(r->str, r->len);
    return text.rfind("READONLY", 0) == 0 || text.rfind("UNBLOCKED", 0) == 0 ||
           text.find("READONLY You can't write") != std::string_view::npos;
}

}  // namespace

// One command waiting for its reply. Owned by hiredis (as privdata) until the callback runs.
struct redis_connection::pending {
    std::weak_ptr<redis_connection> owner;
    std::chrono::steady_clock::time_point sent;
    std::function<void(redis_result)> done;
};

// Glue between hiredis's event hooks and an Asio descriptor. Shared by the handlers in flight so
// that it outlives the hiredis context that points at it.
struct redis_connection::ev_state : std::enable_shared_from_this<ev_state> {
    explicit ev_state(asio::io_context& io) : sd(io) {}
    asio::posix::stream_descriptor sd;
    redisAsyncContext* ac = nullptr;
    std::weak_ptr<redis_connection> owner;
    bool want_read = false, want_write = false, read_armed = false, write_armed = false;

    void arm_read() {
        if (!ac || !want_read || read_armed) return;
        read_armed = true;
        sd.async_wait(asio::posix::descriptor_base::wait_read,
                      [self = shared_from_this()](boost::system::error_code ec) {
                          self->read_armed = false;
                          if (ec || !self->ac || !self->want_read) return;
                          redisAsyncHandleRead(self->ac);  // may free ac (cleanup hook runs)
                          self->arm_read();
                      });
    }
    void arm_write() {
        if (!ac || !want_write || write_armed) return;
        write_armed = true;
        sd.async_wait(asio::posix::descriptor_base::wait_write,
                      [self = shared_from_this()](boost::system::error_code ec) {
                          self->write_armed = false;
                          if (ec || !self->ac || !self->want_write) return;
                          redisAsyncHandleWrite(self->ac);
                          self->arm_write();
                      });
    }

    static void add_read(void* p) {
        auto* s = static_cast<ev_state*>(p);
        s->want_read = true;
        s->arm_read();
    }
    static void del_read(void* p) { static_cast<ev_state*>(p)->want_read = false; }
    static void add_write(void* p) {
        auto* s = static_cast<ev_state*>(p);
        s->want_write = true;
        s->arm_write();
    }
    static void del_write(void* p) { static_cast<ev_state*>(p)->want_write = false; }
    static void cleanup(void* p) {
        auto* s = static_cast<ev_state*>(p);
        s->ac = nullptr;
        s->want_read = s->want_write = false;
        // hiredis closes the fd itself; give it back without closing (cancels our waits).
        (void)s->sd.release();
        if (auto owner = s->owner.lock()) owner->on_context_gone();
    }
};

struct redis_connection_access {
    static void on_connect(const redisAsyncContext* ac, int status) {
        auto* s = static_cast<redis_connection::ev_state*>(ac->ev.data);
        if (auto owner = s->owner.lock()) owner->on_connected(status);
    }
    static void on_disconnect(const redisAsyncContext* ac, int status) {
        auto* s = static_cast<redis_connection::ev_state*>(ac->ev.data);
        if (auto owner = s->owner.lock()) {
            if (status != REDIS_OK) {
                spdlog::warn("redis[{}]: connection lost: {}", owner->name_,
                             ac->errstr ? ac->errstr : "?");
            }
        }
    }
    static void on_reply(redisAsyncContext* ac, void* r, void* privdata) {
        std::unique_ptr<redis_connection::pending> p(
            static_cast<redis_connection::pending*>(privdata));
        redis_result res;
        auto owner = p->owner.lock();
        if (owner && !owner->inflight_.empty()) owner->inflight_.pop_front();
        if (r && owner && owner->ep_.via_sentinel() && demoted_error(static_cast<redisReply*>(r))) {
            // The primary we follow was demoted under us: ask the sentinels again. Safe inside a
            // reply callback: hiredis disconnects once the callback returns.
            auto* reply = static_cast<redisReply*>(r);
            spdlog::warn("redis[{}]: {} is no longer the primary ({}); asking the sentinels again",
                         owner->name_, owner->target_.describe(),
                         std::string_view(reply->str, reply->len).substr(0, 40));
            res.st = redis_result::status::unavailable;
            res.detail = "redis primary was demoted (failover)";
            redisAsyncDisconnect(ac);
        } else if (r) {
            res.st = redis_result::status::ok;
            res.reply = convert(static_cast<redisReply*>(r));
            if (owner) {
                owner->last_rtt_s_ =
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - p->sent)
                        .count();
            }
        } else if (owner && owner->timed_out_) {
            res.st = redis_result::status::timeout;
            res.detail = "redis did not answer in time";
        } else {
            res.st = redis_result::status::unavailable;
            res.detail = "redis connection lost";
        }
        p->done(std::move(res));
    }
    static void on_auth(redisAsyncContext*, void* r, void* privdata) {
        std::unique_ptr<std::weak_ptr<redis_connection>> weak(
            static_cast<std::weak_ptr<redis_connection>*>(privdata));
        if (!r) return;  // context going away; its cleanup schedules the retry
        if (auto owner = weak->lock()) owner->on_auth(convert(static_cast<redisReply*>(r)));
    }
    static void on_role(redisAsyncContext*, void* r, void* privdata) {
        std::unique_ptr<std::weak_ptr<redis_connection>> weak(
            static_cast<std::weak_ptr<redis_connection>*>(privdata));
        if (!r) return;  // context going away; its cleanup schedules the retry
        auto owner = weak->lock();
        if (owner) owner->on_role(convert(static_cast<redisReply*>(r)));
    }
    struct sub_ctx {
        std::weak_ptr<redis_connection> owner;
    };
    static void on_message(redisAsyncContext*, void* r, void* privdata) {
        auto* ctx = static_cast<sub_ctx*>(privdata);
        if (!r) {  // context going away: this privdata is never used again
            delete ctx;
            return;
        }
        auto* reply = static_cast<redisReply*>(r);
        if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 3) return;
        std::string kind(reply->element[0]->str ? reply->element[0]->str : "");
        if (kind != "message") return;
        auto owner = ctx->owner.lock();
        if (!owner) return;
        std::string channel(reply->element[1]->str, reply->element[1]->len);
        std::string payload(reply->element[2]->str, reply->element[2]->len);
        auto it = owner->subscriptions_.find(channel);
        if (it == owner->subscriptions_.end()) return;
        // Never run user code inside hiredis's callback.
        asio::post(owner->io_, [h = it->second, channel = std::move(channel),
                                payload = std::move(payload)] { h(channel, payload); });
    }
};

std::shared_ptr<redis_connection> redis_connection::create(asio::io_context& io, redis_endpoint ep,
                                                           options opts, std::string name) {
    return std::shared_ptr<redis_connection>(
        new redis_connection(io, std::move(ep), opts, std::move(name)));
}

redis_connection::redis_connection(asio::io_context& io, redis_endpoint ep, options opts,
                                   std::string name)
    : io_(io),
      ep_(std::move(ep)),
      target_(ep_),
      opts_(opts),
      name_(std::move(name)),
      backoff_(opts.min_backoff),
      reconnect_timer_(io),
      watchdog_(io) {}

redis_connection::~redis_connection() {
    if (ac_) {
        auto* ac = ac_;
        ac_ = nullptr;
        redisAsyncFree(ac);
    }
}

void redis_connection::start() {
    if (!stopped_) return;
    stopped_ = false;
    if (ep_.via_sentinel()) {
        sentinel_ = sentinel_client::create(io_, ep_.sentinels, ep_.master_name,
                                            opts_.sentinel_timeout, name_, ep_.sentinel_auth);
        sentinel_->watch([weak = weak_from_this()](const redis_address& primary) {
            if (auto self = weak.lock()) self->on_switch_master(primary);
        });
    }
    connect();
    arm_watchdog();
}

void redis_connection::stop() {
    stopped_ = true;
    reconnect_timer_.cancel();
    watchdog_.cancel();
    if (sentinel_) sentinel_->stop();
    if (ac_) {
        auto* ac = ac_;
        redisAsyncFree(ac);  // pending commands complete with "unavailable"
    }
}

void redis_connection::connect() {
    if (stopped_ || ac_ || resolving_) return;
    if (!ep_.via_sentinel()) {
        connect_to(ep_);
        return;
    }
    resolving_ = true;
    asio::co_spawn(io_, resolve_and_connect(), asio::detached);
}

asio::awaitable<void> redis_connection::resolve_and_connect() {
    auto self = shared_from_this();
    auto primary = co_await sentinel_->resolve();
    resolving_ = false;
    if (stopped_ || ac_) co_return;
    if (!primary) {
        spdlog::warn("redis[{}]: no sentinel of {} named a primary; retrying", name_,
                     ep_.describe());
        schedule_reconnect();
        co_return;
    }
    redis_endpoint target;
    target.host = primary->host;
    target.port = primary->port;
    connect_to(target);
}

void redis_connection::connect_to(const redis_endpoint& target) {
    target_ = target;
    redisAsyncContext* ac = target_.unix_path.empty()
                                ? redisAsyncConnect(target_.host.c_str(), target_.port)
                                : redisAsyncConnectUnix(target_.unix_path.c_str());
    if (!ac || ac->err) {
        spdlog::warn("redis[{}]: cannot connect to {}: {}", name_, target_.describe(),
                     ac ? ac->errstr : "out of memory");
        if (ac) redisAsyncFree(ac);
        schedule_reconnect();
        return;
    }
    auto ev = std::make_shared<ev_state>(io_);
    boost::system::error_code ec;
    ev->sd.assign(ac->c.fd, ec);
    if (ec) {
        redisAsyncFree(ac);
        schedule_reconnect();
        return;
    }
    ev->ac = ac;
    ev->owner = weak_from_this();
    ac->ev.data = ev.get();
    ac->ev.addRead = &ev_state::add_read;
    ac->ev.delRead = &ev_state::del_read;
    ac->ev.addWrite = &ev_state::add_write;
    ac->ev.delWrite = &ev_state::del_write;
    ac->ev.cleanup = &ev_state::cleanup;
    ev_ = ev;
    ac_ = ac;
    timed_out_ = false;
    auth_refused_ = false;
    connect_started_ = std::chrono::steady_clock::now();
    redisAsyncSetConnectCallback(ac, &redis_connection_access::on_connect);
    redisAsyncSetDisconnectCallback(ac, &redis_connection_access::on_disconnect);
}

void redis_connection::on_connected(int status) {
    if (status != REDIS_OK) {
        // hiredis frees the context right after this; cleanup schedules the retry.
        spdlog::warn("redis[{}]: connect to {} failed", name_, target_.describe());
        return;
    }
    // The connection is up only once Redis answers: the kernel accepts connections for a Redis
    // that hangs (or is still loading its AOF), and calling that "connected" would hide the outage.
    // A sentinel's view may be stale, and a demoted primary still accepts connections: there only
    // a ROLE of "master" makes it ours. The connect timeout (watchdog) bounds the answer.
    // AUTH goes first, pipelined with the PING/ROLE below: Redis answers in order, and on_auth
    // sees a refusal before on_role sees the NOAUTH that follows it.
    if (!ep_.auth.empty()) {
        auto cmd = ep_.auth.auth_command();
        std::vector<const char*> av;
        std::vector<std::size_t> al;
        for (const auto& a : cmd) {
            av.push_back(a.data());
            al.push_back(a.size());
        }
        auto* w = new std::weak_ptr<redis_connection>(weak_from_this());
        if (redisAsyncCommandArgv(ac_, &redis_connection_access::on_auth, w,
                                  static_cast<int>(av.size()), av.data(), al.data()) != REDIS_OK) {
            delete w;
            return;  // the context is closing; its cleanup schedules the retry
        }
    }
    auto* weak = new std::weak_ptr<redis_connection>(weak_from_this());
    const bool sentinel = ep_.via_sentinel();
    const char* argv[] = {sentinel ? "ROLE" : "PING"};
    std::size_t lens[] = {4};
    if (redisAsyncCommandArgv(ac_, &redis_connection_access::on_role, weak, 1, argv, lens) !=
        REDIS_OK) {
        delete weak;
    }
}

namespace {
// A wrong password is one fault however many connections meet it: one line per 30 s for the
// process (io thread only), with the count of refusals in between.
std::chrono::steady_clock::time_point auth_error_logged{};
std::uint64_t auth_refusals_unlogged = 0;
}  // namespace

void redis_connection::on_auth(const redis_reply& reply) {
    if (!ac_ || connected_) return;
    if (!reply.is_error()) {
        auth_refused_ = false;
        return;
    }
    auth_refused_ = true;
    ++auth_refusals_unlogged;
    const auto now = std::chrono::steady_clock::now();
    if (auth_error_logged == std::chrono::steady_clock::time_point{} ||
        now - auth_error_logged >= 30s) {
        // Redis's text (WRONGPASS invalid username-password pair..., or "AUTH <password> called
        // without any password configured") never echoes the password.
        spdlog::error(
            "redis[{}]: {} refused AUTH as {}: {} ({} refusals in the last 30 s on all "
            "connections); check --redis-user and --redis-password-file / $ANXIN_REDIS_PASSWORD; "
            "retrying",
            name_, target_.describe(), ep_.auth.describe(), reply.str, auth_refusals_unlogged);
        auth_error_logged = now;
        auth_refusals_unlogged = 0;
    }
    redisAsyncDisconnect(ac_);  // inside a reply callback: hiredis closes after it returns
}

void redis_connection::on_role(const redis_reply& role) {
    if (!ac_ || connected_ || auth_refused_) return;
    if (!ep_.via_sentinel()) {  // the answer to PING
        if (role.is_error()) {
            spdlog::warn("redis[{}]: {} answers but cannot serve yet ({}); retrying", name_,
                         target_.describe(), role.str);
            redisAsyncDisconnect(ac_);  // inside a reply callback: hiredis closes after it
            return;
        }
        mark_up();
        return;
    }
    if (!is_master_role(role)) {
        spdlog::warn("redis[{}]: {} named by sentinel {} is not a primary (ROLE: {}); retrying",
                     name_, target_.describe(), sentinel_->last_answered().describe(),
                     role.is_array() && !role.elements.empty() ? role.elements[0].str : role.str);
        redisAsyncDisconnect(ac_);  // inside a reply callback: hiredis closes after it returns
        return;
    }
    auto now = target_.describe();
    if (following_.empty())
        spdlog::info("redis[{}]: following primary {} of '{}' (named by sentinel {})", name_, now,
                     ep_.master_name, sentinel_->last_answered().describe());
    else if (following_ != now)
        spdlog::warn("redis[{}]: primary of '{}' switched from {} to {}", name_, ep_.master_name,
                     following_, now);
    following_ = now;
    mark_up();
}

void redis_connection::on_switch_master(const redis_address& primary) {
    if (stopped_) return;
    redis_endpoint next;
    next.host = primary.host;
    next.port = primary.port;
    if (ac_ && target_.describe() == next.describe()) return;  // already there
    if (ac_) {
        spdlog::warn("redis[{}]: leaving {}: sentinels promoted {}", name_, target_.describe(),
                     primary.describe());
        redisAsyncFree(ac_);  // in-flight commands complete with "unavailable"
    }
    // Go straight to the promoted node (ROLE still checks it) rather than asking the sentinels
    // again: one that has not heard of the switch yet would name the old primary, which stays a
    // writable primary until Sentinel reconfigures it. A resolve still under way finds ac_ set and
    // drops its answer.
    reconnect_timer_.cancel();
    backoff_ = opts_.min_backoff;
    if (!ac_) connect_to(next);
}

void redis_connection::mark_up() {
    connected_ = true;
    ++generation_;
    backoff_ = opts_.min_backoff;
    spdlog::info("redis[{}]: connected to {}", name_, target_.describe());
    for (auto& [channel, h] : subscriptions_) send_subscribe(channel);
    if (state_handler_)
        asio::post(io_, [self = shared_from_this()] {
            if (self->state_handler_) self->state_handler_(self->connected_);
        });
}

void redis_connection::on_context_gone() {
    bool was_connected = connected_;
    ac_ = nullptr;
    ev_.reset();
    connected_ = false;
    inflight_.clear();
    if (was_connected && state_handler_) {
        asio::post(io_, [self = shared_from_this()] {
            if (self->state_handler_) self->state_handler_(self->connected_);
        });
    }
    schedule_reconnect();
}

void redis_connection::schedule_reconnect() {
    if (stopped_) return;
    reconnect_timer_.expires_after(backoff_);
    backoff_ = std::min(backoff_ * 2, opts_.max_backoff);
    reconnect_timer_.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
        if (ec) return;
        if (auto self = weak.lock()) self->connect();
    });
}

void redis_connection::arm_watchdog() {
    watchdog_.expires_after(100ms);
    watchdog_.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
        if (ec) return;
        auto self = weak.lock();
        if (!self || self->stopped_) return;
        auto now = std::chrono::steady_clock::now();
        if (self->ac_ && !self->connected_ &&
            now - self->connect_started_ > self->opts_.connect_timeout) {
            spdlog::warn("redis[{}]: connect to {} timed out", self->name_,
                         self->target_.describe());
            redisAsyncFree(self->ac_);
        } else if (self->ac_ && self->connected_ && !self->inflight_.empty() &&
                   now - self->inflight_.front() > self->opts_.command_timeout) {
            spdlog::warn("redis[{}]: no reply within {} ms; reconnecting", self->name_,
                         self->opts_.command_timeout.count());
            self->timed_out_ = true;
            redisAsyncFree(self->ac_);
        }
        self->arm_watchdog();
    });
}

void redis_connection::submit(std::vector<std::string> args, std::unique_ptr<pending> p) {
    if (!connected_ || !ac_) {
        redis_result res;
        res.detail = "redis unavailable";
        p->done(std::move(res));
        return;
    }
    std::vector<const char*> argv;
    std::vector<std::size_t> argvlen;
    argv.reserve(args.size());
    argvlen.reserve(args.size());
    for (auto& a : args) {
        argv.push_back(a.data());
        argvlen.push_back(a.size());
    }
    p->owner = weak_from_this();
    p->sent = std::chrono::steady_clock::now();
    pending* raw = p.release();
    if (redisAsyncCommandArgv(ac_, &redis_connection_access::on_reply, raw,
                              static_cast<int>(argv.size()), argv.data(),
                              argvlen.data()) != REDIS_OK) {
        std::unique_ptr<pending> back(raw);
        redis_result res;
        res.detail = "redis connection closing";
        back->done(std::move(res));
        return;
    }
    inflight_.push_back(raw->sent);
}

void redis_connection::send(std::vector<std::string> args, std::function<void(redis_result)> done) {
    auto p = std::make_unique<pending>();
    p->done = done ? std::move(done) : [](redis_result) {};
    submit(std::move(args), std::move(p));
}

asio::awaitable<redis_result> redis_connection::exec(std::vector<std::string> args) {
    auto self = shared_from_this();
    co_return co_await asio::async_initiate<const asio::use_awaitable_t<>&, void(redis_result)>(
        [this, &args](auto handler) {
            auto shared = std::make_shared<decltype(handler)>(std::move(handler));
            auto p = std::make_unique<pending>();
            p->done = [shared, this](redis_result r) {
                // Resume the coroutine from the event loop, never inside hiredis.
                asio::post(io_, [shared, r = std::move(r)]() mutable { (*shared)(std::move(r)); });
            };
            submit(std::move(args), std::move(p));
        },
        asio::use_awaitable);
}

asio::awaitable<std::vector<redis_result>> redis_connection::exec_many(
    std::vector<std::vector<std::string>> commands) {
    auto self = shared_from_this();
    co_return co_await asio::async_initiate<const asio::use_awaitable_t<>&,
                                            void(std::vector<redis_result>)>(
        [this, &commands](auto handler) {
            struct batch {
                std::vector<redis_result> results;
                std::size_t remaining = 0;
                decltype(handler) h;
            };
            auto b = std::make_shared<batch>(batch{{}, commands.size(), std::move(handler)});
            b->results.resize(commands.size());
            if (commands.empty()) {
                asio::post(io_, [b]() mutable { b->h(std::move(b->results)); });
                return;
            }
            for (std::size_t i = 0; i < commands.size(); ++i) {
                auto p = std::make_unique<pending>();
                p->done = [b, i, this](redis_result r) {
                    b->results[i] = std::move(r);
                    if (--b->remaining == 0) {
                        asio::post(io_, [b]() mutable { b->h(std::move(b->results)); });
                    }
                };
                submit(std::move(commands[i]), std::move(p));
            }
        },
        asio::use_awaitable);
}

void redis_connection::subscribe(const std::string& channel, message_handler h) {
    subscriptions_[channel] = std::move(h);
    if (connected_) send_subscribe(channel);
}

void redis_connection::send_subscribe(const std::string& channel) {
    auto* ctx = new redis_connection_access::sub_ctx{weak_from_this()};
    const char* argv[] = {"SUBSCRIBE", channel.c_str()};
    std::size_t lens[] = {9, channel.size()};
    if (redisAsyncCommandArgv(ac_, &redis_connection_access::on_message, ctx, 2, argv, lens) !=
        REDIS_OK) {
        delete ctx;
    }
}

}  // namespace anxin::dispatcher
