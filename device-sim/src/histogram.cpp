#include "anxin/sim/histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace anxin::sim {

namespace {
// 2048 sub-buckets per power of two: bucket width / value <= 1/1024 < 0.1%.
constexpr int sub_bits = 11;
constexpr std::int64_t sub_count = std::int64_t{1} << sub_bits;
constexpr int max_exponent = 40 - sub_bits;  // up to 2^40 us (12 days)
}  // namespace

latency_histogram::latency_histogram()
    : counts_(static_cast<std::size_t>((max_exponent + 1) * sub_count), 0) {}

std::size_t latency_histogram::index_of(std::int64_t v) {
    if (v < sub_count) return static_cast<std::size_t>(v);
    int bits = 64 - std::countl_zero(static_cast<std::uint64_t>(v));  // v < 2^bits
    int exponent = bits - sub_bits;                                   // >= 1
    if (exponent > max_exponent)
        return static_cast<std::size_t>((max_exponent + 1) * sub_count - 1);
    std::int64_t sub = v >> exponent;  // in [sub_count/2, sub_count)
    return static_cast<std::size_t>(exponent * sub_count + sub);
}

std::int64_t latency_histogram::value_of(std::size_t index) {
    std::int64_t exponent = static_cast<std::int64_t>(index) / sub_count;
    std::int64_t sub = static_cast<std::int64_t>(index) % sub_count;
    if (exponent == 0) return sub;
    return ((sub + 1) << exponent) - 1;
}

void latency_histogram::record(std::int64_t micros) {
    if (micros < 0) micros = 0;
    ++counts_[index_of(micros)];
    if (count_ == 0 || micros < min_) min_ = micros;
    max_ = std::max(max_, micros);
    ++count_;
    sum_ += micros;
}

std::int64_t latency_histogram::percentile(double p) const {
    if (count_ == 0) return 0;
    p = std::clamp(p, 0.0, 100.0);
    auto target = static_cast<std::uint64_t>(std::ceil(p / 100.0 * static_cast<double>(count_)));
    if (target == 0) target = 1;
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < counts_.size(); ++i) {
        seen += counts_[i];
        if (seen >= target) return std::min(value_of(i), max_);
    }
    return max_;
}

void latency_histogram::merge(const latency_histogram& o) {
    if (o.count_ == 0) return;
    for (std::size_t i = 0; i < counts_.size(); ++i) counts_[i] += o.counts_[i];
    if (count_ == 0 || o.min_ < min_) min_ = o.min_;
    max_ = std::max(max_, o.max_);
    count_ += o.count_;
    sum_ += o.sum_;
}

}  // namespace anxin::sim
