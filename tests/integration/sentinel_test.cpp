// Redis Sentinel with real processes: a primary, replicas and three sentinels (redis-server
// --sentinel), and a real dispatcher given only the sentinels. A device presses before, during
// and after a failover (planned, and the primary killed); every alarm it was acked for must be on
// the new primary, exactly once. And --redis-wait-replicas: nack without a replica, ack with one.

#include "test_cluster.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <sys/time.h>
#include <atomic>
#include <csignal>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <thread>

using namespace std::chrono_literals;
namespace fs = std::filesystem;
namespace dv = anxin::device::v1;
using anxin::test::child_process;
using anxin::test::dispatcher_process;
using anxin::test::free_port;
using anxin::test::make_alarm;
using anxin::test::secret_of;
using anxin::test::wait_for;

namespace {

// One blocking command on 127.0.0.1:port (short timeouts); the reply flattened to strings.
struct reply_view {
    bool ok = false;  // connected and got a non-error reply
    int type = 0;
    long long integer = 0;
    std::string str;
    std::vector<std::string> elements;
};

reply_view command(unsigned short port, const std::vector<std::string>& args) {
    reply_view out;
    timeval tv{1, 0};
    redisContext* c = redisConnectWithTimeout("127.0.0.1", port, tv);
    if (!c || c->err) {
        if (c) redisFree(c);
        return out;
    }
    redisSetTimeout(c, tv);
    std::vector<const char*> argv;
    std::vector<std::size_t> lens;
    for (const auto& a : args) {
        argv.push_back(a.data());
        lens.push_back(a.size());
    }
    auto* r = static_cast<redisReply*>(
        redisCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lens.data()));
    if (r) {
        out.type = r->type;
        out.ok = r->type != REDIS_REPLY_ERROR;
        out.integer = r->integer;
        if (r->str) out.str.assign(r->str, r->len);
        for (std::size_t i = 0; i < r->elements; ++i) {
            auto* e = r->element[i];
            out.elements.push_back(e->str ? std::string(e->str, e->len)
                                          : std::to_string(e->integer));
        }
        freeReplyObject(r);
    }
    redisFree(c);
    return out;
}

bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
    auto until = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < until) {
        if (pred()) return true;
        std::this_thread::sleep_for(50ms);
    }
    return pred();
}

// A fresh directory under /tmp for one test, removed at the end (kept with
// ANXIN_KEEP_TEST_DIRS=1), also when an assertion ends the test early.
struct scratch_dir {
    explicit scratch_dir(const std::string& prefix) {
        std::random_device rd;
        path = fs::temp_directory_path() /
               (prefix + std::to_string(getpid()) + "-" + std::to_string(rd() % 100000));
        fs::remove_all(path);
    }
    ~scratch_dir() {
        if (std::getenv("ANXIN_KEEP_TEST_DIRS") == nullptr) fs::remove_all(path);
    }
    fs::path path;
};

// A redis-server on a TCP port with anxin's durability settings, optionally a replica.
class redis_node {
  public:
    redis_node(fs::path dir) : dir_(std::move(dir)), port_(free_port()) {}
    bool start(unsigned short replica_of = 0) {
        fs::create_directories(dir_);
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
                                         "--repl-diskless-sync",
                                         "yes",
                                         "--repl-diskless-sync-delay",
                                         "0"};
        if (replica_of) {
            argv.push_back("--replicaof");
            argv.push_back("127.0.0.1 " + std::to_string(replica_of));
        }
        proc_.spawn(argv, dir_ / "redis.log");
        return eventually([&] { return command(port_, {"PING"}).str == "PONG"; }, 5s);
    }
    void kill9() { proc_.kill9(); }
    void signal(int sig) { proc_.signal(sig); }
    unsigned short port() const { return port_; }
    std::string role() {
        auto r = command(port_, {"ROLE"});
        return r.elements.empty() ? "down" : r.elements[0];
    }
    std::string hget(const std::string& key, const std::string& field) {
        return command(port_, {"HGET", key, field}).str;
    }
    // Replicas whose link is up, from INFO replication.
    int online_replicas() {
        auto info = command(port_, {"INFO", "replication"}).str;
        int n = 0;
        for (std::size_t at = info.find("state=online"); at != std::string::npos;
             at = info.find("state=online", at + 1))
            ++n;
        return n;
    }

  private:
    fs::path dir_;
    unsigned short port_;
    child_process proc_;
};

