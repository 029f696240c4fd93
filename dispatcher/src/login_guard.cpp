#include "anxin/dispatcher/login_guard.hpp"
#include "anxin/dispatcher/redis_keys.hpp"

#include "anxin/dispatcher/offload.hpp"
#include "anxin/dispatcher/password.hpp"
#include "anxin/dispatcher/redis_reply.hpp"
#include "anxin/dispatcher/wall_clock.hpp"
#include "anxin/protocol/device_auth.hpp"

#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <charconv>

namespace asio = boost::asio;

namespace anxin::dispatcher {

namespace {

// Keys: anx:login:src:<source>, anx:login:acct:<op>, anx:login:pair:<op>:<source> are hashes
// {n, last} that expire forget_after after their latest failure; anx:login:trusted:<op>:<source>
// exists while op's consoles at source are trusted. op is a valid_id (no ':'), so the pair keys
// are unambiguous even for IPv6 sources.
std::vector<std::string> counts_cmd(const std::string& op, const std::string& source) {
    return {"EVAL",
            "local function get(k) local f = redis.call('HMGET', k, 'n', 'last') "
            "return {f[1] or '0', f[2] or '0'} end "
            "local s, a, p = get(KEYS[1]), get(KEYS[2]), get(KEYS[3]) "
            "return {s[1], s[2], a[1], a[2], p[1], p[2], tostring(redis.call('EXISTS', KEYS[4]))}",
            "4",
            keys::login_source(source),
            keys::login_account(op),
            keys::login_pair(op, source),
            keys::login_trusted(op, source)};
}

std::int64_t to_i64(const std::string& s) {
    std::int64_t v = 0;
    std::from_chars(s.data(), s.data() + s.size(), v);
    return v;
}

}  // namespace

login_guard::login_guard(std::shared_ptr<redis_connection> redis, asio::thread_pool& pool,
                         int pbkdf2_iterations, login_limits limits, login_hash_limits hashing)
    : redis_(std::move(redis)),
      pool_(pool),
      local_(limits),
      hashing_(hashing),
      dummy_hash_(hash_password(protocol::to_hex(protocol::random_bytes(16)), pbkdf2_iterations)) {}

asio::awaitable<login_guard::gate> login_guard::check(const std::string& op,
                                                      const std::string& source) {
    const auto now = wall_ms();
    gate g;
    auto counts = local_.counts(op, source, now);
    g.trusted = counts.trusted;
    g.verdict = decide_login(counts, local_.limits(), now);
    // Refused here already: not worth a round trip (a guesser hammering a lock costs no Redis).
    if (!g.verdict.allowed) co_return g;
    auto cmd = counts_cmd(op, source);
    auto r = co_await redis_->exec(std::move(cmd));
    if (r.ok() && r.reply.is_array() && r.reply.elements.size() == 7) {
        const auto& e = r.reply.elements;
        login_counts shared;
        shared.source = {to_i64(e[0].as_string()), to_i64(e[1].as_string())};
        shared.account = {to_i64(e[2].as_string()), to_i64(e[3].as_string())};
        shared.pair = {to_i64(e[4].as_string()), to_i64(e[5].as_string())};
        shared.trusted = e[6].as_string() == "1";
        // Looked up again: other logins ran while Redis answered.
        const auto after = wall_ms();
        counts = merge(local_.counts(op, source, after), shared);
        g.trusted = counts.trusted;
        g.verdict = decide_login(counts, local_.limits(), after);
    }
    co_return g;
}

asio::awaitable<void> login_guard::record(const std::string& op, const std::string& source,
                                          bool trusted, bool ok) {
    const auto now = wall_ms();
    const auto& l = local_.limits();
    if (ok) {
        local_.succeeded(op, source, now);
        auto cmd = redis_cmd("SET", keys::login_trusted(op, source), "1", "PX",
                             std::to_string(l.trusted_for.count()));
        co_await redis_->exec(std::move(cmd));
        co_return;
    }
    local_.failed(op, source, trusted, now);
    const std::string second = trusted ? keys::login_pair(op, source) : keys::login_account(op);
    auto cmd = redis_cmd("EVAL",
                         "for _, k in ipairs(KEYS) do redis.call('HINCRBY', k, 'n', 1) "
                         "redis.call('HSET', k, 'last', ARGV[1]) "
                         "redis.call('PEXPIRE', k, ARGV[2]) end return 1",
                         "2", keys::login_source(source), second, std::to_string(now),
                         std::to_string(l.forget_after.count()));
    co_await redis_->exec(std::move(cmd));
}

asio::awaitable<login_guard::password_check> login_guard::verify(const std::string& source,
                                                                 std::string password,
                                                                 std::string stored_hash) {
    if (jobs_ >= hashing_.max_hash_jobs ||
        jobs_by_source_[source] >= hashing_.max_hash_jobs_per_source) {
        if (jobs_by_source_[source] == 0) jobs_by_source_.erase(source);
        co_return password_check::busy;
    }
    ++jobs_;
    ++jobs_by_source_[source];
    if (gauge_) *gauge_ = static_cast<std::int64_t>(jobs_);
    const bool known = !stored_hash.empty();
    // (A named job, not a temporary: g++ 12 destroys non-trivial temporaries of a co_await
    // expression twice.)
    auto job = [password = std::move(password),
                stored =
                    known ? std::move(stored_hash) : dummy_hash_]() -> std::pair<bool, double> {
        const auto t0 = std::chrono::steady_clock::now();
        bool ok = anxin::dispatcher::verify_password(password, stored);
        return {ok, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
                        .count()};
    };
    auto [match, took_ms] = co_await offload<std::pair<bool, double>>(pool_, std::move(job));
    hash_ms_ = 0.8 * hash_ms_ + 0.2 * took_ms;
    if (hashed_) ++*hashed_;
    --jobs_;
    if (gauge_) *gauge_ = static_cast<std::int64_t>(jobs_);
    // Looked up again: the map may have rehashed while the job ran.
    if (auto it = jobs_by_source_.find(source); it != jobs_by_source_.end() && --it->second == 0)
        jobs_by_source_.erase(it);
    co_return (match && known) ? password_check::match : password_check::mismatch;
}

std::int64_t login_guard::busy_retry_after_ms() const {
    const double drain = hash_ms_ * static_cast<double>(std::max<std::size_t>(jobs_, 1));
    return std::clamp<std::int64_t>(static_cast<std::int64_t>(drain), 250, 5000);
}

}  // namespace anxin::dispatcher
