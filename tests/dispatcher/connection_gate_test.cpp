// The handshake gate: at a cap the oldest pending connection is shed, never the newcomer.
#include "anxin/dispatcher/connection_gate.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace anxin::dispatcher {
namespace {

TEST(ConnectionGate, AdmitsUnderTheCaps) {
    connection_gate g({3, 2});
    EXPECT_EQ(g.admit(1, "10.0.0.1"), 0u);
    EXPECT_EQ(g.admit(2, "10.0.0.2"), 0u);
    EXPECT_EQ(g.pending(), 2u);
    g.release(1);
    g.release(1);  // twice is harmless
    g.release(99);
    EXPECT_EQ(g.pending(), 1u);
    EXPECT_EQ(g.pending_from("10.0.0.1"), 0u);
}

TEST(ConnectionGate, OverallCapShedsTheOldest) {
    connection_gate g({3, 10});
    g.admit(1, "a");
    g.admit(2, "b");
    g.admit(3, "c");
    EXPECT_EQ(g.admit(4, "d"), 1u);
    EXPECT_EQ(g.pending(), 3u);
    g.release(3);
    EXPECT_EQ(g.admit(5, "e"), 0u);
    EXPECT_EQ(g.admit(6, "f"), 2u);
}

TEST(ConnectionGate, PerAddressCapShedsThatAddresssOldest) {
    connection_gate g({100, 2});
    g.admit(1, "flood");
    g.admit(2, "device");
    g.admit(3, "flood");
    // The flooding address sheds its own oldest; the device's connection is untouched.
    EXPECT_EQ(g.admit(4, "flood"), 1u);
    EXPECT_EQ(g.admit(5, "flood"), 3u);
    EXPECT_EQ(g.pending_from("flood"), 2u);
    EXPECT_EQ(g.pending_from("device"), 1u);
}

TEST(ConnectionGate, AFloodNeverShedsAHandshakeThatCompletes) {
    // 10,000 trickling connections from many addresses against a cap of 100, with a real
    // device's connection admitted in the middle and released (authenticated) before 100 more
    // strangers arrive: it is never the one shed.
    connection_gate g({100, 8});
    std::uint64_t id = 1;
    for (int i = 0; i < 5000; ++i) g.admit(id++, "10.1." + std::to_string(i % 300));
    const auto device = id++;
    EXPECT_NE(g.admit(device, "10.9.9.9"), device);
    for (int i = 0; i < 50; ++i) EXPECT_NE(g.admit(id++, "10.2." + std::to_string(i)), device);
    g.release(device);
    for (int i = 0; i < 5000; ++i) g.admit(id++, "10.3." + std::to_string(i % 300));
    EXPECT_EQ(g.pending(), 100u);
}

TEST(PendingConnections, ShedsByCallingTheCloser) {
    pending_connections p({2, 10});
    std::vector<int> closed;
    auto a = p.admit("x", [&] { closed.push_back(1); });
    p.admit("y", [&] { closed.push_back(2); });
    p.admit("z", [&] { closed.push_back(3); });
    EXPECT_EQ(closed, std::vector<int>{1});
    EXPECT_EQ(p.shed(), 1u);
    p.release(a);  // the shed one closing later: ignored
    EXPECT_EQ(p.pending(), 2u);
}

TEST(PendingConnections, ACloserThatReleasesItselfIsSafe) {
    pending_connections p({1, 10});
    std::uint64_t first = 0;
    first = p.admit("x", [&] { p.release(first); });
    p.admit("y", [] {});
    EXPECT_EQ(p.pending(), 1u);
    EXPECT_EQ(p.shed(), 1u);
}

}  // namespace
}  // namespace anxin::dispatcher
