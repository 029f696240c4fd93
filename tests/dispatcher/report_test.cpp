// parse_time_bound: the from/to of GET /api/reports and /api/calls (docs/HTTP_API.md).

#include "anxin/dispatcher/report.hpp"

#include <gtest/gtest.h>

using anxin::dispatcher::parse_time_bound;

namespace {

TEST(ParseTimeBound, MillisecondsAndDates) {
    EXPECT_EQ(parse_time_bound("0"), 0);
    EXPECT_EQ(parse_time_bound("1795398029607"), 1795398029607);
    EXPECT_EQ(parse_time_bound("1970-01-02"), 86'400'000);
    EXPECT_EQ(parse_time_bound("2026-12-02"), 1796169600000);
}

TEST(ParseTimeBound, AnythingElseIsMinusOne) {
    for (const char* bad : {"", "-5", "12x", "2026-13-01", "2026-00-10", "2026-01-32", "2026/01/01",
                            "99999999999999999999"}) {
        EXPECT_EQ(parse_time_bound(bad), -1) << bad;
    }
}

// Found by tests/fuzz/http_request_fuzz: a date before 1970 came back as a negative time other
// than -1 (only time_range's ">= 0" kept it out of a query).
TEST(ParseTimeBound, DatesBefore1970AreBad) {
    EXPECT_EQ(parse_time_bound("1603-01-01"), -1);
    EXPECT_EQ(parse_time_bound("1969-12-31"), -1);
    EXPECT_EQ(parse_time_bound("0000-01-01"), -1);
    EXPECT_EQ(parse_time_bound("-999-01-01"), -1);
}

}  // namespace
