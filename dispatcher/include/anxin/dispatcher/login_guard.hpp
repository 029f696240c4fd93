#pragma once
// What a console password login must get past before and while its password is checked:
//  - the guess limits (login_limiter.hpp), counted both in this instance's memory and in Redis
//    (anx:login:* keys with TTLs, so the limits hold across instances); the larger count wins,
//    and with Redis unavailable the local count alone still decides;
//  - a bounded hashing queue: PBKDF2 runs on the dispatcher's hashing pool (one thread, so
//    hashing never takes the core the event loop needs); at most `max_hash_jobs` checks are
//    queued or running, at most `max_hash_jobs_per_source` of them from one source address.
//    Beyond that a login is refused at once ("busy", with a retry-after) rather than queued:
//    a queue that grows makes every login, the real ones included, wait behind the guesses.
//  - the same cost for every operator id: an unknown one is checked against a dummy hash of
//    the configured cost, so neither the reply nor its timing says whether an id exists.
//
// Threading: io thread only (the hashing itself runs on the pool and resumes on the caller's
// executor). Errors: Redis failures are not errors here (the local view decides alone).

#include "anxin/dispatcher/login_limiter.hpp"
#include "anxin/dispatcher/redis_connection.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>

namespace anxin::dispatcher {

struct login_hash_limits {
    std::size_t max_hash_jobs = 8;
    std::size_t max_hash_jobs_per_source = 2;
};

class login_guard {
  public:
    login_guard(std::shared_ptr<redis_connection> redis, boost::asio::thread_pool& pool,
                int pbkdf2_iterations, login_limits limits = {}, login_hash_limits hashing = {});

    struct gate {
        login_verdict verdict;
        bool trusted = false;  // op has logged in from this source before (login_limiter.hpp)
    };
    // Before a password is checked: may op be tried from source (a source_key()) now?
    boost::asio::awaitable<gate> check(const std::string& op, const std::string& source);
    // After the check: a failure is counted (here and in Redis); a success trusts the source.
    boost::asio::awaitable<void> record(const std::string& op, const std::string& source,
                                        bool trusted, bool ok);

    enum class password_check { match, mismatch, busy };
    // Checks password against stored_hash on the hashing pool; an empty stored_hash (unknown
    // operator) is checked against the dummy hash and never matches. busy: the queue is full or
    // this source has its share of it; nothing was checked.
    boost::asio::awaitable<password_check> verify(const std::string& source, std::string password,
                                                  std::string stored_hash);
    // How long a console told "busy" should wait: about the time the queue takes to drain.
    std::int64_t busy_retry_after_ms() const;
    std::size_t hash_jobs() const { return jobs_; }
    // Keeps *gauge equal to hash_jobs() (the /metrics gauge); nullptr: none.
    // Where to report the checks queued or running (a gauge) and the passwords hashed (a
    // counter; unknown ids are hashed too, against the dummy).
    void report_to(std::int64_t* jobs_gauge, std::uint64_t* hashed_counter) {
        gauge_ = jobs_gauge;
        hashed_ = hashed_counter;
    }
    // What an unknown id's password is checked against: the configured cost, a random password.
    const std::string& dummy_hash() const { return dummy_hash_; }

  private:
    std::shared_ptr<redis_connection> redis_;
    boost::asio::thread_pool& pool_;
    login_limiter local_;
    login_hash_limits hashing_;
    std::string dummy_hash_;
    std::size_t jobs_ = 0;
    std::int64_t* gauge_ = nullptr;
    std::uint64_t* hashed_ = nullptr;
    std::unordered_map<std::string, std::size_t> jobs_by_source_;
    double hash_ms_ = 50;  // moving average of one check
};

}  // namespace anxin::dispatcher