// A sentinel with its own (writable) config file.
class sentinel_node {
  public:
    sentinel_node(fs::path dir) : dir_(std::move(dir)), port_(free_port()) {}
    bool start(unsigned short primary) {
        fs::create_directories(dir_);
        auto conf = dir_ / "sentinel.conf";
        std::ofstream(conf) << "port " << port_ << "\nbind 127.0.0.1\ndir " << dir_.string()
                            << "\nsentinel monitor mymaster 127.0.0.1 " << primary << " 2\n"
                            << "sentinel down-after-milliseconds mymaster 1000\n"
                            << "sentinel failover-timeout mymaster 4000\n"
                            << "sentinel parallel-syncs mymaster 2\n";
        proc_.spawn({"redis-server", conf.string(), "--sentinel"}, dir_ / "sentinel.log");
        return eventually([&] { return command(port_, {"PING"}).str == "PONG"; }, 5s);
    }
    unsigned short port() const { return port_; }
    // The primary's port this sentinel names; 0 if none.
    int primary_port() {
        auto r = command(port_, {"SENTINEL", "get-master-addr-by-name", "mymaster"});
        return r.elements.size() == 2 ? std::stoi(r.elements[1]) : 0;
    }
    // Sees `replicas` replicas and the two other sentinels: ready to fail over.
    bool ready(int replicas) {
        auto r = command(port_, {"SENTINEL", "master", "mymaster"});
        std::map<std::string, std::string> f;
        for (std::size_t i = 0; i + 1 < r.elements.size(); i += 2)
            f[r.elements[i]] = r.elements[i + 1];
        return f["num-slaves"] == std::to_string(replicas) && f["num-other-sentinels"] == "2";
    }

  private:
    fs::path dir_;
    unsigned short port_;
    child_process proc_;
};

// A sentinel that names whatever port it is told to: a sentinel with a stale view. Serves
// get-master-addr-by-name and SUBSCRIBE (the subscription is confirmed and then kept silent).
class fake_sentinel {
  public:
    fake_sentinel()
        : acceptor_(io_,
                    boost::asio::ip::tcp::endpoint(boost::asio::ip::address_v4::loopback(), 0)),
          port_(acceptor_.local_endpoint().port()),
          thread_([this] { run(); }) {}
    ~fake_sentinel() {
        stop_ = true;
        boost::asio::ip::tcp::socket wake(io_);
        boost::system::error_code ec;
        wake.connect(acceptor_.local_endpoint(), ec);
        thread_.join();
    }
    unsigned short port() const { return port_; }
    std::atomic<int> names{0};
    std::atomic<int> asked{0};

  private:
    void run() {
        while (!stop_) {
            boost::asio::ip::tcp::socket s(io_);
            boost::system::error_code ec;
            acceptor_.accept(s, ec);
            if (ec || stop_) return;
            char buf[512];
            auto n = s.read_some(boost::asio::buffer(buf), ec);
            if (ec) continue;
            std::string req(buf, n);
            if (req.find("get-master-addr-by-name") != std::string::npos) {
                ++asked;
                auto port = std::to_string(names.load());
                std::string reply = "*2\r\n$9\r\n127.0.0.1\r\n$" + std::to_string(port.size()) +
                                    "\r\n" + port + "\r\n";
                boost::asio::write(s, boost::asio::buffer(reply), ec);
            } else if (req.find("SUBSCRIBE") != std::string::npos) {
                std::string reply = "*3\r\n$9\r\nsubscribe\r\n$14\r\n+switch-master\r\n:1\r\n";
                boost::asio::write(s, boost::asio::buffer(reply), ec);
                subscribers_.push_back(std::move(s));
            }
        }
    }
    boost::asio::io_context io_;
    boost::asio::ip::tcp::acceptor acceptor_;
    unsigned short port_;
    std::atomic<bool> stop_{false};
    std::vector<boost::asio::ip::tcp::socket> subscribers_;
    std::thread thread_;
};

// What the device was told about one alarm.
struct answer {
    bool acked = false;
    bool nacked = false;
    std::string call_id;
    bool duplicate = false;
    std::string detail;
};

