// What the dispatcher leaves on disk and in Redis: file modes of the data directory after a real
// run with the embedded Redis, device secrets encrypted at rest (and legacy plaintext ones
// migrated), the secrets key shared by instances, and the admin token kept off the command line.

#include "test_cluster.hpp"

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <sys/stat.h>
#include <fstream>
#include <sstream>
#include <thread>

using namespace std::chrono_literals;
namespace fs = std::filesystem;
using anxin::test::child_process;
using anxin::test::cluster;
using anxin::test::make_alarm;
using anxin::test::secret_of;
using anxin::test::wait_for;

namespace {

bool is_ack(const anxin::device::v1::ServerMessage& m) {
    return m.has_alarm_ack();
}

unsigned mode_of(const fs::path& p) {
    struct stat st {};
    if (::lstat(p.c_str(), &st) != 0) return 0xffff;
    return st.st_mode & 07777;
}

std::string read_all(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
    auto until = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < until) {
        if (pred()) return true;
        std::this_thread::sleep_for(50ms);
    }
    return pred();
}

// Every key in Redis with every field/member/value as text: what a dump would hold.
std::string dump_store(anxin::test::redis_server& redis) {
    std::string out;
    auto* c = redis.client();
    std::string cursor = "0";
    do {
        auto* r = static_cast<redisReply*>(redisCommand(c, "SCAN %s COUNT 1000", cursor.c_str()));
        if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
            if (r) freeReplyObject(r);
            return out + "(SCAN failed)";
        }
        cursor = r->element[0]->str;
        for (std::size_t i = 0; i < r->element[1]->elements; ++i) {
            std::string key(r->element[1]->element[i]->str, r->element[1]->element[i]->len);
            out += key + "\n";
            auto* t = static_cast<redisReply*>(redisCommand(c, "TYPE %s", key.c_str()));
            std::string type = t && t->str ? t->str : "";
            if (t) freeReplyObject(t);
            const char* cmd = type == "hash"     ? "HGETALL %s"
                              : type == "string" ? "GET %s"
                              : type == "list"   ? "LRANGE %s 0 -1"
                              : type == "set"    ? "SMEMBERS %s"
                              : type == "zset"   ? "ZRANGE %s 0 -1"
                              : type == "stream" ? "XRANGE %s - +"
                                                 : nullptr;
            if (!cmd) continue;
            auto* v = static_cast<redisReply*>(redisCommand(c, cmd, key.c_str()));
            std::function<void(redisReply*)> walk = [&](redisReply* x) {
                if (!x) return;
                if (x->str) out += std::string(x->str, x->len) + "\n";
                for (std::size_t k = 0; k < x->elements; ++k) walk(x->element[k]);
            };
            walk(v);
            if (v) freeReplyObject(v);
        }
        freeReplyObject(r);
    } while (cursor != "0");
    return out;
}

}  // namespace

// After a real dispatcher with its embedded Redis stored (and acked) a call and stopped, nothing
// in its data directory is open to other users: directories 0700, files 0600, the socket 0700;
// only the public certificates may be 0644.
TEST(DataAtRest, EveryFileInTheDataDirectoryIsPrivateAfterARealRun) {
    cluster c(cluster::redis_mode::embedded);
    ASSERT_TRUE(c.start()) << c.dispatcher().log_tail();
    ASSERT_TRUE(c.provision());
    {
        auto dev = c.device("dev-1");
        ASSERT_TRUE(dev);
        ASSERT_TRUE(dev->send(make_alarm(1)));
        ASSERT_TRUE(wait_for(*dev, is_ack)) << c.dispatcher().log_tail();
    }
    const auto dir = c.dispatcher().data_dir();
    // Checked while running (the socket exists) and after a clean stop (the AOF rewritten).
    for (int pass = 0; pass < 2; ++pass) {
        SCOPED_TRACE(pass == 0 ? "running" : "stopped");
        EXPECT_EQ(mode_of(dir), 0700u);
        int files = 0;
        bool saw_aof = false, saw_key = false;
        for (auto it = fs::recursive_directory_iterator(dir);
             it != fs::recursive_directory_iterator(); ++it) {
            const auto& p = it->path();
            // The harness's log of the process's stdout, created by the test, not the dispatcher.
            if (p.filename() == "dispatcher.log") continue;
            ++files;
            const auto mode = mode_of(p);
            if (it->is_directory())
                EXPECT_EQ(mode, 0700u) << p;
            else if (it->is_socket())
                EXPECT_EQ(mode & 077, 0u) << p;
            else if (p.extension() == ".pem")
                EXPECT_EQ(mode & 0133, 0u) << p;  // a certificate: readable, never writable
            else
                EXPECT_EQ(mode, 0600u) << p;
            if (p.string().find("appendonly") != std::string::npos) saw_aof = true;
            if (p.filename() == "secrets.key" || p.filename() == "server.key") saw_key = true;
        }
        EXPECT_TRUE(saw_aof && saw_key) << files << " entries";
        if (pass == 0) {
            EXPECT_EQ(c.dispatcher().stop(), 0);
        }
    }
}

