// The chaos suite (ctest label "chaos"): while device-sim drives steady load against two
// dispatcher instances on one Redis and bot operators take and close calls, this breaks things on
// purpose: SIGKILLs of either instance (once of both at the same time), a Redis SIGKILL and
// restart from its AOF, a clean stop of one instance, and every operator console dropped
// periodically. At the end device-sim compares every ack it received with the calls in Redis.
// Acked, lost, duplicated, never offered: all but the first must be 0.

#include "../integration/test_cluster.hpp"

#include <gtest/gtest.h>

#include <csignal>
#include <functional>
#include <iostream>
#include <thread>

using namespace std::chrono_literals;
namespace fs = std::filesystem;
using anxin::test::child_process;
using anxin::test::cluster;
using anxin::test::dispatcher_process;
using anxin::test::json_number;
using anxin::test::last_json_line;
using anxin::test::tail;
using clock_type = std::chrono::steady_clock;

namespace {

TEST(Chaos, NoAckedAlarmIsLostWhateverFails) {
    cluster c;
    // Short tiers so that calls move on while their stations' bots are reconnecting.
    const std::vector<std::string> args = {"--tier-timeout", "5", "--missed-offers", "1000"};
    ASSERT_TRUE(c.start(args)) << c.dispatcher().log_tail();
    auto* b = c.add_dispatcher(args);
    ASSERT_TRUE(b);
    dispatcher_process& a = c.dispatcher();

    // A small district through the admin API, as an operator of the service would.
    const fs::path sim = c.dir() / "sim";
    {
        child_process provision;
        ASSERT_TRUE(provision.spawn({ANXIN_DEVICE_SIM_BIN,
                                     "provision",
                                     "--http-port",
                                     std::to_string(a.http_port()),
                                     "--ca-file",
                                     a.ca_file().string(),
                                     "--admin-token-file",
                                     c.admin_token_file().string(),
                                     "--stations",
                                     "12",
                                     "--residents",
                                     "400",
                                     "--operators-per-station",
                                     "2",
                                     "--supervisors",
                                     "2",
                                     "--password",
                                     "chaos-pass-1",
                                     "--out",
                                     sim.string()},
                                    c.dir() / "provision.log"));
        ASSERT_EQ(provision.wait(60s), 0) << tail(c.dir() / "provision.log", 20);
    }

    // Steady load for 100 s: 400 devices spread over both instances, 5 alarms/s, bots at every
    // station and one supervisor taking and closing calls, consoles dropped every 30 s.
    const std::string servers = "127.0.0.1:" + std::to_string(a.device_port()) +
                                ",127.0.0.1:" + std::to_string(b->device_port());
    const std::string consoles = "127.0.0.1:" + std::to_string(a.http_port()) +
                                 ",127.0.0.1:" + std::to_string(b->http_port());
    const fs::path load_log = c.dir() / "load.log";
    child_process load;
    ASSERT_TRUE(load.spawn({ANXIN_DEVICE_SIM_BIN,
                            "load",
                            "--devices-file",
                            (sim / "devices.csv").string(),
                            "--operators-file",
                            (sim / "operators.csv").string(),
                            "--devices",
                            "400",
                            "--servers",
                            servers,
                            "--consoles",
                            consoles,
                            "--source-ips",
                            "0",
                            "--ca-file",
                            a.ca_file().string(),
                            "--heartbeat",
                            "10",
                            "--alarm-rate",
                            "5",
                            "--duration",
                            "100",
                            "--types",
                            "sos,fall,medical,smoke,low_battery,tamper",
                            "--resend-ms",
                            "2000",
                            "--bots",
                            "20",
                            "--accept-delay",
                            "0.6",
                            "--close-delay",
                            "0.6",
                            "--drop-consoles",
                            "30",
                            "--redis",
                            c.redis_uri(),
                            "--settle",
                            "60",
                            "--json"},
                           load_log));

    // The faults, on a schedule from the start of the load.
    const auto t0 = clock_type::now();
    int dispatcher_kills = 0, redis_restarts = 0, clean_stops = 0;
    auto at = [&](double s) {
        std::this_thread::sleep_until(t0 + std::chrono::duration_cast<clock_type::duration>(
                                               std::chrono::duration<double>(s)));
        std::cout << "[ chaos ] t=" << s << " s: ";
    };
    auto restart = [&](dispatcher_process& d, const char* name) {
        ASSERT_TRUE(d.start(args)) << name << " did not come back\n" << d.log_tail();
        std::cout << "[ chaos ]   " << name << " running again" << std::endl;
    };
    at(12);
    std::cout << "SIGKILL instance A" << std::endl;
    a.kill9();
    ++dispatcher_kills;
    at(14);
    restart(a, "A");
    at(25);
    std::cout << "SIGKILL instance B" << std::endl;
    b->kill9();
    ++dispatcher_kills;
    at(26);
    restart(*b, "B");
    at(38);
    std::cout << "SIGKILL redis-server (AOF appendfsync always), restart in 2 s" << std::endl;
    c.redis().kill9();
    ++redis_restarts;
    at(40);
    ASSERT_TRUE(c.redis().start());
    at(50);
    std::cout << "clean stop of instance A (SIGTERM), back at t=70" << std::endl;
    ASSERT_EQ(a.stop(), 0);
    ++clean_stops;
    at(58);
    std::cout << "SIGKILL instance B while A is stopped: nobody serves for 2 s" << std::endl;
    b->kill9();
    ++dispatcher_kills;
    at(60);
    restart(*b, "B");
    at(70);
    restart(a, "A");
    at(82);
    std::cout << "SIGKILL both instances at once" << std::endl;
    a.kill9();
    b->kill9();
    dispatcher_kills += 2;
    at(84);
    restart(a, "A");
    restart(*b, "B");

    auto rc = load.wait(360s);
    const auto json = last_json_line(load_log);
    ASSERT_FALSE(json.empty()) << "device-sim printed no result\n" << tail(load_log, 40);
    const auto acked = json_number(json, "acked"), lost = json_number(json, "lost"),
               dup = json_number(json, "duplicated"), never = json_number(json, "never_offered"),
               unacked = json_number(json, "unacked"), presses = json_number(json, "presses"),
               created = json_number(json, "calls_created"), open = json_number(json, "calls_open"),
               drops = json_number(json, "console_drops");
    std::cout << "\n[ chaos ] faults injected: " << dispatcher_kills << " dispatcher SIGKILLs, "
              << redis_restarts << " Redis SIGKILL+restart, " << clean_stops << " clean stop, "
              << drops << " operator console drops\n"
              << "[ chaos ] presses " << presses << ", acked " << acked << ", lost " << lost
              << ", duplicated " << dup << ", never offered " << never << ", unacked " << unacked
              << " (calls created " << created << ", still open at the end " << open << ")\n"
              << "[ chaos ] " << json << std::endl;
    EXPECT_EQ(rc, std::optional<int>(0)) << tail(load_log, 40);
    EXPECT_GT(acked, 300);
    EXPECT_EQ(acked, presses);
    EXPECT_EQ(unacked, 0);
    EXPECT_EQ(lost, 0);
    EXPECT_EQ(dup, 0);
    EXPECT_EQ(never, 0);
    EXPECT_GT(drops, 0);
    if (HasFailure()) {
        std::cerr << "---- device-sim ----\n"
                  << tail(load_log, 40) << "---- instance A ----\n"
                  << a.log_tail(60) << "---- instance B ----\n"
                  << b->log_tail(60);
    }
}

}  // namespace
