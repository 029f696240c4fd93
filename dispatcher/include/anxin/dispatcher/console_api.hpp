#pragma once
// The read-only HTTP API behind the web console (docs/HTTP_API.md): the district overview for the
// command centre and the search of past calls. http_session authorises and routes; these gather
// from Redis. The pure parts (operator state, query matching) are free functions for the tests.
//
// Threading: io thread only. Each returns false when Redis could not be asked (the handler answers
// 503); a partial answer is never passed off as a whole one.

#include "anxin/dispatcher/server_context.hpp"

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace anxin::admin::v1 {
class Overview;
class CallList;
class CallSummary;
}  // namespace anxin::admin::v1

namespace anxin::dispatcher {

// Open calls an overview lists at most (Overview.open_calls_total says how many there are).
inline constexpr std::size_t overview_call_limit = 500;

// Stations with their operators' status and state, supervisors, and the open calls: the most
// urgent waiting ones first, at most overview_call_limit.
boost::asio::awaitable<bool> build_overview(server_context& ctx, anxin::admin::v1::Overview& out);

// Calls received in [from_ms, to_ms) matching q (see call_matches), newest first, at most limit,
// looking at no more than 20,000 calls per request; out.next_cursor (empty: the range is done)
// continues the search in a later request with the same from/to/q. `cursor` is one of those.
enum class search_status { ok, unavailable, bad_cursor };
boost::asio::awaitable<search_status> search_calls(server_context& ctx, std::int64_t from_ms,
                                                   std::int64_t to_ms, const std::string& q,
                                                   std::size_t limit, const std::string& cursor,
                                                   anxin::admin::v1::CallList& out);

// idle, on_call (holds a call) or wrap_up (closed one less than the wrap-up time ago).
std::string operator_state(std::int64_t active_calls, std::int64_t wrap_until_ms,
                           std::int64_t now_ms);

// q is matched, case-insensitively, as a substring of the call id, resident id and name, device,
// station id and name, operator, type, state and outcome; every space-separated word must match.
bool call_matches(const anxin::admin::v1::CallSummary& c, std::string_view q);

// %XX and '+' decoded (query-string values); malformed escapes are kept as they are.
std::string url_decode(std::string_view s);

}  // namespace anxin::dispatcher
