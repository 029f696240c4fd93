#include "anxin/dispatcher/login_limiter.hpp"

#include <gtest/gtest.h>

using namespace anxin::dispatcher;
using namespace std::chrono_literals;

namespace {
constexpr std::int64_t t0 = 1'800'000'000'000;
}

TEST(login_limiter, free_failures_then_a_doubling_lock) {
    login_limiter l;  // account_free 5, first_lock 1 s
    for (int i = 0; i < 5; ++i) {
        EXPECT_TRUE(l.check("op-a1", "10.0.0.9", t0 + i).allowed) << i;
        l.failed("op-a1", "10.0.0.9", false, t0 + i);
    }
    auto v = l.check("op-a1", "10.0.0.9", t0 + 5);
    EXPECT_FALSE(v.allowed);
    EXPECT_EQ(v.limit, "account");
    EXPECT_EQ(v.retry_after_ms, 1000 - 1);  // 1 s from the 5th failure (at t0 + 4)
    EXPECT_TRUE(l.check("op-a1", "10.0.0.9", t0 + 4 + 1000).allowed);
    l.failed("op-a1", "10.0.0.9", false, t0 + 2000);
    EXPECT_EQ(l.check("op-a1", "10.0.0.9", t0 + 2000).retry_after_ms, 2000);
    l.failed("op-a1", "10.0.0.9", false, t0 + 5000);
    EXPECT_EQ(l.check("op-a1", "10.0.0.9", t0 + 5000).retry_after_ms, 4000);
}

TEST(login_limiter, the_account_limit_counts_every_untrusted_source) {
    login_limiter l;
    // A guesser spreading over many addresses still hits the account's limit.
    for (int i = 0; i < 5; ++i) l.failed("op-a1", "10.0.0." + std::to_string(i), false, t0);
    EXPECT_FALSE(l.check("op-a1", "10.0.0.200", t0 + 1).allowed);
    EXPECT_TRUE(l.check("op-a2", "10.0.0.200", t0 + 1).allowed);  // other accounts are fine
}

TEST(login_limiter, guesses_elsewhere_never_lock_out_a_trusted_source) {
    login_limiter l;
    l.succeeded("op-a1", "192.168.1.20", t0);
    for (int i = 0; i < 200; ++i) l.failed("op-a1", "203.0.113.7", false, t0 + i);
    EXPECT_FALSE(l.check("op-a1", "203.0.113.7", t0 + 300).allowed);
    EXPECT_FALSE(l.check("op-a1", "198.51.100.1", t0 + 300).allowed);  // any new source
    auto at_station = l.check("op-a1", "192.168.1.20", t0 + 300);
    EXPECT_TRUE(at_station.allowed);
    EXPECT_TRUE(l.counts("op-a1", "192.168.1.20", t0 + 300).trusted);
}

TEST(login_limiter, a_trusted_source_has_its_own_short_limit) {
    login_limiter l;
    l.succeeded("op-a1", "192.168.1.20", t0);
    for (int i = 0; i < 30; ++i) l.failed("op-a1", "192.168.1.20", true, t0 + i);
    auto v = l.check("op-a1", "192.168.1.20", t0 + 30);
    EXPECT_FALSE(v.allowed);
    EXPECT_EQ(v.limit, "pair");
    EXPECT_LE(v.retry_after_ms, 60'000);  // max_pair_lock: back within a minute
    // The operator's typos do not lock the account for anyone else.
    EXPECT_TRUE(l.check("op-a1", "10.1.1.1", t0 + 30).allowed);
}

TEST(login_limiter, the_source_limit_stops_a_scanner_of_many_accounts) {
    login_limiter l;  // source_free 20
    for (int i = 0; i < 20; ++i) l.failed("op-" + std::to_string(i), "10.9.9.9", false, t0);
    auto v = l.check("op-new", "10.9.9.9", t0 + 1);
    EXPECT_FALSE(v.allowed);
    EXPECT_EQ(v.limit, "source");
    EXPECT_TRUE(l.check("op-new", "10.9.9.8", t0 + 1).allowed);
}

TEST(login_limiter, locks_are_capped_and_counters_forgotten) {
    login_limits lim;
    login_limiter l(lim);
    for (int i = 0; i < 60; ++i) l.failed("op-a1", "10.0.0.1", false, t0);
    EXPECT_EQ(l.check("op-a1", "10.0.0.1", t0).retry_after_ms, lim.max_lock.count());
    const auto later = t0 + lim.forget_after.count();
    EXPECT_TRUE(l.check("op-a1", "10.0.0.1", later).allowed);
    l.failed("op-a1", "10.0.0.1", false, later);
    EXPECT_EQ(l.counts("op-a1", "10.0.0.1", later).account.n, 1);
}

TEST(login_limiter, trust_expires) {
    login_limits lim;
    login_limiter l(lim);
    l.succeeded("op-a1", "10.0.0.1", t0);
    EXPECT_TRUE(l.counts("op-a1", "10.0.0.1", t0 + lim.trusted_for.count() - 1).trusted);
    EXPECT_FALSE(l.counts("op-a1", "10.0.0.1", t0 + lim.trusted_for.count()).trusted);
}

TEST(login_limiter, memory_is_bounded) {
    login_limiter l({}, 100);
    for (int i = 0; i < 1000; ++i) l.failed("op-" + std::to_string(i), "10.0.0.1", false, t0);
    EXPECT_LE(l.entries(), 100u);
    // Forgotten entries make room again.
    l.failed("op-x", "10.0.0.2", false, t0 + login_limits{}.forget_after.count() + 1);
    EXPECT_EQ(l.counts("op-x", "10.0.0.2", t0 + login_limits{}.forget_after.count() + 1).account.n,
              1);
}

TEST(login_limiter, merge_takes_the_larger_view) {
    login_counts a, b;
    a.account = {3, t0};
    b.account = {7, t0 - 5};
    b.trusted = true;
    auto m = merge(a, b);
    EXPECT_EQ(m.account.n, 7);
    EXPECT_EQ(m.account.last_ms, t0);
    EXPECT_TRUE(m.trusted);
}

TEST(login_limiter, sources_are_counted_per_address_or_ipv6_64) {
    EXPECT_EQ(source_key("192.0.2.1"), "192.0.2.1");
    EXPECT_EQ(source_key("::ffff:192.0.2.1"), "192.0.2.1");
    EXPECT_EQ(source_key("2001:db8:1:2:aaaa:bbbb:cccc:dddd"), "2001:db8:1:2::/64");
    EXPECT_EQ(source_key("2001:db8:1:2::1"), source_key("2001:db8:1:2:ffff::9"));
    EXPECT_EQ(source_key("?"), "?");
}
