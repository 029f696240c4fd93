#pragma once
// Integration-test harness: a real redis-server on a private unix socket and real dispatcher
// processes on free ports, in a fresh temporary directory per test, plus a small provisioned
// district and helpers to connect devices and consoles.

#include "anxin/sim/console_link.hpp"
#include "anxin/sim/device_link.hpp"
#include "anxin/sim/http_client.hpp"

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <boost/asio/io_context.hpp>

#include <sys/types.h>
#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace anxin::test {

unsigned short free_port();

// A child process with stdout+stderr going to a log file.
class child_process {
  public:
    child_process() = default;
    child_process(const child_process&) = delete;
    child_process& operator=(const child_process&) = delete;
    ~child_process();
    bool spawn(const std::vector<std::string>& argv, const std::filesystem::path& log);
    void signal(int sig);
    // Sends SIGTERM and waits up to `timeout`, then SIGKILL. Returns the exit status.
    int stop(std::chrono::milliseconds timeout = std::chrono::milliseconds(10000));
    void kill9();
    bool running();
    // Waits for the process to exit by itself; its exit code, or nullopt on timeout (or signal).
    std::optional<int> wait(std::chrono::milliseconds timeout);
    pid_t pid() const { return pid_; }
    // The open-files limit (soft and hard) of processes spawned from now on; 0: inherited.
    void limit_open_files(unsigned long n) { open_files_ = n; }
    // The wait status of the last exit reaped (running(), stop()); -1 if none yet.
    int last_status() const { return last_status_; }

  private:
    pid_t pid_ = -1;
    int last_status_ = -1;
    unsigned long open_files_ = 0;
};

class redis_server {
  public:
    // tcp_port 0: unix socket only.
    explicit redis_server(std::filesystem::path dir, unsigned short tcp_port = 0);
    bool start();
    void stop();
    void kill9();
    void signal(int sig) { proc_.signal(sig); }  // e.g. SIGSTOP: a Redis that hangs
    std::string socket_path() const { return (dir_ / "redis.sock").string(); }
    // A blocking hiredis connection for assertions on the stored state.
    redisContext* client();
    std::string get(const std::string& key);
    std::string hget(const std::string& key, const std::string& field);
    long long integer_command(const std::string& cmd);
    std::vector<std::string> list(
        const std::string& key);  // LRANGE key 0 -1  // e.g. "ZCARD anx:calls:open"

  private:
    std::filesystem::path dir_;
    unsigned short tcp_port_;
    child_process proc_;
    redisContext* client_ = nullptr;
};

class dispatcher_process {
  public:
    dispatcher_process(std::filesystem::path data_dir, std::string redis_uri,
                       std::string admin_token);
    // Stops it, and fails the running test if it died on its own while it was up or its log
    // holds a sanitizer report.
    ~dispatcher_process();
    // Starts and waits until /healthz answers (up to 20 s).
    bool start(const std::vector<std::string>& extra = {});
    int stop();
    void kill9();
    // Started with this open-files limit (soft = hard, so it cannot raise it), e.g. 1024.
    void limit_open_files(unsigned long n) { proc_.limit_open_files(n); }
    bool running() { return proc_.running(); }
    // Its resident set size now, in KiB (0 if it is not running).
    long rss_kb() const;
    pid_t pid() const { return proc_.pid(); }
    unsigned short device_port() const { return device_port_; }  // TLS
    unsigned short plain_device_port() const { return plain_device_port_; }
    // The CA its device port's certificate was generated from, and a client context trusting it.
    std::filesystem::path ca_file() const {
        return (tls_dir_.empty() ? data_dir_ / "tls" : tls_dir_) / "ca.pem";
    }
    // Serve first's certificate instead of generating one (before start()).
    void share_tls_with(const dispatcher_process& first) { tls_dir_ = first.data_dir_ / "tls"; }
    // Use first's device secrets key (every instance on one Redis needs the same), before start().
    void share_secrets_key_with(const dispatcher_process& first) {
        secrets_key_ = first.data_dir_ / "secrets.key";
    }
    // The file the admin token is given in (--admin-token-file; never on the command line).
    std::filesystem::path admin_token_file() const {
        return data_dir_.parent_path() / (data_dir_.filename().string() + ".admin-token");
    }
    std::shared_ptr<boost::asio::ssl::context> client_tls();
    // A device link connected over TLS (verified against ca_file()); nullptr on failure.
    std::unique_ptr<sim::device_link> open_device_link(boost::asio::io_context& io);
    unsigned short http_port() const { return http_port_; }  // HTTPS
    unsigned short plain_http_port() const { return plain_http_port_; }
    // An HTTPS request to it, verified against ca_file().
    sim::http_result https(const std::string& method, const std::string& target,
                           const std::string& body = {}, const std::string& token = {});
    std::string log_tail(std::size_t lines = 60) const;
    const std::filesystem::path& data_dir() const { return data_dir_; }

  private:
    std::filesystem::path data_dir_;
    std::string redis_uri_;
    std::string admin_token_;
    unsigned short device_port_ = 0;
    unsigned short plain_device_port_ = 0;
    std::filesystem::path tls_dir_;      // set: --tls-cert/--tls-key from there
    std::filesystem::path secrets_key_;  // set: --secrets-key-file
    std::shared_ptr<boost::asio::ssl::context> tls_;
    unsigned short http_port_ = 0;
    unsigned short plain_http_port_ = 0;
    // The first AddressSanitizer / LeakSanitizer / UBSan report in the log, or empty.
    std::string sanitizer_report() const;

    child_process proc_;
    int starts_ = 0;
    bool up_ = false;  // started, and not stopped or killed by the test since
};

