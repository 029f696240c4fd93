#pragma once
// A high-dynamic-range latency histogram in the spirit of HdrHistogram: values in microseconds,
// 3 significant digits (relative error below 0.1%) from 1 us to ~10 minutes, constant memory, O(1)
// record. Pure; not thread-safe.

#include <cstdint>
#include <vector>

namespace anxin::sim {

class latency_histogram {
  public:
    latency_histogram();
    void record(std::int64_t micros);  // negative values count as 0
    std::uint64_t count() const { return count_; }
    std::int64_t min() const { return count_ ? min_ : 0; }
    std::int64_t max() const { return max_; }
    double mean() const { return count_ ? double(sum_) / double(count_) : 0; }
    // The value at or below which `percentile` percent of the recorded values fall (0..100).
    std::int64_t percentile(double percentile) const;
    void merge(const latency_histogram& other);

  private:
    static std::size_t index_of(std::int64_t v);
    static std::int64_t value_of(std::size_t index);  // highest value of the bucket

    std::vector<std::uint64_t> counts_;
    std::uint64_t count_ = 0;
    std::int64_t min_ = 0;
    std::int64_t max_ = 0;
    long double sum_ = 0;
};

}  // namespace anxin::sim
