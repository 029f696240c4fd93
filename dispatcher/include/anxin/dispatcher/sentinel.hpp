#pragma once
// Finding the Redis primary through Redis Sentinel, as the Sentinel client spec describes
// (https://redis.io/docs/reference/sentinel-clients/): ask the sentinels in turn
// `SENTINEL get-master-addr-by-name <name>` (the one that answered last is asked first next
// time), and keep a `+switch-master` subscription on one sentinel to hear of a failover at once.
// Verifying the named primary with ROLE is the caller's job (redis_connection), on the connection
// it will use. With credentials every connection to a sentinel sends AUTH first; sentinels
// commonly have a password of their own (sentinel.conf `requirepass` / ACL), apart from the data
// nodes'.
//
// The parse_* / format_* helpers are pure. sentinel_client talks RESP itself over Asio sockets
// (hiredis 0.14 serves only as the reply parser): every exchange has a deadline, so a dead or
// black-holed sentinel costs at most `timeout` and never blocks the io thread that thousands of
// device sessions share.
//
// Threading: create, call and destroy on the io_context's thread only.

#include "anxin/dispatcher/redis_reply.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace anxin::dispatcher {

struct redis_address {
    std::string host;
    int port = 0;
    std::string describe() const { return host + ":" + std::to_string(port); }
    bool operator==(const redis_address&) const = default;
};

// What AUTH sends on every (re)connect, before any other command: "AUTH user password" (an ACL
// user, Redis 6+), or "AUTH password" when user is empty (requirepass). Nothing when password is
// empty. Never logged.
struct redis_credentials {
    std::string user;
    std::string password;
    bool empty() const { return password.empty(); }
    // The AUTH command for these credentials.
    std::vector<std::string> auth_command() const {
        if (user.empty()) return {"AUTH", password};
        return {"AUTH", user, password};
    }
    // For log lines: "user 'anxin'" or "the default user"; never the password.
    std::string describe() const {
        return user.empty() ? "the default user" : "user '" + user + "'";
    }
};

// Reply to SENTINEL get-master-addr-by-name: [ip, port], or nil when the sentinel does not
// monitor that name. nullopt for nil and for anything malformed.
std::optional<redis_address> parse_master_addr(const redis_reply& reply);

// ROLE answers ["master", offset, replicas] on a primary, ["slave", ...] on a replica.
bool is_master_role(const redis_reply& reply);

// A +switch-master message: "<name> <old-ip> <old-port> <new-ip> <new-port>". The new address
// when the message is about `master`, else nullopt.
std::optional<redis_address> parse_switch_master(std::string_view payload, std::string_view master);

// One command as RESP (an array of bulk strings).
std::string format_command(const std::vector<std::string>& args);

class sentinel_client : public std::enable_shared_from_this<sentinel_client> {
  public:
    using switch_handler = std::function<void(const redis_address& primary)>;

    // name: for log lines (the owning connection's name).
    static std::shared_ptr<sentinel_client> create(boost::asio::io_context& io,
                                                   std::vector<redis_address> sentinels,
                                                   std::string master,
                                                   std::chrono::milliseconds timeout,
                                                   std::string name, redis_credentials auth = {});

    // The primary the first answering sentinel names; nullopt when none does (all down, or none
    // knows the name). Takes at most sentinels × timeout.
    boost::asio::awaitable<std::optional<redis_address>> resolve();
    // The sentinel that named the primary in the last successful resolve().
    const redis_address& last_answered() const { return sentinels_.front(); }

    // Subscribes to +switch-master on one sentinel at a time, moving to the next when it drops,
    // and calls h (on the io thread) with the new primary of our master. Until stop().
    void watch(switch_handler h);
    void stop();

    const std::string& master() const { return master_; }

  private:
    sentinel_client(boost::asio::io_context& io, std::vector<redis_address> sentinels,
                    std::string master, std::chrono::milliseconds timeout, std::string name,
                    redis_credentials auth);
    struct link;
    // Sends AUTH on a fresh link when there are credentials; false (logged) if refused.
    boost::asio::awaitable<bool> authenticate(link& l, const redis_address& sentinel);
    boost::asio::awaitable<void> watch_loop();
    boost::asio::awaitable<void> keep_alive(std::shared_ptr<link> l);

    boost::asio::io_context& io_;
    std::vector<redis_address> sentinels_;  // the last one that answered first
    std::string master_;
    std::chrono::milliseconds timeout_;
    std::string name_;
    redis_credentials auth_;
    switch_handler on_switch_;
    std::shared_ptr<link> watch_link_;
    boost::asio::steady_timer retry_timer_;
    bool stopped_ = false;
    bool watching_ = false;
};

}  // namespace anxin::dispatcher