// "exit code 1", "killed by signal 11 (Segmentation fault)".
std::string describe_status(int status);

// The district every integration test starts from:
//   st-a "Zhongcang station" at (39.900, 116.600) with operators op-a1, op-a2
//   st-b "Songzhuang station" at (39.950, 116.700) with operator op-b1
//   res-1 near st-a (dev-1), res-2 near st-b (dev-2), res-3 near st-a (dev-3)
// All operator passwords are `operator_password`; device secrets are `secret_of(device)`.
inline constexpr const char* operator_password = "correct-horse-1";
std::string secret_of(const std::string& device_id);
std::string district_json();

class cluster {
  public:
    // `embedded`: the dispatcher runs its own redis-server (no --redis); otherwise a separate
    // redis_server is started and passed with --redis.
    enum class redis_mode { unix_socket, tcp, embedded };
    explicit cluster(redis_mode mode = redis_mode::unix_socket);
    ~cluster();

    bool start(const std::vector<std::string>& dispatcher_args = {});
    bool provision();
    dispatcher_process& dispatcher() { return *dispatcher_; }
    // Another dispatcher instance on the same Redis (its own ports, data dir and instance name).
    dispatcher_process* add_dispatcher(const std::vector<std::string>& args = {});
    dispatcher_process& instance(std::size_t i) { return i == 0 ? *dispatcher_ : *more_[i - 1]; }
    bool has_instance(std::size_t i) const { return i <= more_.size(); }
    const std::string& redis_uri() const { return redis_uri_; }
    // As device() / console(), on a given instance.
    std::unique_ptr<sim::device_link> device_on(dispatcher_process& d, const std::string& id,
                                                std::uint64_t sequence_epoch = 0);
    std::unique_ptr<sim::console_link> console_on(dispatcher_process& d, const std::string& op);
    // Logged in with this Login (its password, if empty, is operator_password), e.g. all_calls.
    std::unique_ptr<sim::console_link> console_with(dispatcher_process& d,
                                                    anxin::console::v1::Login login);
    redis_server& redis() { return *redis_; }
    const std::string& admin_token() const { return token_; }
    // The first instance's token file, for device-sim provision --admin-token-file.
    std::filesystem::path admin_token_file() const { return dispatcher_->admin_token_file(); }
    const std::filesystem::path& dir() const { return dir_; }

    // A device connected and past the handshake (asserts on failure via the returned nullptr).
    // sequence_epoch: Hello.sequence_epoch (0: not sent).
    std::unique_ptr<sim::device_link> device(const std::string& id,
                                             std::uint64_t sequence_epoch = 0);
    std::unique_ptr<sim::console_link> console(const std::string& op);
    sim::http_result http(const std::string& method, const std::string& target,
                          const std::string& body = {}, bool with_token = true);

    boost::asio::io_context io;

  private:
    std::filesystem::path dir_;
    redis_mode mode_;
    std::string token_ = "test-admin-token-0123456789";
    std::unique_ptr<redis_server> redis_;
    std::unique_ptr<dispatcher_process> dispatcher_;
    std::vector<std::unique_ptr<dispatcher_process>> more_;
    std::string redis_uri_;
};

// Waits for the first message matching pred, skipping others; nullopt on timeout.
template <class Link, class Pred>
auto wait_for(Link& link, Pred pred,
              std::chrono::milliseconds timeout = std::chrono::milliseconds(5000))
    -> decltype(link.receive(timeout)) {
    auto until = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            until - std::chrono::steady_clock::now());
        if (left.count() <= 0) return std::nullopt;
        auto m = link.receive(left);
        if (!m) return std::nullopt;
        if (pred(*m)) return m;
    }
}

// A fixture owning one cluster; on failure it prints the dispatcher's log tail.
class cluster_test : public ::testing::Test {
  protected:
    // Starts a cluster (dispatcher options `args`) and, unless told not to, provisions the
    // district.
    void start_cluster(const std::vector<std::string>& args = {}, bool provision = true);
    void TearDown() override;
    std::unique_ptr<cluster> c;
};

// A predicate for wait_for: an offer of this call.
inline auto offer_of(const std::string& call) {
    return [call](const anxin::console::v1::ConsoleEvent& e) {
        return e.has_offer() && e.offer().call().id() == call;
    };
}

// The press time tests give sequence `seq` unless told otherwise: the same for every re-send of
// it, as a device's re-sent alarm is the same message (protocol/README.md section 5).
inline std::int64_t press_time_of(std::uint32_t seq) {
    return 1796000000000 + seq;
}
// device_time_ms -1: press_time_of(seq); 0: a device whose clock is not set.
// Re-sends `alarm` as device `device_id` (sequence_epoch `epoch`), connecting again whenever the
// link is gone, until it is acked (at most ~40 tries): the call id, or empty. What a device does
// while the store is away.
std::string resend_until_acked(cluster& c, std::unique_ptr<sim::device_link>& dev,
                               const std::string& device_id,
                               const anxin::device::v1::DeviceMessage& alarm,
                               std::uint64_t epoch = 0);

// device-sim's --json result: a number in it (-1 if absent), the last JSON line of its log.
long long json_number(const std::string& json, const std::string& key);
std::string last_json_line(const std::filesystem::path& log);
std::string tail(const std::filesystem::path& log, std::size_t lines);

anxin::device::v1::DeviceMessage make_alarm(
    std::uint32_t seq, anxin::device::v1::AlarmType type = anxin::device::v1::SOS,
    std::int64_t device_time_ms = -1);

}  // namespace anxin::test
