// Redis AUTH: a dispatcher against a real redis-server whose default user is off and whose
// `anxin` ACL user is the one deploy/redis-anxin.conf defines, directly and through a Sentinel
// that has a password of its own. Passwords come from files, never the command line.

#include "test_cluster.hpp"

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <sys/stat.h>
#include <fstream>
#include <functional>
#include <sstream>
#include <thread>

using namespace std::chrono_literals;
namespace fs = std::filesystem;
using anxin::test::child_process;
using anxin::test::dispatcher_process;
using anxin::test::free_port;
using anxin::test::make_alarm;
using anxin::test::secret_of;
using anxin::test::wait_for;

namespace {

constexpr const char* redis_password = "redis-pw-0123456789";
constexpr const char* sentinel_password = "sentinel-pw-0123456789";
constexpr const char* token = "test-admin-token-0123456789";

bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
    auto until = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < until) {
        if (pred()) return true;
        std::this_thread::sleep_for(50ms);
    }
    return pred();
}

std::string read_all(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::size_t count(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
}

fs::path write_secret(const fs::path& path, const std::string& value) {
    std::ofstream(path) << value << "\n";
    ::chmod(path.c_str(), 0600);
    return path;
}

// The `user anxin ...` line of deploy/redis-anxin.conf, its password hash replaced by `pw`: the
// test runs the ACL that deployments are told to use.
std::vector<std::string> deployed_acl(const std::string& pw) {
    std::ifstream in(std::string(ANXIN_SOURCE_DIR) + "/deploy/redis-anxin.conf");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("user anxin ", 0) != 0) continue;
        std::istringstream words(line.substr(5));
        std::vector<std::string> out;
        for (std::string w; words >> w;) out.push_back(w[0] == '#' || w[0] == '>' ? ">" + pw : w);
        return out;
    }
    return {};
}

// One command on a fresh connection, after AUTH (user may be empty: requirepass).
std::string command(unsigned short port, const std::string& user, const std::string& pw,
                    const std::vector<std::string>& args) {
    redisContext* c = redisConnect("127.0.0.1", port);
    if (!c || c->err) {
        if (c) redisFree(c);
        return "(no connection)";
    }
    auto run = [&](const std::vector<std::string>& a) {
        std::vector<const char*> av;
        std::vector<std::size_t> al;
        for (auto& s : a) {
            av.push_back(s.data());
            al.push_back(s.size());
        }
        auto* r = static_cast<redisReply*>(
            redisCommandArgv(c, static_cast<int>(a.size()), av.data(), al.data()));
        std::string out = !r                               ? "(none)"
                          : r->type == REDIS_REPLY_INTEGER ? std::to_string(r->integer)
                          : r->type == REDIS_REPLY_ARRAY
                              ? "(array " + std::to_string(r->elements) + ")"
                          : r->str ? std::string(r->str, r->len)
                                   : "(nil)";
        if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 && r->element[1]->str)
            out = std::string(r->element[1]->str, r->element[1]->len);  // get-master-addr: port
        if (r) freeReplyObject(r);
        return out;
    };
    std::string out = "OK";
    if (!pw.empty()) out = user.empty() ? run({"AUTH", pw}) : run({"AUTH", user, pw});
    if (out == "OK") out = run(args);
    redisFree(c);
    return out;
}

