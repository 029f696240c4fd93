#include "anxin/dispatcher/call_scan.hpp"
#include "anxin/dispatcher/redis_keys.hpp"

#include "anxin/dispatcher/redis_connection.hpp"

#include <charconv>

namespace anxin::dispatcher {

namespace {
bool parse_int(std::string_view s, auto& out) {
    if (s.empty()) return false;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && p == s.data() + s.size();
}
}  // namespace

call_scan::call_scan(redis_connection& redis, std::int64_t from_ms, std::int64_t to_ms,
                     bool newest_first, const std::string& cursor)
    : redis_(redis), from_ms_(from_ms), to_ms_(to_ms), newest_first_(newest_first) {
    if (cursor.empty()) return;
    const auto dot = cursor.find('.');
    std::string_view s(cursor);
    valid_ = dot != std::string::npos && cursor.size() <= 40 &&
             parse_int(s.substr(0, dot), at_score_) && parse_int(s.substr(dot + 1), skip_) &&
             at_score_ >= from_ms_ && at_score_ < to_ms_ && skip_ <= 1'000'000;
    started_ = valid_;
}

std::string call_scan::cursor() const {
    if (done_ || !started_) return {};
    return std::to_string(at_score_) + "." + std::to_string(skip_);
}

std::string call_scan::cursor_after(std::size_t i) const {
    if (i >= scores_.size()) return cursor();
    if (i + 1 == scores_.size()) {
        // The page's last id: where the scan stands now, unless the index ended there.
        if (done_) return {};
        return cursor();
    }
    const auto score = scores_[i];
    std::size_t same = 0;  // ids of this page up to i at that score (scores are ordered)
    for (std::size_t j = i + 1; j-- > 0 && scores_[j] == score;) ++same;
    const std::size_t skip = (page_started_ && score == page_at_) ? page_skip_ + same : same;
    return std::to_string(score) + "." + std::to_string(skip);
}

boost::asio::awaitable<bool> call_scan::next(std::size_t n, std::vector<std::string>& ids) {
    ids.clear();
    scores_.clear();
    if (done_ || !valid_ || n == 0) co_return valid_;
    // The open end of the range, or the score the last page stopped at (inclusive: calls received
    // in the same millisecond may straddle two pages; skip_ counts those already read).
    const std::string from = std::to_string(from_ms_), to = "(" + std::to_string(to_ms_);
    const std::string at = std::to_string(at_score_);
    std::vector<std::string> cmd =
        newest_first_
            ? redis_cmd("ZRANGE", keys::calls_by_time, started_ ? at : to, from, "BYSCORE", "REV",
                        "LIMIT", std::to_string(skip_), std::to_string(n), "WITHSCORES")
            : redis_cmd("ZRANGE", keys::calls_by_time, started_ ? at : from, to, "BYSCORE", "LIMIT",
                        std::to_string(skip_), std::to_string(n), "WITHSCORES");
    auto r = co_await redis_.exec(std::move(cmd));
    if (!r.ok()) co_return false;
    page_started_ = started_;
    page_at_ = at_score_;
    page_skip_ = skip_;
    const auto& e = r.reply.elements;
    for (std::size_t i = 0; i + 1 < e.size(); i += 2) {
        ids.push_back(e[i].str);
        std::int64_t score = 0;
        // Scores are whole milliseconds; Redis prints them without a fraction.
        if (!parse_int(std::string_view(e[i + 1].str), score))
            score = static_cast<std::int64_t>(std::strtod(e[i + 1].str.c_str(), nullptr));
        scores_.push_back(score);
    }
    if (ids.size() < n) {
        done_ = true;
        co_return true;
    }
    // Resume after the page's last id.
    const auto last = scores_.back();
    std::size_t same = 0;
    for (auto j = scores_.size(); j-- > 0 && scores_[j] == last;) ++same;
    skip_ = (started_ && last == at_score_) ? skip_ + same : same;
    at_score_ = last;
    started_ = true;
    co_return true;
}

}  // namespace anxin::dispatcher