answer press(anxin::sim::device_link& d, std::uint32_t seq, std::chrono::milliseconds timeout) {
    answer out;
    if (!d.send(make_alarm(seq))) return out;
    auto m = wait_for(
        d,
        [seq](const dv::ServerMessage& m) {
            return (m.has_alarm_ack() && m.alarm_ack().sequence() == seq) ||
                   (m.has_alarm_nack() && m.alarm_nack().sequence() == seq);
        },
        timeout);
    if (!m) return out;
    if (m->has_alarm_ack()) {
        out.acked = true;
        out.call_id = m->alarm_ack().call_id();
        out.duplicate = m->alarm_ack().duplicate();
    } else {
        out.nacked = true;
        out.detail = m->alarm_nack().detail();
    }
    return out;
}

// Presses like a device does: re-sends the same sequence after a nack (or silence) until acked.
answer press_until_acked(anxin::sim::device_link& d, std::uint32_t seq,
                         std::chrono::milliseconds timeout, int* nacks = nullptr) {
    auto until = std::chrono::steady_clock::now() + timeout;
    answer a;
    while (std::chrono::steady_clock::now() < until) {
        a = press(d, seq, 3s);
        if (a.acked) return a;
        if (a.nacked && nacks) ++*nacks;
        std::this_thread::sleep_for(200ms);  // the dispatcher says 1000 ms; be impatient
    }
    return a;
}

class SentinelFailover : public ::testing::Test {
  protected:
    // A primary, `replicas` replicas, three sentinels ready to fail over, and a dispatcher that
    // knows only the sentinels.
    void start_group(int replicas, const std::vector<std::string>& dispatcher_args) {
        std::random_device rd;
        dir_ = fs::temp_directory_path() /
               ("anx-sen-" + std::to_string(getpid()) + "-" + std::to_string(rd() % 100000));
        fs::remove_all(dir_);
        nodes_.push_back(std::make_unique<redis_node>(dir_ / "r0"));
        ASSERT_TRUE(nodes_[0]->start());
        for (int i = 1; i <= replicas; ++i) {
            nodes_.push_back(std::make_unique<redis_node>(dir_ / ("r" + std::to_string(i))));
            ASSERT_TRUE(nodes_.back()->start(nodes_[0]->port()));
        }
        ASSERT_TRUE(eventually([&] { return nodes_[0]->online_replicas() == replicas; }, 10s));
        std::string uri = "sentinel://";
        for (int i = 0; i < 3; ++i) {
            sentinels_.push_back(std::make_unique<sentinel_node>(dir_ / ("s" + std::to_string(i))));
            ASSERT_TRUE(sentinels_.back()->start(nodes_[0]->port()));
            uri += (i ? "," : "") + std::string("127.0.0.1:") +
                   std::to_string(sentinels_.back()->port());
        }
        uri += "/mymaster";
        // Sentinels find each other through hello messages every 2 s.
        ASSERT_TRUE(eventually(
            [&] {
                for (auto& s : sentinels_)
                    if (!s->ready(replicas)) return false;
                return true;
            },
            15s));
        dispatcher_ = std::make_unique<dispatcher_process>(dir_ / "d1", uri, token_);
        ASSERT_TRUE(dispatcher_->start(dispatcher_args)) << dispatcher_->log_tail();
        auto r =
            anxin::sim::http_request("127.0.0.1", dispatcher_->plain_http_port(), "POST",
                                     "/api/provision", anxin::test::district_json(), token_, 10s);
        ASSERT_EQ(r.status, 200) << r.body;
    }

    std::unique_ptr<anxin::sim::device_link> device(const std::string& id) {
        auto link = dispatcher_->open_device_link(io_);
        if (!link) return nullptr;
        auto w = link->handshake(id, secret_of(id), 5s);
        if (!w || !w->has_welcome()) return nullptr;
        return link;
    }

    redis_node* node_on(int port) {
        for (auto& n : nodes_)
            if (n->port() == port) return n.get();
        return nullptr;
    }