// A redis-server on a TCP port with the default user off, the deployed `anxin` ACL user and a
// `sentinel` user for a monitoring Sentinel.
class acl_redis {
  public:
    explicit acl_redis(fs::path dir) : dir_(std::move(dir)), port_(free_port()) {}
    bool start() {
        fs::create_directories(dir_);
        auto acl = deployed_acl(redis_password);
        if (acl.empty()) return false;
        std::vector<std::string> argv = {"redis-server",
                                         "--port",
                                         std::to_string(port_),
                                         "--bind",
                                         "127.0.0.1",
                                         "--dir",
                                         dir_.string(),
                                         "--appendonly",
                                         "yes",
                                         "--appendfsync",
                                         "always",
                                         "--save",
                                         "",
                                         "--daemonize",
                                         "no",
                                         "--user",
                                         "default",
                                         "off",
                                         "--user"};
        argv.insert(argv.end(), acl.begin(), acl.end());
        // An administrator, to change the anxin user's password while the test runs.
        for (const char* w : {"--user", "admin", "on", ">admin-pw", "~*", "&*", "+@all"})
            argv.push_back(w);
        // The permissions the Redis Sentinel documentation lists for a sentinel's user.
        for (const char* w :
             {"--user", "sentinel", "on", ">sentinel-to-redis-pw", "allchannels", "+multi",
              "+slaveof", "+ping", "+exec", "+subscribe", "+config|rewrite", "+role", "+publish",
              "+info", "+client|setname", "+client|kill", "+script|kill"})
            argv.push_back(w);
        proc_.spawn(argv, dir_ / "redis.log");
        return eventually([&] { return query({"PING"}) == "PONG"; }, 5s);
    }
    std::string query(const std::vector<std::string>& args) {
        return command(port_, "anxin", redis_password, args);
    }
    unsigned short port() const { return port_; }
    std::string log() const { return read_all(dir_ / "redis.log"); }

  private:
    fs::path dir_;
    unsigned short port_;
    child_process proc_;
};

// A sentinel monitoring `primary` (quorum 1) that clients must AUTH to.
class auth_sentinel {
  public:
    explicit auth_sentinel(fs::path dir) : dir_(std::move(dir)), port_(free_port()) {}
    bool start(unsigned short primary) {
        fs::create_directories(dir_);
        auto conf = dir_ / "sentinel.conf";
        std::ofstream(conf) << "port " << port_ << "\nbind 127.0.0.1\ndir " << dir_.string()
                            << "\nrequirepass " << sentinel_password
                            << "\nsentinel monitor mymaster 127.0.0.1 " << primary << " 1\n"
                            << "sentinel auth-user mymaster sentinel\n"
                            << "sentinel auth-pass mymaster sentinel-to-redis-pw\n";
        proc_.spawn({"redis-server", conf.string(), "--sentinel"}, dir_ / "sentinel.log");
        return eventually(
            [&] {
                return command(port_, "", sentinel_password,
                               {"SENTINEL", "get-master-addr-by-name", "mymaster"}) ==
                       std::to_string(primary);
            },
            10s);
    }
    unsigned short port() const { return port_; }

  private:
    fs::path dir_;
    unsigned short port_;
    child_process proc_;
};

struct scratch {
    fs::path path;
    explicit scratch(const char* prefix)
        : path(fs::temp_directory_path() / (prefix + std::to_string(getpid()))) {
        fs::remove_all(path);
        fs::create_directories(path);
    }
    ~scratch() {
        if (std::getenv("ANXIN_KEEP_TEST_DIRS") == nullptr) fs::remove_all(path);
    }
};

bool is_ack(const anxin::device::v1::ServerMessage& m) {
    return m.has_alarm_ack();
}

// Provisions the district and presses dev-1's button: the call id acked, or empty.
std::string provision_and_press(dispatcher_process& d) {
    auto r = d.https("POST", "/api/provision", anxin::test::district_json(), token);
    if (r.status != 200) return "";
    boost::asio::io_context io;
    auto dev = d.open_device_link(io);
    if (!dev) return "";
    auto w = dev->handshake("dev-1", secret_of("dev-1"), 5s);
    if (!w || !w->has_welcome()) return "";
    if (!dev->send(make_alarm(1))) return "";
    auto ack = wait_for(*dev, is_ack, 10s);
    return ack ? ack->alarm_ack().call_id() : "";
}

// The command line (as ps shows it) of the running process whose arguments mention `marker`.
std::string cmdline_mentioning(const std::string& marker) {
    for (const auto& e : fs::directory_iterator("/proc")) {
        auto text = read_all(e.path() / "cmdline");
        for (auto& ch : text)
            if (ch == '\0') ch = ' ';
        if (text.find(marker) != std::string::npos && text.find("dispatcher") != std::string::npos)
            return text;
    }
    return {};
}

}  // namespace