// A data directory left wide open by an older version is narrowed at start, with a warning.
TEST(DataAtRest, AWideDataDirectoryIsNarrowedAtStart) {
    cluster c(cluster::redis_mode::embedded);
    const auto dir = c.dispatcher().data_dir();
    fs::create_directories(dir / "appendonlydir");
    std::ofstream(dir / "appendonlydir" / "old.aof") << "";
    ::chmod(dir.c_str(), 0755);
    ::chmod((dir / "appendonlydir").c_str(), 0755);
    ::chmod((dir / "appendonlydir" / "old.aof").c_str(), 0644);
    ASSERT_TRUE(c.start()) << c.dispatcher().log_tail();
    EXPECT_EQ(mode_of(dir), 0700u);
    EXPECT_EQ(mode_of(dir / "appendonlydir"), 0700u);
    EXPECT_EQ(mode_of(dir / "appendonlydir" / "old.aof"), 0600u);
    const auto log = c.dispatcher().log_tail(200);
    EXPECT_NE(log.find("old.aof was mode 0644: narrowed to 0600"), std::string::npos) << log;
}

// `--admin-token VALUE` would show the token in ps: refused with a pointer to what replaces it.
TEST(DataAtRest, AdminTokenOnTheCommandLineIsRefused) {
    auto dir = fs::temp_directory_path() / ("anx-tok-" + std::to_string(getpid()));
    fs::create_directories(dir);
    child_process p;
    ASSERT_TRUE(p.spawn({ANXIN_DISPATCHER_BIN, "--data-dir", (dir / "d").string(), "--admin-token",
                         "visible-to-every-user"},
                        dir / "out.log"));
    EXPECT_EQ(p.wait(10s), 2);
    const auto out = read_all(dir / "out.log");
    EXPECT_NE(out.find("--admin-token is no longer accepted"), std::string::npos) << out;
    EXPECT_NE(out.find("--admin-token-file"), std::string::npos) << out;
    EXPECT_NE(out.find("ANXIN_ADMIN_TOKEN"), std::string::npos) << out;
    fs::remove_all(dir);
}

// With no token given, the dispatcher makes <data-dir>/admin-token, 0600, and it opens /api.
TEST(DataAtRest, GeneratedAdminTokenIsPrivateAndWorks) {
    auto dir = fs::temp_directory_path() / ("anx-gen-" + std::to_string(getpid()));
    fs::remove_all(dir);
    anxin::test::redis_server redis(dir / "redis");
    ASSERT_TRUE(redis.start());
    child_process p;
    auto http = anxin::test::free_port();
    ASSERT_TRUE(p.spawn({ANXIN_DISPATCHER_BIN, "--bind", "127.0.0.1", "--device-port", "0",
                         "--http-port", "0", "--plain-http-port", std::to_string(http),
                         "--data-dir", (dir / "d").string(), "--redis", redis.socket_path()},
                        dir / "out.log"));
    ASSERT_TRUE(eventually(
        [&] {
            return anxin::sim::http_request("127.0.0.1", http, "GET", "/healthz", "", "", 1s)
                       .status == 200;
        },
        20s))
        << read_all(dir / "out.log");
    const auto token_file = dir / "d" / "admin-token";
    EXPECT_EQ(mode_of(token_file), 0600u);
    std::string token;
    std::getline(std::ifstream(token_file), token);
    EXPECT_EQ(token.size(), 32u);
    EXPECT_EQ(
        anxin::sim::http_request("127.0.0.1", http, "GET", "/api/stations", "", token, 5s).status,
        200);
    EXPECT_EQ(
        anxin::sim::http_request("127.0.0.1", http, "GET", "/api/stations", "", "wrong", 5s).status,
        401);
    p.stop();
    redis.stop();
    fs::remove_all(dir);
}