    // Presses new alarms (each until acked) while `during` runs the failover, until the
    // sentinels name a new primary and `after` more alarms were acked; then checks that the new
    // primary holds every acked alarm exactly once.
    void press_through_failover(const std::function<void()>& during, std::uint32_t burst = 10) {
        auto dev = device("dev-1");
        ASSERT_TRUE(dev);
        const int old_primary = nodes_[0]->port();
        std::map<std::uint32_t, std::string> acked;  // sequence -> call id
        std::uint32_t seq = 1;
        auto first = press_until_acked(*dev, seq, 5s);
        ASSERT_TRUE(first.acked) << first.detail;
        acked[seq++] = first.call_id;

        // A burst in flight while the failover starts: some are acked by the old primary just
        // before it goes, some are nacked or never answered and re-sent, like a device does.
        const std::uint32_t burst_from = seq;
        // Spaced 1 ms apart and the failover started halfway, so that they fall into several
        // WAIT batches on either side of it.
        std::thread sender([&] {
            for (std::uint32_t k = 0; k < burst; ++k) {
                dev->send(make_alarm(burst_from + k));
                std::this_thread::sleep_for(1ms);
            }
        });
        std::this_thread::sleep_for(std::chrono::milliseconds(burst / 2));
        during();
        sender.join();
        seq += burst;
        std::map<std::uint32_t, answer> answers;
        auto answered_by = std::chrono::steady_clock::now() + 8s;
        while (answers.size() < burst && std::chrono::steady_clock::now() < answered_by) {
            auto m = dev->receive(500ms);
            if (!m) continue;
            if (m->has_alarm_ack())
                answers[m->alarm_ack().sequence()] = {true, false, m->alarm_ack().call_id()};
            else if (m->has_alarm_nack())
                answers[m->alarm_nack().sequence()] = {false, true, ""};
        }
        int nacks = 0, after = 0, burst_acked = 0;
        for (std::uint32_t s = burst_from; s < burst_from + burst; ++s) {
            if (answers[s].acked) {
                ++burst_acked;
                acked[s] = answers[s].call_id;
                continue;
            }
            ++nacks;
            auto a = press_until_acked(*dev, s, 20s, &nacks);
            ASSERT_TRUE(a.acked) << "seq " << s << ": " << a.detail;
            acked[s] = a.call_id;
        }
        auto until = std::chrono::steady_clock::now() + 25s;
        while (after < 3 && std::chrono::steady_clock::now() < until) {
            auto a = press_until_acked(*dev, seq, 20s, &nacks);
            ASSERT_TRUE(a.acked) << "seq " << seq << ": " << a.detail;
            acked[seq++] = a.call_id;
            if (sentinels_[0]->primary_port() != old_primary) ++after;
            std::this_thread::sleep_for(100ms);
        }
        ASSERT_EQ(after, 3) << "the sentinels never named a new primary";
        const int new_primary = sentinels_[0]->primary_port();
        auto* primary = node_on(new_primary);
        ASSERT_TRUE(primary);
        EXPECT_EQ(primary->role(), "master");

        // Every acked alarm is on the new primary, as the call the device was told, and no
        // alarm became two calls.
        std::set<std::string> ids;
        for (const auto& [s, id] : acked) {
            EXPECT_EQ(primary->hget("anx:call:" + id, "seq"), std::to_string(s))
                << "call " << id << " (sequence " << s << ") missing on the new primary";
            EXPECT_EQ(primary->hget("anx:call:" + id, "device"), "dev-1");
            ids.insert(id);
        }
        EXPECT_EQ(ids.size(), acked.size());
        EXPECT_EQ(command(new_primary, {"GET", "anx:call:next"}).str, std::to_string(acked.size()));
        std::cerr << "[ sentinel ] " << acked.size() << " alarms acked (" << burst_acked << " of "
                  << burst << " in flight at the switch at once), " << nacks
                  << " nacks (re-sent); primary " << old_primary << " -> " << new_primary << "\n";

        // The dispatcher said which primary it follows now.
        auto log = dispatcher_->log_tail(400);
        EXPECT_NE(log.find("to 127.0.0.1:" + std::to_string(new_primary)), std::string::npos)
            << log;
    }

