#pragma once
// Reads the calls received in [from_ms, to_ms) from the time index (anx:calls:by_time) a page at
// a time, oldest or newest first. Reports and searches walk it page by page: each page is one
// short Redis command, so the other commands pipelined on the same connection (routing, device
// acks) wait behind at most a page, never behind a whole district's history. A scan can stop and
// be resumed by a later request from its cursor (search paging).
//
// Threading: io thread; the redis_connection must outlive the scan.

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace anxin::dispatcher {

class redis_connection;

class call_scan {
  public:
    // cursor: from a previous scan's cursor() (same direction); empty: from the start.
    call_scan(redis_connection& redis, std::int64_t from_ms, std::int64_t to_ms, bool newest_first,
              const std::string& cursor = {});

    // False if the cursor given to the constructor was malformed.
    bool valid() const { return valid_; }
    // The next up to `n` call ids (fewer, possibly none, at the end). False: the store did not
    // answer (the scan can be retried from cursor()).
    boost::asio::awaitable<bool> next(std::size_t n, std::vector<std::string>& ids);
    bool done() const { return done_; }
    // Where the scan stands: "<score>.<skip>", or empty once it is done.
    std::string cursor() const;
    // A cursor that resumes right after the i-th id of the last page (a search that filled its
    // page part-way through a page of the index).
    std::string cursor_after(std::size_t i) const;

  private:
    redis_connection& redis_;
    std::int64_t from_ms_, to_ms_;
    bool newest_first_;
    bool valid_ = true;
    bool done_ = false;
    // Resume at this score (inclusive), skipping the first `skip_` calls that share it; before
    // the first page, at the range's open end.
    bool started_ = false;
    std::int64_t at_score_ = 0;
    std::size_t skip_ = 0;
    // The last page: each id's score, and where the scan stood before it.
    std::vector<std::int64_t> scores_;
    bool page_started_ = false;
    std::int64_t page_at_ = 0;
    std::size_t page_skip_ = 0;
};

}  // namespace anxin::dispatcher
