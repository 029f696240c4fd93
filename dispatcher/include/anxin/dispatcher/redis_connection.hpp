#pragma once
// One hiredis async connection driven by the dispatcher's io_context, with what hiredis 0.14
// lacks: connect and command timeouts, and reconnect with backoff.
//
// Threading: create, call and destroy on the io_context's (single) thread only. Commands are
// pipelined: exec() writes at once and many may be in flight; replies come back in order.
// With credentials (redis_endpoint::auth) every connect sends AUTH before anything else; a
// refused AUTH is logged (at most every 30 s per process, never the password) and retried with
// the usual backoff, the connection staying down meanwhile.
// Errors: a command sent while disconnected completes at once with status::unavailable; a
// command not answered within command_timeout completes with status::timeout and the connection
// is torn down and re-established (after a timeout the reply stream can no longer be matched to
// commands, and a Redis that does not answer must not hold alarms hostage).
//
// Through Sentinel (redis_endpoint::via_sentinel()): each (re)connect asks the sentinels for the
// primary, connects to it and checks with ROLE that it is a primary before taking commands (a
// replica, such as a demoted old primary or one a stale sentinel names, is never used; an old
// primary not yet reconfigured still says "master"). A +switch-master message moves it to the
// promoted node; a READONLY or UNBLOCKED error reply (the instance became a replica) or a dropped
// connection makes it ask the sentinels again. Commands in flight when it leaves a primary
// complete with status::unavailable.

#include "anxin/dispatcher/redis_reply.hpp"
#include "anxin/dispatcher/sentinel.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

struct redisAsyncContext;

namespace anxin::dispatcher {

// Where Redis listens: a unix socket path, host and port, or the sentinels that know the primary
// of master_name.
struct redis_endpoint {
    std::string unix_path;
    std::string host = "127.0.0.1";
    int port = 6379;
    std::vector<redis_address> sentinels;
    std::string master_name;
    // AUTH for the Redis itself (also the primary the sentinels name) and for the sentinels.
    redis_credentials auth;
    redis_credentials sentinel_auth;

    // Accepts redis://[[user]:password@]host:port, host:port, unix:///path/to.sock,
    // /path/to.sock, and sentinel://host[:port][,host[:port]...]/master-name (sentinel port
    // default 26379). Credentials in the URI land in `auth` (a file or the environment is the
    // better place for them: a URI on the command line is visible to every local user).
    static bool parse(const std::string& uri, redis_endpoint& out);
    std::string describe() const;
    bool via_sentinel() const { return !master_name.empty(); }
};

class redis_connection : public std::enable_shared_from_this<redis_connection> {
  public:
    struct options {
        std::chrono::milliseconds connect_timeout{2000};
        std::chrono::milliseconds command_timeout{3000};
        std::chrono::milliseconds min_backoff{100};
        std::chrono::milliseconds max_backoff{2000};
        // Per sentinel asked (connect + answer); the spec suggests a few hundred ms.
        std::chrono::milliseconds sentinel_timeout{500};
    };
    using message_handler =
        std::function<void(const std::string& channel, const std::string& payload)>;
    using state_handler = std::function<void(bool connected)>;

    static std::shared_ptr<redis_connection> create(boost::asio::io_context& io, redis_endpoint ep,
                                                    options opts, std::string name);
    ~redis_connection();

    // Starts connecting; keeps reconnecting until stop().
    void start();
    void stop();
    bool connected() const { return connected_; }
    // Counts the times the connection came up: a change means commands ran on another session
    // (per-connection state such as WAIT's replication offset did not carry over).
    std::uint64_t generation() const { return generation_; }
    boost::asio::io_context& io() { return io_; }

    // Called (on the io thread) each time the connection comes up or goes down.
    void on_state_change(state_handler h) { state_handler_ = std::move(h); }

    // Sends one command. Never throws; see the class comment for the failure cases.
    boost::asio::awaitable<redis_result> exec(std::vector<std::string> args);
    // Sends all commands back to back (one pipeline) and completes when every reply is in.
    boost::asio::awaitable<std::vector<redis_result>> exec_many(
        std::vector<std::vector<std::string>> commands);

    // Sends one command without waiting for it; `done` (may be empty) gets the result, called
    // from inside hiredis's reply callback, so it must be short and must not block. For
    // fire-and-forget traffic (PUBLISH) that should not cost a coroutine per command.
    void send(std::vector<std::string> args, std::function<void(redis_result)> done = {});

    // Puts this connection into subscriber mode for channel (re-subscribed after reconnects).
    // A subscriber connection must not be used for exec().
    void subscribe(const std::string& channel, message_handler h);

    // Round-trip time of the most recent successful command, for /metrics.
    double last_rtt_seconds() const { return last_rtt_s_; }

    struct pending;  // implementation detail, public for the C callbacks
    struct ev_state;

  private:
    redis_connection(boost::asio::io_context& io, redis_endpoint ep, options opts,
                     std::string name);
    void connect();
    void connect_to(const redis_endpoint& target);
    boost::asio::awaitable<void> resolve_and_connect();
    void on_auth(const redis_reply& reply);
    void on_role(const redis_reply& role);
    void on_switch_master(const redis_address& primary);
    void mark_up();
    void schedule_reconnect();
    void arm_watchdog();
    void on_connected(int status);
    void on_context_gone();
    void submit(std::vector<std::string> args, std::unique_ptr<pending> p);
    void send_subscribe(const std::string& channel);

    boost::asio::io_context& io_;
    redis_endpoint ep_;      // as configured
    redis_endpoint target_;  // what it connects to: ep_, or the primary the sentinels named
    std::shared_ptr<sentinel_client> sentinel_;
    std::string following_;  // the primary last verified with ROLE (sentinel mode)
    bool resolving_ = false;
    options opts_;
    std::string name_;
    redisAsyncContext* ac_ = nullptr;
    std::shared_ptr<ev_state> ev_;
    bool connected_ = false;
    std::uint64_t generation_ = 0;
    bool stopped_ = true;
    std::chrono::milliseconds backoff_;
    std::chrono::steady_clock::time_point connect_started_;
    std::deque<std::chrono::steady_clock::time_point> inflight_;  // send times, oldest first
    boost::asio::steady_timer reconnect_timer_;
    boost::asio::steady_timer watchdog_;
    std::map<std::string, message_handler> subscriptions_;
    state_handler state_handler_;
    double last_rtt_s_ = 0;
    bool timed_out_ = false;
    bool auth_refused_ = false;  // on the current context: its PING/ROLE answer is ignored
    friend struct redis_connection_access;
};

}  // namespace anxin::dispatcher
