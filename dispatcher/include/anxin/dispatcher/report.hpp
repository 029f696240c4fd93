#pragma once
// Service-level reports over a date range, pure: the HTTP handler loads call summaries from
// Redis and these functions count them. "Answered" means a person took the call (accepted_ms),
// as the TEC quality framework counts it, not "the server received it".

#include <cstdint>
#include <string>
#include <vector>

namespace anxin::admin::v1 {
class Report;
}

namespace anxin::dispatcher {

struct call_summary {
    std::string id;
    std::string station_id;  // first station offered ("" if it went straight to the command centre)
    std::string alarm_type;
    int priority = 1;
    std::string state;
    std::string outcome;
    std::string operator_id;
    std::int64_t received_ms = 0;
    std::int64_t accepted_ms = 0;  // 0: never answered
    std::int64_t closed_ms = 0;
};

// Fills `out` (counts by station, type, priority, outcome; answer-time histogram; shares answered
// within 60 s and 180 s of all calls in the range; per-operator accepted/closed).
void build_report(const std::vector<call_summary>& calls, std::int64_t from_ms, std::int64_t to_ms,
                  anxin::admin::v1::Report& out);

// The same report as CSV: one "section,key,value" row per figure.
std::string report_csv(const anxin::admin::v1::Report& r);

// Parses a range bound: milliseconds since the epoch, or YYYY-MM-DD (UTC midnight). -1 if bad.
std::int64_t parse_time_bound(const std::string& s);

}  // namespace anxin::dispatcher