// Provisioned secrets are stored encrypted: neither the keys and values in Redis nor its AOF
// hold one, and the devices still authenticate.
TEST(DataAtRest, NoDeviceSecretInTheStoreOrItsAofAndDevicesStillAuthenticate) {
    cluster c;
    ASSERT_TRUE(c.start()) << c.dispatcher().log_tail();
    ASSERT_TRUE(c.provision());
    auto dev = c.device("dev-1");
    ASSERT_TRUE(dev) << c.dispatcher().log_tail();
    ASSERT_TRUE(dev->send(make_alarm(1)));
    ASSERT_TRUE(wait_for(*dev, is_ack));
    auto stored = c.redis().hget("anx:device:dev-1", "secret");
    EXPECT_TRUE(stored.starts_with("v1:")) << stored;
    const auto dump = dump_store(c.redis());
    EXPECT_NE(dump.find("anx:device:dev-1"), std::string::npos);  // the dump did see devices
    std::string aof;
    for (auto& e : fs::recursive_directory_iterator(c.dir() / "redis"))
        if (e.path().string().find(".aof") != std::string::npos) aof += read_all(e.path());
    EXPECT_NE(aof.find("anx:device:dev-1"), std::string::npos);
    for (const char* d : {"dev-1", "dev-2", "dev-3"}) {
        EXPECT_EQ(dump.find(secret_of(d)), std::string::npos) << d;
        EXPECT_EQ(aof.find(secret_of(d)), std::string::npos) << d;
    }
    // Another device's sealed value copied onto dev-2 does not open for dev-2.
    freeReplyObject(
        redisCommand(c.redis().client(), "HSET anx:device:dev-2 secret %s", stored.c_str()));
    EXPECT_FALSE(c.device("dev-2"));
}

// A secret stored in plaintext by an older version keeps working, and is encrypted: at once
// when the device is looked up, and for every device by the pass at start.
TEST(DataAtRest, LegacyPlaintextSecretsStillAuthenticateAndAreEncrypted) {
    cluster c;
    ASSERT_TRUE(c.start()) << c.dispatcher().log_tail();
    ASSERT_TRUE(c.provision());
    for (const char* d : {"dev-1", "dev-2"})
        freeReplyObject(redisCommand(c.redis().client(), "HSET anx:device:%s secret %s", d,
                                     secret_of(d).c_str()));
    ASSERT_EQ(c.redis().hget("anx:device:dev-1", "secret"), secret_of("dev-1"));
    // On use.
    ASSERT_TRUE(c.device("dev-1")) << c.dispatcher().log_tail();
    EXPECT_TRUE(eventually(
        [&] { return c.redis().hget("anx:device:dev-1", "secret").starts_with("v1:"); }, 5s));
    ASSERT_TRUE(c.device("dev-1"));  // and authenticates from the sealed form
    // At start: dev-2 was never used.
    EXPECT_EQ(c.redis().hget("anx:device:dev-2", "secret"), secret_of("dev-2"));
    c.dispatcher().stop();
    ASSERT_TRUE(c.dispatcher().start()) << c.dispatcher().log_tail();
    EXPECT_TRUE(eventually(
        [&] { return c.redis().hget("anx:device:dev-2", "secret").starts_with("v1:"); }, 10s))
        << c.dispatcher().log_tail();
    EXPECT_NE(c.dispatcher().log_tail(200).find("encrypted 1 device secrets stored in plaintext"),
              std::string::npos);
    ASSERT_TRUE(c.device("dev-2"));
}

// Instances on one Redis share the key (the harness gives the second the first's key file); an
// instance with another key refuses the devices with one clear log line and a metric, and keeps
// running.
TEST(DataAtRest, AnInstanceWithAnotherKeyRefusesDevicesClearlyWithoutCrashing) {
    cluster c;
    ASSERT_TRUE(c.start()) << c.dispatcher().log_tail();
    ASSERT_TRUE(c.provision());
    auto* shared = c.add_dispatcher();
    ASSERT_TRUE(shared);
    EXPECT_TRUE(c.device_on(*shared, "dev-1")) << shared->log_tail();

    auto other_key = c.dir() / "other.key";
    std::ofstream(other_key) << std::string(64, 'a') << "\n";
    ::chmod(other_key.c_str(), 0600);
    // Like add_dispatcher(), but with a key of its own.
    anxin::test::dispatcher_process other(c.dir() / "dx", c.redis_uri(), c.admin_token());
    other.share_tls_with(c.dispatcher());
    ASSERT_TRUE(other.start({"--secrets-key-file", other_key.string()})) << other.log_tail();
    auto* wrong = &other;
    for (const char* d : {"dev-1", "dev-2", "dev-3", "dev-1"})
        EXPECT_FALSE(c.device_on(*wrong, d)) << d;
    EXPECT_TRUE(wrong->running());
    const auto log = wrong->log_tail(300);
    std::size_t lines = 0;
    for (auto at = log.find("wrong --secrets-key-file?"); at != std::string::npos;
         at = log.find("wrong --secrets-key-file?", at + 1))
        ++lines;
    EXPECT_EQ(lines, 1u) << log;  // one line for all four, not one each
    auto metrics = wrong->https("GET", "/metrics", "", c.admin_token());
    EXPECT_NE(metrics.body.find("anxin_device_secrets_unreadable_total 4"), std::string::npos)
        << metrics.body;
    // The right instance still serves them.
    EXPECT_TRUE(c.device("dev-2"));
}
