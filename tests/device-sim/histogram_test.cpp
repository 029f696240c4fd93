// latency_histogram: percentiles within 0.1% over microseconds to minutes.

#include "anxin/sim/histogram.hpp"

#include <gtest/gtest.h>

#include <random>

namespace anxin::sim {
namespace {

TEST(histogram, empty_is_zero) {
    latency_histogram h;
    EXPECT_EQ(h.count(), 0u);
    EXPECT_EQ(h.percentile(99), 0);
    EXPECT_EQ(h.max(), 0);
}

TEST(histogram, small_values_are_exact) {
    latency_histogram h;
    for (int v = 1; v <= 1000; ++v) h.record(v);
    EXPECT_EQ(h.count(), 1000u);
    EXPECT_EQ(h.min(), 1);
    EXPECT_EQ(h.max(), 1000);
    EXPECT_EQ(h.percentile(50), 500);
    EXPECT_EQ(h.percentile(99), 990);
    EXPECT_EQ(h.percentile(100), 1000);
    EXPECT_NEAR(h.mean(), 500.5, 1e-9);
}

TEST(histogram, large_values_keep_three_significant_digits) {
    latency_histogram h;
    std::mt19937_64 rng(7);
    std::vector<std::int64_t> values;
    std::uniform_int_distribution<std::int64_t> d(1, 600'000'000);  // up to 10 minutes
    for (int i = 0; i < 100000; ++i) values.push_back(d(rng));
    for (auto v : values) h.record(v);
    std::sort(values.begin(), values.end());
    for (double p : {50.0, 90.0, 99.0, 99.9}) {
        auto exact = values[static_cast<std::size_t>(std::ceil(p / 100 * values.size())) - 1];
        auto got = h.percentile(p);
        EXPECT_GE(got, exact) << p;  // the bucket's upper end
        EXPECT_LE(static_cast<double>(got - exact), exact * 0.001) << p;
    }
    EXPECT_EQ(h.max(), values.back());
}

TEST(histogram, merge_adds_counts) {
    latency_histogram a, b;
    for (int i = 0; i < 100; ++i) a.record(10);
    for (int i = 0; i < 100; ++i) b.record(5000);
    a.merge(b);
    EXPECT_EQ(a.count(), 200u);
    EXPECT_EQ(a.percentile(50), 10);
    EXPECT_GE(a.percentile(51), 5000);
    EXPECT_EQ(a.max(), 5000);
    EXPECT_EQ(a.min(), 10);
}

TEST(histogram, negative_values_count_as_zero) {
    latency_histogram h;
    h.record(-5);
    EXPECT_EQ(h.count(), 1u);
    EXPECT_EQ(h.max(), 0);
}

}  // namespace
}  // namespace anxin::sim
