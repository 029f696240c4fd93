// Tests for the pure parts of Sentinel support (dispatcher/src/sentinel.cpp): the replies of
// SENTINEL get-master-addr-by-name and ROLE, +switch-master messages, and RESP command framing.

#include "anxin/dispatcher/sentinel.hpp"

#include <gtest/gtest.h>

namespace anxin::dispatcher {
namespace {

redis_reply str(std::string s, redis_reply::kind k = redis_reply::kind::string) {
    redis_reply r;
    r.type = k;
    r.str = std::move(s);
    return r;
}

redis_reply array(std::vector<redis_reply> elements) {
    redis_reply r;
    r.type = redis_reply::kind::array;
    r.elements = std::move(elements);
    return r;
}

TEST(sentinel_master_addr, ip_and_port) {
    auto a = parse_master_addr(array({str("10.0.0.7"), str("6380")}));
    ASSERT_TRUE(a);
    EXPECT_EQ(a->host, "10.0.0.7");
    EXPECT_EQ(a->port, 6380);
    EXPECT_EQ(a->describe(), "10.0.0.7:6380");
}

TEST(sentinel_master_addr, nil_means_unknown_master) {
    EXPECT_FALSE(parse_master_addr(redis_reply{}));
}

TEST(sentinel_master_addr, malformed_replies_are_rejected) {
    EXPECT_FALSE(parse_master_addr(str("IDONTKNOW", redis_reply::kind::error)));
    EXPECT_FALSE(parse_master_addr(array({})));
    EXPECT_FALSE(parse_master_addr(array({str("10.0.0.7")})));
    EXPECT_FALSE(parse_master_addr(array({str(""), str("6380")})));
    EXPECT_FALSE(parse_master_addr(array({str("10.0.0.7"), str("0")})));
    EXPECT_FALSE(parse_master_addr(array({str("10.0.0.7"), str("70000")})));
    EXPECT_FALSE(parse_master_addr(array({str("10.0.0.7"), str("63x")})));
    EXPECT_FALSE(parse_master_addr(array({str("10.0.0.7"), str("6380"), str("extra")})));
}

TEST(sentinel_role, only_master_is_a_primary) {
    redis_reply offset;
    offset.type = redis_reply::kind::integer;
    offset.integer = 3129659;
    EXPECT_TRUE(is_master_role(array({str("master"), offset, array({})})));
    EXPECT_FALSE(
        is_master_role(array({str("slave"), str("127.0.0.1"), offset, str("connected"), offset})));
    EXPECT_FALSE(is_master_role(array({str("sentinel"), array({str("mymaster")})})));
    EXPECT_FALSE(is_master_role(array({})));
    EXPECT_FALSE(is_master_role(str("LOADING Redis is loading", redis_reply::kind::error)));
}

TEST(sentinel_switch_master, new_address_of_our_master) {
    auto a = parse_switch_master("mymaster 127.0.0.1 6380 127.0.0.1 6381", "mymaster");
    ASSERT_TRUE(a);
    EXPECT_EQ(*a, (redis_address{"127.0.0.1", 6381}));
}

TEST(sentinel_switch_master, other_masters_and_garbage_are_ignored) {
    EXPECT_FALSE(parse_switch_master("cache 127.0.0.1 6380 127.0.0.1 6381", "mymaster"));
    EXPECT_FALSE(parse_switch_master("mymaster2 127.0.0.1 6380 127.0.0.1 6381", "mymaster"));
    EXPECT_FALSE(parse_switch_master("mymaster 127.0.0.1 6380 127.0.0.1", "mymaster"));
    EXPECT_FALSE(parse_switch_master("mymaster 127.0.0.1 6380 127.0.0.1 x", "mymaster"));
    EXPECT_FALSE(parse_switch_master("", "mymaster"));
}

TEST(sentinel_format_command, bulk_strings_with_lengths) {
    EXPECT_EQ(format_command({"SENTINEL", "get-master-addr-by-name", "mymaster"}),
              "*3\r\n$8\r\nSENTINEL\r\n$23\r\nget-master-addr-by-name\r\n$8\r\nmymaster\r\n");
    EXPECT_EQ(format_command({"PING"}), "*1\r\n$4\r\nPING\r\n");
    EXPECT_EQ(format_command({"SET", "", std::string("a\r\nb", 4)}),
              "*3\r\n$3\r\nSET\r\n$0\r\n\r\n$4\r\na\r\nb\r\n");
}

}  // namespace
}  // namespace anxin::dispatcher
