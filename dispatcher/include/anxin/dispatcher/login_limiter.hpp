#pragma once
// How many password guesses a console login may make: the policy (decide_login, pure) and each
// instance's own memory of failures (login_limiter). login_guard adds the same counters in Redis,
// so that the limits hold across instances, and uses the larger of the two views.
//
// Failures are counted three ways, each forgotten `forget_after` after its latest failure:
//  - per source address (all accounts): a scanner trying many operator ids;
//  - per account, from sources that account has never logged in from successfully: guesses at
//    one operator's password from elsewhere;
//  - per (account, source), for a source that account HAS logged in from within `trusted_for`:
//    the operator's own typing at their station.
// A trusted source is judged by its pair counter alone, so a guesser elsewhere — however many
// addresses it has — cannot lock an operator out of the console they work at. Past its free
// failures a counter locks for first_lock, doubling with each further failure, up to max_lock
// (max_pair_lock for the pair counter: an operator who mistyped is back within a minute).
// Attempts refused by a lock are not counted (they cost nothing), so a lock ends on time.
//
// Threading: not thread-safe; login_guard calls it on the io thread.

#include <chrono>
#include <cstdint>
#include <string>
#include <unordered_map>

namespace anxin::dispatcher {

struct login_limits {
    int source_free = 20;
    int account_free = 5;
    int pair_free = 5;
    std::chrono::milliseconds first_lock{1000};
    std::chrono::milliseconds max_lock{std::chrono::minutes(15)};
    std::chrono::milliseconds max_pair_lock{std::chrono::seconds(60)};
    std::chrono::milliseconds forget_after{std::chrono::hours(1)};
    std::chrono::milliseconds trusted_for{std::chrono::hours(24 * 30)};
};

struct failure_count {
    std::int64_t n = 0;        // failures since the counter was last forgotten
    std::int64_t last_ms = 0;  // wall clock of the latest
};

struct login_counts {
    failure_count source, account, pair;
    bool trusted = false;  // the account logged in from this source within trusted_for
};

struct login_verdict {
    bool allowed = true;
    std::int64_t retry_after_ms = 0;  // when refused: from now until the lock ends
    std::string limit;                // when refused: "source", "account" or "pair"
};

// Until when a counter with `free` free failures locks; 0 if it does not.
std::int64_t locked_until_ms(const failure_count& c, int free, std::chrono::milliseconds first,
                             std::chrono::milliseconds max);

login_verdict decide_login(const login_counts& c, const login_limits& l, std::int64_t now_ms);

// Per field, the larger count and the later time (this instance's memory and Redis's).
login_counts merge(const login_counts& a, const login_counts& b);

// The key a source address is counted under: an IPv4 address as it is, an IPv6 one by its /64
// (one subscriber's allocation: an attacker has billions of addresses within it), an
// IPv4-mapped IPv6 address as the IPv4 address.
std::string source_key(const std::string& address);

class login_limiter {
  public:
    explicit login_limiter(login_limits l = {}, std::size_t max_entries = 100000)
        : limits_(l), max_entries_(max_entries) {}

    login_counts counts(const std::string& op, const std::string& source,
                        std::int64_t now_ms) const;
    login_verdict check(const std::string& op, const std::string& source,
                        std::int64_t now_ms) const {
        return decide_login(counts(op, source, now_ms), limits_, now_ms);
    }
    // A wrong password (or an unknown operator) for op from source.
    void failed(const std::string& op, const std::string& source, bool trusted,
                std::int64_t now_ms);
    // The password was right: op's consoles at source are trusted from now on.
    void succeeded(const std::string& op, const std::string& source, std::int64_t now_ms);

    const login_limits& limits() const { return limits_; }
    std::size_t entries() const { return failures_.size() + trusted_.size(); }

  private:
    void bump(const std::string& key, std::int64_t now_ms);
    failure_count get(const std::string& key, std::int64_t now_ms) const;
    // Drops forgotten entries when the maps are full; a flood of distinct keys beyond that is
    // counted in Redis only.
    bool room(std::int64_t now_ms);

    login_limits limits_;
    std::size_t max_entries_;
    std::unordered_map<std::string, failure_count> failures_;  // "s|src", "a|op", "p|op|src"
    std::unordered_map<std::string, std::int64_t> trusted_;    // "op|src" -> until
};

}  // namespace anxin::dispatcher