TEST(RedisAuth, TheRightPasswordStoresAndAcksAPress) {
    scratch s("anx-auth-");
    acl_redis redis(s.path / "r");
    ASSERT_TRUE(redis.start()) << redis.log();
    // The default user is really off: without AUTH nothing is served.
    EXPECT_NE(command(redis.port(), "", "", {"PING"}), "PONG");
    auto pw = write_secret(s.path / "redis-password", redis_password);
    dispatcher_process d(s.path / "d1", "redis://127.0.0.1:" + std::to_string(redis.port()), token);
    ASSERT_TRUE(d.start({"--redis-user", "anxin", "--redis-password-file", pw.string()}))
        << d.log_tail();
    auto call = provision_and_press(d);
    ASSERT_FALSE(call.empty()) << d.log_tail();
    EXPECT_EQ(redis.query({"HGET", "anx:call:" + call, "device"}), "dev-1");
    // Neither the password nor the admin token is in the command line others can read.
    auto cmdline = cmdline_mentioning((s.path / "d1").string());
    EXPECT_NE(cmdline.find("--redis-password-file"), std::string::npos) << cmdline;
    EXPECT_EQ(cmdline.find(redis_password), std::string::npos) << cmdline;
    EXPECT_EQ(cmdline.find(token), std::string::npos) << cmdline;
    EXPECT_EQ(d.log_tail(500).find(redis_password), std::string::npos);
}

TEST(RedisAuth, APasswordFromTheEnvironmentWorksToo) {
    scratch s("anx-authenv-");
    acl_redis redis(s.path / "r");
    ASSERT_TRUE(redis.start()) << redis.log();
    ::setenv("ANXIN_REDIS_PASSWORD", redis_password, 1);
    dispatcher_process d(s.path / "d1", "redis://127.0.0.1:" + std::to_string(redis.port()), token);
    bool started = d.start({"--redis-user", "anxin"});
    ::unsetenv("ANXIN_REDIS_PASSWORD");
    ASSERT_TRUE(started) << d.log_tail();
    EXPECT_FALSE(provision_and_press(d).empty()) << d.log_tail();
}

// A wrong password: the store is unavailable (/healthz 503, devices refused), one clear line in
// the log however many connections and retries, no password in it; once Redis accepts the
// password the dispatcher recovers by itself.
TEST(RedisAuth, AWrongPasswordIsRefusedWithOneClearLineAndRecoversWhenFixed) {
    scratch s("anx-authbad-");
    acl_redis redis(s.path / "r");
    ASSERT_TRUE(redis.start()) << redis.log();
    const std::string wrong = "not-the-password-42";
    auto pw = write_secret(s.path / "redis-password", wrong);
    auto http = free_port();
    child_process p;
    const auto log = s.path / "d.log";
    ASSERT_TRUE(p.spawn(
        {ANXIN_DISPATCHER_BIN, "--bind", "127.0.0.1", "--device-port", "0", "--http-port", "0",
         "--plain-http-port", std::to_string(http), "--data-dir", (s.path / "d").string(),
         "--redis", "redis://127.0.0.1:" + std::to_string(redis.port()), "--redis-user", "anxin",
         "--redis-password-file", pw.string()},
        log));
    ASSERT_TRUE(eventually(
        [&] {
            return anxin::sim::http_request("127.0.0.1", http, "GET", "/healthz", "", "", 1s)
                       .status == 503;
        },
        20s))
        << read_all(log);
    std::this_thread::sleep_for(4s);  // several reconnect rounds of 9 connections
    ASSERT_TRUE(p.running()) << read_all(log);
    auto text = read_all(log);
    EXPECT_EQ(count(text, "refused AUTH as user 'anxin'"), 1u) << text;
    EXPECT_NE(text.find("WRONGPASS"), std::string::npos) << text;
    EXPECT_NE(text.find("--redis-password-file"), std::string::npos) << text;
    EXPECT_EQ(text.find(wrong), std::string::npos) << text;
    EXPECT_EQ(text.find(redis_password), std::string::npos);

    // The administrator fixes Redis's side: the dispatcher comes up without a restart.
    // (The anxin user itself may not: ACL is @dangerous.)
    EXPECT_NE(redis.query({"ACL", "SETUSER", "anxin", ">" + wrong}), "OK");
    ASSERT_EQ(command(redis.port(), "admin", "admin-pw", {"ACL", "SETUSER", "anxin", ">" + wrong}),
              "OK");
    EXPECT_TRUE(eventually(
        [&] {
            return anxin::sim::http_request("127.0.0.1", http, "GET", "/healthz", "", "", 1s)
                       .status == 200;
        },
        10s))
        << read_all(log);
    p.stop();
}

