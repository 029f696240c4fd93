#pragma once
// Console session tokens: issued at a console login, they let the web console log in again after
// a dropped connection without keeping the password, and authorise the read-only HTTP API calls a
// console needs (supervisors: overview, reports, call search and records; operators: stations).
// The browser never holds the admin token.
//
// Redis is the single source of truth: anx:session:<sha256(token)> -> "<role> <operator>
// <station>" with a sliding TTL, so every dispatcher instance accepts a token any other issued,
// and a Redis dump does not hold usable tokens (only their hashes).
//
// Threading: io thread only (it shares the redis_connection). A cheap value: construct one where
// it is needed.

#include "anxin/dispatcher/redis_connection.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <optional>
#include <string>

namespace anxin::dispatcher {

struct console_identity {
    std::string operator_id;
    std::string role;        // operator, supervisor
    std::string station_id;  // command_centre_station for supervisors
    bool supervisor() const { return role == "supervisor"; }
};

class session_tokens {
  public:
    // A console idle for longer than this must log in with its password again.
    static constexpr std::chrono::hours default_ttl{12};

    explicit session_tokens(redis_connection& redis, std::chrono::seconds ttl = default_ttl)
        : redis_(redis), ttl_(ttl) {}

    // A new random token (32 hex digits, 128 bits); empty when Redis is unavailable.
    boost::asio::awaitable<std::string> issue(const console_identity& who);
    // The identity behind a token, renewing its TTL; nullopt when unknown, expired, malformed or
    // Redis is unavailable (callers answer 401 either way; `unavailable` says which).
    boost::asio::awaitable<std::optional<console_identity>> check(const std::string& token,
                                                                  bool* unavailable = nullptr);
    boost::asio::awaitable<void> revoke(const std::string& token);

  private:
    redis_connection& redis_;
    std::chrono::seconds ttl_;
};

// The Redis key of a token (exposed for tests).
std::string session_key(const std::string& token);

}  // namespace anxin::dispatcher
