// The handshake gate: at a cap an OLD pending connection is shed (a trickler), a heavy address
// gives way to a light one, and when every pending handshake is young (real work queued) the
// newcomer is refused rather than wasting one half done.
#include "anxin/dispatcher/connection_gate.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace anxin::dispatcher {
namespace {

using namespace std::chrono_literals;
using clock_type = connection_gate::clock;
const clock_type::time_point t0{};

connection_gate::limits caps(std::size_t overall, std::size_t per_address) {
    return {overall, per_address, std::chrono::milliseconds(1000)};
}

TEST(ConnectionGate, AdmitsUnderTheCaps) {
    connection_gate g(caps(3, 2));
    EXPECT_TRUE(g.admit(1, "10.0.0.1", t0).admitted);
    EXPECT_EQ(g.admit(2, "10.0.0.2", t0).shed, 0u);
    EXPECT_EQ(g.pending(), 2u);
    EXPECT_TRUE(g.release(1));
    EXPECT_FALSE(g.release(1));  // twice is harmless
    EXPECT_FALSE(g.release(99));
    EXPECT_EQ(g.pending(), 1u);
    EXPECT_EQ(g.pending_from("10.0.0.1"), 0u);
}

TEST(ConnectionGate, AtTheCapAnOldPendingConnectionIsShed) {
    connection_gate g(caps(3, 10));
    g.admit(1, "a", t0);
    g.admit(2, "b", t0 + 10ms);
    g.admit(3, "c", t0 + 20ms);
    auto d = g.admit(4, "d", t0 + 1500ms);  // 1 has waited 1.5 s: a trickler
    EXPECT_TRUE(d.admitted);
    EXPECT_EQ(d.shed, 1u);
    EXPECT_EQ(g.pending(), 3u);
}

TEST(ConnectionGate, WhenEveryPendingHandshakeIsYoungTheNewcomerIsRefused) {
    // A surge of real handshakes the CPU is working through: none is old, so none is thrown away
    // half done; the newcomer retries later.
    connection_gate g(caps(3, 10));
    g.admit(1, "a", t0);
    g.admit(2, "b", t0);
    g.admit(3, "c", t0);
    auto d = g.admit(4, "d", t0 + 200ms);
    EXPECT_FALSE(d.admitted);
    EXPECT_EQ(d.shed, 0u);
    EXPECT_EQ(g.pending(), 3u);
    EXPECT_EQ(g.pending_from("d"), 0u);
}

TEST(ConnectionGate, PerAddressCapShedsThatAddresssOldest) {
    connection_gate g(caps(100, 2));
    g.admit(1, "flood", t0);
    g.admit(2, "device", t0);
    g.admit(3, "flood", t0);
    EXPECT_EQ(g.admit(4, "flood", t0 + 2s).shed, 1u);
    EXPECT_EQ(g.admit(5, "flood", t0 + 4s).shed, 3u);
    EXPECT_EQ(g.admit(6, "flood", t0 + 4s).shed, 4u);         // 4 is 2 s old
    EXPECT_FALSE(g.admit(7, "flood", t0 + 4100ms).admitted);  // 5 and 6 are young
    EXPECT_EQ(g.pending_from("flood"), 2u);
    EXPECT_EQ(g.pending_from("device"), 1u);
}

TEST(ConnectionGate, AHeavyAddressGivesWayToALightOneEvenWhenYoung) {
    connection_gate g(caps(4, 10));
    g.admit(1, "flood", t0);
    g.admit(2, "flood", t0);
    g.admit(3, "flood", t0);
    g.admit(4, "other", t0);
    auto d = g.admit(5, "device", t0 + 100ms);
    EXPECT_TRUE(d.admitted);
    EXPECT_EQ(d.shed, 1u);  // the flood's oldest, not "other"'s
    EXPECT_EQ(g.pending_from("flood"), 2u);
    EXPECT_EQ(g.pending_from("other"), 1u);
}

TEST(ConnectionGate, AFloodFromManyAddressesDoesNotLockOutARealDevice) {
    // 1,100 trickling connections from 50 addresses re-opened every second against a cap of 256;
    // a real device arrives at any moment: it is admitted (by age or by fairness) every time.
    connection_gate g(caps(256, 64));
    std::uint64_t id = 1;
    auto now = t0;
    for (int round = 0; round < 10; ++round) {
        for (int i = 0; i < 1100; ++i) g.admit(id++, "10.1.0." + std::to_string(i % 50), now);
        for (int at_ms : {0, 100, 500, 900}) {
            const auto device = id++;
            auto d = g.admit(device, "127.0.0.1", now + std::chrono::milliseconds(at_ms));
            EXPECT_TRUE(d.admitted) << "round " << round << " at " << at_ms << " ms";
            g.release(device);  // authenticated within milliseconds
        }
        now += 1s;
    }
    EXPECT_EQ(g.pending(), 255u);  // the flood, less the slot the last device took and gave back
}

TEST(PendingConnections, ShedsByCallingTheCloserAndCountsRefusals) {
    pending_connections p({2, 10, std::chrono::milliseconds(0)});
    std::vector<int> closed;
    auto a = p.admit("x", [&] { closed.push_back(1); });
    p.admit("y", [&] { closed.push_back(2); });
    p.admit("z", [&] { closed.push_back(3); });
    EXPECT_EQ(closed, std::vector<int>{1});
    EXPECT_EQ(p.shed(), 1u);
    p.release(a);  // the shed one closing later: ignored
    EXPECT_EQ(p.pending(), 2u);
}

TEST(PendingConnections, ShedAfterFollowsHowLongRealHandshakesTake) {
    pending_connections p({10, 10, std::chrono::milliseconds(1000)});
    auto id = p.admit("x", [] {});
    p.release(id, true);  // completed at once: shed_after goes to its floor
    EXPECT_EQ(p.shed_after(), std::chrono::milliseconds(250));
}

TEST(PendingConnections, ACloserThatReleasesItselfIsSafe) {
    pending_connections p({1, 10, std::chrono::milliseconds(0)});
    std::uint64_t first = 0;
    first = p.admit("x", [&] { p.release(first); });
    p.admit("y", [] {});
    EXPECT_EQ(p.pending(), 1u);
    EXPECT_EQ(p.shed(), 1u);
}

}  // namespace
}  // namespace anxin::dispatcher