TEST(RedisAuth, CredentialOptionsAreCheckedAtStart) {
    scratch s("anx-authopt-");
    auto run = [&](std::vector<std::string> args) {
        child_process p;
        args.insert(args.begin(), {ANXIN_DISPATCHER_BIN, "--data-dir", (s.path / "d").string()});
        p.spawn(args, s.path / "out.log");
        auto code = p.wait(10s);
        return std::make_pair(code.value_or(-1), read_all(s.path / "out.log"));
    };
    auto [c1, o1] = run(
        {"--redis", "redis://127.0.0.1:1", "--redis-password-file", (s.path / "missing").string()});
    EXPECT_EQ(c1, 2);
    EXPECT_NE(o1.find("cannot open"), std::string::npos) << o1;
    auto [c2, o2] = run({"--redis", "redis://127.0.0.1:1", "--redis-user", "anxin"});
    EXPECT_EQ(c2, 2);
    EXPECT_NE(o2.find("--redis-user needs"), std::string::npos) << o2;
}

// Through Sentinel: the sentinels want their own password, the primary they name the Redis one.
TEST(RedisAuth, ThroughASentinelWithItsOwnPassword) {
    scratch s("anx-authsen-");
    acl_redis redis(s.path / "r");
    ASSERT_TRUE(redis.start()) << redis.log();
    auth_sentinel sentinel(s.path / "s");
    ASSERT_TRUE(sentinel.start(redis.port())) << read_all(s.path / "s" / "sentinel.log");
    auto pw = write_secret(s.path / "redis-password", redis_password);
    auto spw = write_secret(s.path / "sentinel-password", sentinel_password);
    const auto uri = "sentinel://127.0.0.1:" + std::to_string(sentinel.port()) + "/mymaster";
    {
        dispatcher_process d(s.path / "d1", uri, token);
        ASSERT_TRUE(d.start({"--redis-user", "anxin", "--redis-password-file", pw.string(),
                             "--sentinel-password-file", spw.string()}))
            << d.log_tail();
        auto call = provision_and_press(d);
        ASSERT_FALSE(call.empty()) << d.log_tail();
        EXPECT_EQ(redis.query({"HGET", "anx:call:" + call, "device"}), "dev-1");
        d.stop();
    }
    // A wrong sentinel password: said once, clearly, and the store stays unavailable.
    auto bad = write_secret(s.path / "bad-sentinel-password", "wrong-sentinel-pw");
    auto http = free_port();
    child_process p;
    const auto log = s.path / "d2.log";
    ASSERT_TRUE(
        p.spawn({ANXIN_DISPATCHER_BIN, "--bind", "127.0.0.1", "--device-port", "0", "--http-port",
                 "0", "--plain-http-port", std::to_string(http), "--data-dir",
                 (s.path / "d2").string(), "--redis", uri, "--redis-user", "anxin",
                 "--redis-password-file", pw.string(), "--sentinel-password-file", bad.string()},
                log));
    ASSERT_TRUE(eventually(
        [&] {
            return anxin::sim::http_request("127.0.0.1", http, "GET", "/healthz", "", "", 1s)
                       .status == 503;
        },
        20s))
        << read_all(log);
    std::this_thread::sleep_for(3s);
    ASSERT_TRUE(p.running());
    auto text = read_all(log);
    EXPECT_EQ(count(text, "refused AUTH as the default user"), 1u) << text;
    EXPECT_NE(text.find("--sentinel-password-file"), std::string::npos) << text;
    EXPECT_EQ(text.find("wrong-sentinel-pw"), std::string::npos) << text;
    p.stop();
}