    // The crash window itself, made deterministic: the replicas are frozen (SIGSTOP) and the
    // primary drops its links to them, so nothing written from now on reaches them; a device
    // presses; the primary is killed the moment the device has its answer; the replicas resume
    // (well within down-after-milliseconds, so Sentinel may still promote one). Then, as a device
    // does, a nacked alarm is re-sent until acked.
    // Returns whether the first answer was an ack and whether that call is on the new primary.
    std::pair<bool, bool> crash_right_after_the_answer() {
        auto dev = device("dev-3");
        if (!dev) return {false, false};
        auto warm = press_until_acked(*dev, 1, 5s);  // connections up, scripts loaded
        if (!warm.acked) return {false, false};
        const int old_primary = nodes_[0]->port();
        for (std::size_t i = 1; i < nodes_.size(); ++i) nodes_[i]->signal(SIGSTOP);
        command(old_primary, {"CLIENT", "KILL", "TYPE", "replica"});
        auto first = press(*dev, 2, 3s);
        nodes_[0]->kill9();
        for (std::size_t i = 1; i < nodes_.size(); ++i) nodes_[i]->signal(SIGCONT);
        if (!eventually([&] { return sentinels_[0]->primary_port() != old_primary; }, 15s))
            return {first.acked, false};
        auto* primary = node_on(sentinels_[0]->primary_port());
        if (!first.acked) {
            auto again = press_until_acked(*dev, 2, 20s);
            EXPECT_TRUE(again.acked) << again.detail;
            EXPECT_EQ(primary->hget("anx:call:" + again.call_id, "seq"), "2");
            return {false, true};
        }
        return {true, primary->hget("anx:call:" + first.call_id, "seq") == "2"};
    }

    void TearDown() override {
        if (HasFailure() && dispatcher_)
            std::cerr << "---- dispatcher log ----\n" << dispatcher_->log_tail(150) << std::endl;
        if (dispatcher_) dispatcher_->stop();
        sentinels_.clear();
        nodes_.clear();
        if (!dir_.empty() && std::getenv("ANXIN_KEEP_TEST_DIRS") == nullptr) fs::remove_all(dir_);
    }

    boost::asio::io_context io_;
    fs::path dir_;
    std::string token_ = "test-admin-token-0123456789";
    std::vector<std::unique_ptr<redis_node>> nodes_;
    std::vector<std::unique_ptr<sentinel_node>> sentinels_;
    std::unique_ptr<dispatcher_process> dispatcher_;
};

// A planned switch (SENTINEL FAILOVER) with one replica. Sentinel promotes the replica without
// stopping the old primary; alarms the old primary stores after that have no replica to confirm
// them, so WAIT 1 nacks them and the device re-sends to the new primary. (With two replicas the
// other one would confirm them and then be resynchronised from the new primary, dropping them:
// see docs/RELIABILITY.md.) The new primary has no replica until Sentinel turns the old one into
// one, so acks resume only then (about 10 s).
TEST_F(SentinelFailover, PlannedFailoverIsFollowedAndNoAckedAlarmIsMissing) {
    start_group(1, {"--redis-wait-replicas", "1", "--redis-wait-timeout-ms", "200"});
    press_through_failover([&] {
        auto r = command(sentinels_[0]->port(), {"SENTINEL", "FAILOVER", "mymaster"});
        ASSERT_EQ(r.str, "OK");
    });
}

// The same with two replicas needs the old primary to stop taking writes before the switch,
// else the replica that is not promoted confirms alarms that are dropped when it resynchronises
// from the new primary. CLIENT PAUSE WRITE first (deploy/sentinel/run-local.sh failover does
// this): every alarm acked is then on both replicas, and acks resume as soon as the dispatcher
// follows, since the new primary keeps the other replica.
TEST_F(SentinelFailover, PlannedFailoverWithWritesPausedAndTwoReplicasLosesNothing) {
    start_group(2, {"--redis-wait-replicas", "1", "--redis-wait-timeout-ms", "200"});
    press_through_failover([&] {
        ASSERT_EQ(command(nodes_[0]->port(), {"CLIENT", "PAUSE", "5000", "WRITE"}).str, "OK");
        ASSERT_EQ(command(sentinels_[0]->port(), {"SENTINEL", "FAILOVER", "mymaster"}).str, "OK");
    });
}

// The primary dies (SIGKILL): the sentinels notice after down-after-milliseconds (1 s here) and
// promote the most up-to-date replica, which WAIT 1 guarantees holds every acked alarm.
TEST_F(SentinelFailover, PrimaryKilledIsFollowedAndNoAckedAlarmIsMissing) {
    start_group(2, {"--redis-wait-replicas", "1", "--redis-wait-timeout-ms", "200"});
    press_through_failover([&] { nodes_[0]->kill9(); }, 30);
}

