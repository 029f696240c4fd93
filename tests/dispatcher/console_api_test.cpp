#include "anxin/dispatcher/console_api.hpp"

#include "admin.pb.h"

#include <gtest/gtest.h>

using namespace anxin::dispatcher;

TEST(ConsoleApi, OperatorState) {
    EXPECT_EQ(operator_state(1, 0, 1000), "on_call");
    EXPECT_EQ(operator_state(1, 5000, 1000), "on_call");
    EXPECT_EQ(operator_state(0, 5000, 1000), "wrap_up");
    EXPECT_EQ(operator_state(0, 1000, 1000), "idle");
    EXPECT_EQ(operator_state(0, 0, 1000), "idle");
}

TEST(ConsoleApi, CallMatchesEveryWordAnywhereIgnoringCase) {
    anxin::admin::v1::CallSummary c;
    c.set_id("C0000042");
    c.set_resident_name("Wang Guilan");
    c.set_station_name("中仓街道第1养老服务驿站");
    c.set_alarm_type("fall");
    c.set_operator_id("op-001-2");
    EXPECT_TRUE(call_matches(c, ""));
    EXPECT_TRUE(call_matches(c, "c0000042"));
    EXPECT_TRUE(call_matches(c, "wang  FALL"));
    EXPECT_TRUE(call_matches(c, "中仓"));
    EXPECT_TRUE(call_matches(c, "op-001"));
    EXPECT_FALSE(call_matches(c, "wang sos"));
    EXPECT_FALSE(call_matches(c, "宋庄"));
}

TEST(ConsoleApi, UrlDecode) {
    EXPECT_EQ(url_decode("wang+guilan"), "wang guilan");
    EXPECT_EQ(url_decode("%E4%B8%AD%e4%bb%93"), "中仓");
    EXPECT_EQ(url_decode("100%"), "100%");
    EXPECT_EQ(url_decode("%zz%4"), "%zz%4");
}
