#include "anxin/dispatcher/login_limiter.hpp"

#include <boost/asio/ip/address.hpp>

#include <algorithm>
#include <cstdio>

namespace anxin::dispatcher {

std::int64_t locked_until_ms(const failure_count& c, int free, std::chrono::milliseconds first,
                             std::chrono::milliseconds max) {
    if (c.n < free) return 0;
    const std::int64_t doublings = std::min<std::int64_t>(c.n - free, 40);
    const std::int64_t lock = std::min<std::int64_t>(first.count() << doublings, max.count());
    return c.last_ms + lock;
}

login_verdict decide_login(const login_counts& c, const login_limits& l, std::int64_t now_ms) {
    login_verdict v;
    auto consider = [&](const failure_count& f, int free, std::chrono::milliseconds max,
                        const char* name) {
        const auto until = locked_until_ms(f, free, l.first_lock, max);
        if (until > now_ms && until - now_ms > v.retry_after_ms) {
            v.allowed = false;
            v.retry_after_ms = until - now_ms;
            v.limit = name;
        }
    };
    if (c.trusted) {
        consider(c.pair, l.pair_free, l.max_pair_lock, "pair");
    } else {
        consider(c.source, l.source_free, l.max_lock, "source");
        consider(c.account, l.account_free, l.max_lock, "account");
    }
    return v;
}

login_counts merge(const login_counts& a, const login_counts& b) {
    auto m = [](const failure_count& x, const failure_count& y) {
        return failure_count{std::max(x.n, y.n), std::max(x.last_ms, y.last_ms)};
    };
    return {m(a.source, b.source), m(a.account, b.account), m(a.pair, b.pair),
            a.trusted || b.trusted};
}

std::string source_key(const std::string& address) {
    boost::system::error_code ec;
    auto a = boost::asio::ip::make_address(address, ec);
    if (ec) return address;
    if (a.is_v4()) return a.to_string();
    auto v6 = a.to_v6();
    if (v6.is_v4_mapped())
        return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, v6).to_string();
    auto bytes = v6.to_bytes();
    std::fill(bytes.begin() + 8, bytes.end(), 0);
    return boost::asio::ip::address_v6(bytes).to_string() + "/64";
}

failure_count login_limiter::get(const std::string& key, std::int64_t now_ms) const {
    auto it = failures_.find(key);
    if (it == failures_.end() || now_ms - it->second.last_ms >= limits_.forget_after.count())
        return {};
    return it->second;
}

login_counts login_limiter::counts(const std::string& op, const std::string& source,
                                   std::int64_t now_ms) const {
    login_counts c;
    c.source = get("s|" + source, now_ms);
    c.account = get("a|" + op, now_ms);
    c.pair = get("p|" + op + "|" + source, now_ms);
    auto it = trusted_.find(op + "|" + source);
    c.trusted = it != trusted_.end() && it->second > now_ms;
    return c;
}

bool login_limiter::room(std::int64_t now_ms) {
    if (entries() < max_entries_) return true;
    std::erase_if(failures_, [&](const auto& kv) {
        return now_ms - kv.second.last_ms >= limits_.forget_after.count();
    });
    std::erase_if(trusted_, [&](const auto& kv) { return kv.second <= now_ms; });
    return entries() < max_entries_;
}

void login_limiter::bump(const std::string& key, std::int64_t now_ms) {
    auto it = failures_.find(key);
    if (it == failures_.end()) {
        if (!room(now_ms)) return;
        it = failures_.emplace(key, failure_count{}).first;
    }
    if (now_ms - it->second.last_ms >= limits_.forget_after.count()) it->second.n = 0;
    ++it->second.n;
    it->second.last_ms = now_ms;
}

void login_limiter::failed(const std::string& op, const std::string& source, bool trusted,
                           std::int64_t now_ms) {
    bump("s|" + source, now_ms);
    if (trusted)
        bump("p|" + op + "|" + source, now_ms);
    else
        bump("a|" + op, now_ms);
}

void login_limiter::succeeded(const std::string& op, const std::string& source,
                              std::int64_t now_ms) {
    auto key = op + "|" + source;
    if (!trusted_.count(key) && !room(now_ms)) return;
    trusted_[key] = now_ms + limits_.trusted_for.count();
}

}  // namespace anxin::dispatcher
