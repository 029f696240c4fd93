// A surge with consoles watching: presses far faster than anyone can take them (an earthquake, a
// power cut), bot operators logged in at every station but never accepting, so every call is
// offered with its resident's card and stays waiting. The dispatcher must stay up and ack every
// press; device-sim then checks each ack against Redis. This is the load under which an iterator
// held across a Redis read crashed the dispatcher; the sanitizer build runs it too, and the
// harness fails the test on any sanitizer report in the dispatcher's log.

#include "test_cluster.hpp"

#include <gtest/gtest.h>

#include <iostream>

using namespace std::chrono_literals;
namespace fs = std::filesystem;
using anxin::test::child_process;
using anxin::test::json_number;
using anxin::test::last_json_line;
using anxin::test::tail;

namespace {

class Surge : public anxin::test::cluster_test {};

TEST_F(Surge, DispatcherStaysUpAndAcksEveryPressWithConsolesWatching) {
    start_cluster({}, false);
    auto& d = c->dispatcher();
    const fs::path sim = c->dir() / "sim";
    {
        child_process provision;
        ASSERT_TRUE(provision.spawn({ANXIN_DEVICE_SIM_BIN,
                                     "provision",
                                     "--http-port",
                                     std::to_string(d.http_port()),
                                     "--ca-file",
                                     d.ca_file().string(),
                                     "--admin-token-file",
                                     c->admin_token_file().string(),
                                     "--stations",
                                     "30",
                                     "--residents",
                                     "600",
                                     "--operators-per-station",
                                     "1",
                                     "--supervisors",
                                     "2",
                                     "--password",
                                     "surge-pass-1",
                                     "--out",
                                     sim.string()},
                                    c->dir() / "provision.log"));
        ASSERT_EQ(provision.wait(60s), 0) << tail(c->dir() / "provision.log", 20);
    }
    // Two waves back to back, as in the field report: 1,000/s, then 3,000/s, each 4 s. The
    // residents' cards are cached 10 s, so the second wave reads, expires and refills the cache
    // while earlier cards are still being built.
    const fs::path load_log = c->dir() / "load.log";
    for (const char* rate : {"1000", "3000"}) {
        child_process load;
        ASSERT_TRUE(load.spawn({ANXIN_DEVICE_SIM_BIN,
                                "load",
                                "--devices-file",
                                (sim / "devices.csv").string(),
                                "--operators-file",
                                (sim / "operators.csv").string(),
                                "--devices",
                                "600",
                                "--servers",
                                "127.0.0.1:" + std::to_string(d.device_port()),
                                "--consoles",
                                "127.0.0.1:" + std::to_string(d.http_port()),
                                "--source-ips",
                                "0",
                                "--ca-file",
                                d.ca_file().string(),
                                "--alarm-rate",
                                rate,
                                "--duration",
                                "4",
                                "--types",
                                "sos",
                                "--bots",
                                "30",
                                "--never-accept",
                                "--redis",
                                c->redis_uri(),
                                "--settle",
                                "60",
                                "--json"},
                               load_log));
        auto rc = load.wait(240s);
        const auto json = last_json_line(load_log);
        ASSERT_FALSE(json.empty()) << "device-sim printed no result\n" << tail(load_log, 40);
        const auto presses = json_number(json, "presses"), acked = json_number(json, "acked"),
                   unacked = json_number(json, "unacked"), lost = json_number(json, "lost"),
                   dup = json_number(json, "duplicated"), offers = json_number(json, "offers_seen"),
                   never = json_number(json, "never_offered");
        std::cout << "[ figure ] surge at " << rate << "/s for 4 s: presses " << presses
                  << ", acked " << acked << ", unacked " << unacked << ", lost " << lost
                  << ", duplicated " << dup << ", never offered " << never
                  << ", offers seen by the consoles " << offers << std::endl;
        EXPECT_TRUE(d.running()) << "the dispatcher died in the surge";
        EXPECT_EQ(rc, std::optional<int>(0)) << tail(load_log, 40);
        EXPECT_GT(presses, 1000);
        EXPECT_EQ(acked, presses);
        EXPECT_EQ(unacked, 0);
        EXPECT_EQ(lost, 0);
        EXPECT_EQ(dup, 0);
        EXPECT_EQ(never, 0);
        EXPECT_GT(offers, 0) << "the consoles saw no offers: they were not watching";
        if (HasFailure()) break;
    }
}

}  // namespace