// With WAIT 1 the alarm pressed while the replicas were cut off is nacked (no replica confirms it)
// and re-sent to the new primary: never acked and lost.
TEST_F(SentinelFailover, WithWaitAnAlarmAnsweredJustBeforeTheCrashIsNeverLost) {
    start_group(2, {"--redis-wait-replicas", "1", "--redis-wait-timeout-ms", "200"});
    auto [acked, present] = crash_right_after_the_answer();
    std::cerr << "[ sentinel ] the alarm pressed with the replicas cut off was "
              << (acked ? "acked (a replica had it)"
                        : "nacked, re-sent and acked by the new primary")
              << "\n";
    EXPECT_TRUE(present) << (acked ? "acked" : "nacked") << ", then missing on the new primary";
}

// The same without WAIT shows the loss window docs/RELIABILITY.md describes: the device was told
// "received", and the promoted replica never had the alarm.
TEST_F(SentinelFailover, WithoutWaitAnAlarmAckedJustBeforeTheCrashIsLost) {
    start_group(2, {});
    auto [acked, present] = crash_right_after_the_answer();
    ASSERT_TRUE(acked);
    EXPECT_FALSE(present) << "the promoted replica has an alarm it never received";
}

// Without WAIT a single replica suffices to follow a failover.
TEST_F(SentinelFailover, FollowsAFailoverWithoutWait) {
    start_group(1, {});
    auto dev = device("dev-2");
    ASSERT_TRUE(dev);
    auto before = press_until_acked(*dev, 1, 5s);
    ASSERT_TRUE(before.acked);
    // Let the replica have it before switching (no WAIT here).
    ASSERT_TRUE(eventually(
        [&] { return nodes_[1]->hget("anx:call:" + before.call_id, "seq") == "1"; }, 5s));
    ASSERT_EQ(command(sentinels_[1]->port(), {"SENTINEL", "FAILOVER", "mymaster"}).str, "OK");
    ASSERT_TRUE(
        eventually([&] { return sentinels_[0]->primary_port() == nodes_[1]->port(); }, 10s));
    auto after = press_until_acked(*dev, 2, 10s);
    ASSERT_TRUE(after.acked) << after.detail;
    EXPECT_EQ(nodes_[1]->hget("anx:call:" + after.call_id, "seq"), "2");
    EXPECT_EQ(nodes_[1]->hget("anx:call:" + before.call_id, "seq"), "1");
    EXPECT_EQ(nodes_[1]->role(), "master");
}

// A sentinel whose view is stale names a replica: the dispatcher checks ROLE, refuses it (the
// device is nacked, /healthz says degraded), keeps asking, and takes the primary once named.
TEST(SentinelRole, ANodeThatIsNotAPrimaryIsNeverUsed) {
    scratch_dir scratch("anx-role-");
    const auto& dir = scratch.path;
    redis_node primary(dir / "r0"), replica(dir / "r1");
    ASSERT_TRUE(primary.start());
    ASSERT_TRUE(replica.start(primary.port()));
    fake_sentinel sentinel;
    sentinel.names = primary.port();
    const std::string token = "test-admin-token-0123456789";
    dispatcher_process d(
        dir / "d1", "sentinel://127.0.0.1:" + std::to_string(sentinel.port()) + "/mymaster", token);
    ASSERT_TRUE(d.start()) << d.log_tail();
    auto r = anxin::sim::http_request("127.0.0.1", d.plain_http_port(), "POST", "/api/provision",
                                      anxin::test::district_json(), token, 10s);
    ASSERT_EQ(r.status, 200) << r.body;
    boost::asio::io_context io;
    anxin::sim::device_link dev(io);
    dev.use_tls(d.client_tls(), "localhost");
    ASSERT_TRUE(dev.connect("127.0.0.1", d.device_port(), 5s));
    auto w = dev.handshake("dev-1", secret_of("dev-1"), 5s);
    ASSERT_TRUE(w && w->has_welcome());
    ASSERT_TRUE(press(dev, 1, 5s).acked);

    // From now on the sentinel names the replica; drop the dispatcher's connections.
    sentinel.names = replica.port();
    command(primary.port(), {"CLIENT", "KILL", "TYPE", "normal"});
    EXPECT_TRUE(eventually(
        [&] {
            return anxin::sim::http_request("127.0.0.1", d.plain_http_port(), "GET", "/healthz", "",
                                            "", 2s)
                       .status == 503;
        },
        5s));
    auto refused = press(dev, 2, 5s);
    EXPECT_TRUE(refused.nacked);
    const auto refusal = "127.0.0.1:" + std::to_string(replica.port()) +
                         " named by sentinel 127.0.0.1:" + std::to_string(sentinel.port()) +
                         " is not a primary (ROLE: slave)";
    EXPECT_TRUE(eventually([&] { return d.log_tail(200).find(refusal) != std::string::npos; }, 5s))
        << d.log_tail(60);
    EXPECT_TRUE(press(dev, 2, 5s).nacked);  // still refused after the connections came back
    EXPECT_EQ(replica.hget("anx:call:C0000002", "seq"), "");

    sentinel.names = primary.port();
    auto again = press_until_acked(dev, 2, 10s);
    ASSERT_TRUE(again.acked) << again.detail;
    EXPECT_EQ(primary.hget("anx:call:" + again.call_id, "seq"), "2");
    EXPECT_GT(sentinel.asked.load(), 4);  // every connection asked again, with backoff
    if (::testing::Test::HasFailure()) std::cerr << d.log_tail(80);
    d.stop();
}

// --redis-wait-replicas 1 on a plain primary: nacked (but stored) while no replica is connected;
// the re-send is acked as the same call once a replica has synchronised.
TEST(RedisWaitReplicas, NacksWithoutAReplicaAndAcksTheSameCallOnceOneIsConnected) {
    scratch_dir scratch("anx-wait-");
    const auto& dir = scratch.path;
    redis_node primary(dir / "r0");
    ASSERT_TRUE(primary.start());
    dispatcher_process d(dir / "d1", "redis://127.0.0.1:" + std::to_string(primary.port()),
                         "test-admin-token-0123456789");
    // A generous timeout: a replica that just synchronised (and rewrites its AOF) on a busy
    // machine must not be mistaken for a missing one.
    ASSERT_TRUE(d.start({"--redis-wait-replicas", "1", "--redis-wait-timeout-ms", "1000"}))
        << d.log_tail();
    auto r =
        anxin::sim::http_request("127.0.0.1", d.plain_http_port(), "POST", "/api/provision",
                                 anxin::test::district_json(), "test-admin-token-0123456789", 10s);
    ASSERT_EQ(r.status, 200) << r.body;
    boost::asio::io_context io;
    anxin::sim::device_link dev(io);
    dev.use_tls(d.client_tls(), "localhost");
    ASSERT_TRUE(dev.connect("127.0.0.1", d.device_port(), 5s));
    auto w = dev.handshake("dev-1", secret_of("dev-1"), 5s);
    ASSERT_TRUE(w && w->has_welcome());

    auto t0 = std::chrono::steady_clock::now();
    auto nacked = press(dev, 7, 5s);
    auto nack_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
            .count();
    ASSERT_TRUE(nacked.nacked) << "acked without any replica";
    EXPECT_GE(nack_ms, 900);  // it did wait for the replicas
    // Stored all the same: the call exists and is routed.
    auto stored_as = command(primary.port(), {"GET", "anx:dedupe:dev-1:7"}).str;
    ASSERT_FALSE(stored_as.empty());
    EXPECT_EQ(primary.hget("anx:call:" + stored_as, "device"), "dev-1");

    redis_node replica(dir / "r1");
    ASSERT_TRUE(replica.start(primary.port()));
    ASSERT_TRUE(eventually([&] { return primary.online_replicas() == 1; }, 10s));

    auto again = press_until_acked(dev, 7, 10s);
    ASSERT_TRUE(again.acked) << again.detail;
    EXPECT_EQ(again.call_id, stored_as);
    EXPECT_TRUE(again.duplicate);
    auto fresh = press_until_acked(dev, 8, 10s);
    ASSERT_TRUE(fresh.acked) << fresh.detail;
    EXPECT_FALSE(fresh.duplicate);
    EXPECT_EQ(replica.hget("anx:call:" + fresh.call_id, "seq"), "8");  // WAIT: already there
    EXPECT_EQ(command(primary.port(), {"GET", "anx:call:next"}).str, "2");
    if (::testing::Test::HasFailure()) std::cerr << d.log_tail(80);
    d.stop();
}

}  // namespace
