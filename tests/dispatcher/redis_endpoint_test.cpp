// Tests for the --redis address syntax (redis_endpoint in
// dispatcher/include/anxin/dispatcher/redis_connection.hpp) and the small value helpers of
// redis_reply.hpp.

#include "anxin/dispatcher/redis_connection.hpp"
#include "anxin/dispatcher/redis_reply.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace anxin::dispatcher {
namespace {

TEST(redis_endpoint, redis_url_with_port) {
    redis_endpoint ep;
    ASSERT_TRUE(redis_endpoint::parse("redis://cache.internal:6380", ep));
    EXPECT_EQ(ep.host, "cache.internal");
    EXPECT_EQ(ep.port, 6380);
    EXPECT_TRUE(ep.unix_path.empty());
    EXPECT_EQ(ep.describe(), "cache.internal:6380");
}

TEST(redis_endpoint, credentials_in_the_url_go_to_auth_and_not_to_describe) {
    redis_endpoint ep;
    ASSERT_TRUE(redis_endpoint::parse("redis://anxin:p@ss:w0rd@cache.internal:6380", ep));
    EXPECT_EQ(ep.host, "cache.internal");
    EXPECT_EQ(ep.port, 6380);
    EXPECT_EQ(ep.auth.user, "anxin");
    EXPECT_EQ(ep.auth.password, "p@ss:w0rd");  // the last '@' ends the userinfo
    EXPECT_EQ(ep.auth.auth_command(), (std::vector<std::string>{"AUTH", "anxin", "p@ss:w0rd"}));
    EXPECT_EQ(ep.describe().find("w0rd"), std::string::npos);
    EXPECT_EQ(ep.auth.describe(), "user 'anxin'");

    redis_endpoint legacy;
    ASSERT_TRUE(redis_endpoint::parse("redis://:only-a-password@127.0.0.1", legacy));
    EXPECT_EQ(legacy.auth.user, "");
    EXPECT_EQ(legacy.auth.auth_command(), (std::vector<std::string>{"AUTH", "only-a-password"}));
    EXPECT_EQ(legacy.port, 6379);

    redis_endpoint none;
    ASSERT_TRUE(redis_endpoint::parse("redis://127.0.0.1:6379", none));
    EXPECT_TRUE(none.auth.empty());
    EXPECT_FALSE(redis_endpoint::parse("redis://anxin:@127.0.0.1", none));  // empty password
}

TEST(redis_endpoint, redis_url_without_port_uses_6379) {
    redis_endpoint ep;
    ASSERT_TRUE(redis_endpoint::parse("redis://10.0.0.5", ep));
    EXPECT_EQ(ep.host, "10.0.0.5");
    EXPECT_EQ(ep.port, 6379);
}

TEST(redis_endpoint, host_and_port) {
    redis_endpoint ep;
    ASSERT_TRUE(redis_endpoint::parse("host:1234", ep));
    EXPECT_EQ(ep.host, "host");
    EXPECT_EQ(ep.port, 1234);
    EXPECT_TRUE(ep.unix_path.empty());
    EXPECT_EQ(ep.describe(), "host:1234");
}

TEST(redis_endpoint, host_alone_uses_6379) {
    redis_endpoint ep;
    ep.port = 1;  // whatever was there before
    ASSERT_TRUE(redis_endpoint::parse("host", ep));
    EXPECT_EQ(ep.host, "host");
    EXPECT_EQ(ep.port, 6379);
    EXPECT_EQ(ep.describe(), "host:6379");
}

TEST(redis_endpoint, port_range_limits_are_accepted) {
    redis_endpoint ep;
    ASSERT_TRUE(redis_endpoint::parse("h:1", ep));
    EXPECT_EQ(ep.port, 1);
    ASSERT_TRUE(redis_endpoint::parse("h:65535", ep));
    EXPECT_EQ(ep.port, 65535);
}

TEST(redis_endpoint, unix_url) {
    redis_endpoint ep;
    ASSERT_TRUE(redis_endpoint::parse("unix:///tmp/x.sock", ep));
    EXPECT_EQ(ep.unix_path, "/tmp/x.sock");
    EXPECT_EQ(ep.describe(), "unix:/tmp/x.sock");
}

TEST(redis_endpoint, bare_absolute_path_is_a_unix_socket) {
    redis_endpoint ep;
    ASSERT_TRUE(redis_endpoint::parse("/tmp/x.sock", ep));
    EXPECT_EQ(ep.unix_path, "/tmp/x.sock");
    EXPECT_EQ(ep.describe(), "unix:/tmp/x.sock");
}

TEST(redis_endpoint, reparsing_switches_between_tcp_and_unix) {
    redis_endpoint ep;
    ASSERT_TRUE(redis_endpoint::parse("/tmp/x.sock", ep));
    ASSERT_TRUE(redis_endpoint::parse("host:1234", ep));
    EXPECT_TRUE(ep.unix_path.empty());
    EXPECT_EQ(ep.describe(), "host:1234");
    ASSERT_TRUE(redis_endpoint::parse("unix:///run/redis.sock", ep));
    EXPECT_EQ(ep.describe(), "unix:/run/redis.sock");
}

TEST(redis_endpoint, bad_ports_are_rejected) {
    for (const char* uri : {"h:0", "h:99999", "h:65536", "h:abc", "h:", "h:-1", "h:12x", "h: 80",
                            "redis://h:0", "redis://h:abc"}) {
        redis_endpoint ep;
        EXPECT_FALSE(redis_endpoint::parse(uri, ep)) << uri;
    }
}

TEST(redis_endpoint, missing_host_or_path_is_rejected) {
    for (const char* uri : {"", "redis://", ":6379", "redis://:6379", "unix://"}) {
        redis_endpoint ep;
        EXPECT_FALSE(redis_endpoint::parse(uri, ep)) << '"' << uri << '"';
    }
}

TEST(redis_endpoint, default_endpoint_describes_local_redis) {
    EXPECT_EQ(redis_endpoint{}.describe(), "127.0.0.1:6379");
}

TEST(redis_endpoint, sentinel_list_and_master_name) {
    redis_endpoint ep;
    ASSERT_TRUE(redis_endpoint::parse("sentinel://h1:26380,10.0.0.2:26381,h3/district", ep));
    EXPECT_TRUE(ep.via_sentinel());
    EXPECT_EQ(ep.master_name, "district");
    ASSERT_EQ(ep.sentinels.size(), 3u);
    EXPECT_EQ(ep.sentinels[0], (redis_address{"h1", 26380}));
    EXPECT_EQ(ep.sentinels[1], (redis_address{"10.0.0.2", 26381}));
    EXPECT_EQ(ep.sentinels[2], (redis_address{"h3", 26379}));  // the sentinel default port
    EXPECT_TRUE(ep.unix_path.empty());
    EXPECT_EQ(ep.describe(), "sentinel://h1:26380,10.0.0.2:26381,h3:26379/district");
}

TEST(redis_endpoint, one_sentinel_is_enough) {
    redis_endpoint ep;
    ASSERT_TRUE(redis_endpoint::parse("sentinel://127.0.0.1:26379/mymaster", ep));
    ASSERT_EQ(ep.sentinels.size(), 1u);
    EXPECT_EQ(ep.master_name, "mymaster");
}

TEST(redis_endpoint, bad_sentinel_uris_are_rejected) {
    for (const char* uri :
         {"sentinel://", "sentinel://h1:26379", "sentinel://h1:26379/", "sentinel:///mymaster",
          "sentinel://h1:26379,/mymaster", "sentinel://h1:0/mymaster", "sentinel://h1:x/m",
          "sentinel://h1:26379/a/b", "sentinel://h1:26379/my master"}) {
        redis_endpoint ep;
        EXPECT_FALSE(redis_endpoint::parse(uri, ep)) << uri;
    }
}

TEST(redis_endpoint, reparsing_a_plain_address_leaves_sentinel_mode) {
    redis_endpoint ep;
    ASSERT_TRUE(redis_endpoint::parse("sentinel://h1/mymaster", ep));
    ASSERT_TRUE(redis_endpoint::parse("host:1234", ep));
    EXPECT_FALSE(ep.via_sentinel());
    EXPECT_TRUE(ep.sentinels.empty());
    EXPECT_EQ(ep.describe(), "host:1234");
}

TEST(redis_cmd, builds_the_argument_list_in_order) {
    const std::string key = "anx:call:C0000042";
    std::string_view field = "state";
    const auto cmd = redis_cmd("HSET", key, field, std::string("offered"));
    EXPECT_EQ(cmd, (std::vector<std::string>{"HSET", "anx:call:C0000042", "state", "offered"}));
}

TEST(redis_cmd, keeps_empty_and_binary_arguments_intact) {
    const std::string binary("a\0b\r\n", 5);
    const auto cmd = redis_cmd("SET", "", binary);
    ASSERT_EQ(cmd.size(), 3u);
    EXPECT_EQ(cmd[1], "");
    EXPECT_EQ(cmd[2].size(), 5u);
    EXPECT_EQ(cmd[2], binary);
}

TEST(redis_cmd, no_arguments_is_empty) {
    EXPECT_TRUE(redis_cmd().empty());
}

TEST(redis_reply, as_string_and_as_int) {
    redis_reply integer;
    integer.type = redis_reply::kind::integer;
    integer.integer = -42;
    EXPECT_EQ(integer.as_string(), "-42");
    EXPECT_EQ(integer.as_int(), -42);

    redis_reply str;
    str.type = redis_reply::kind::string;
    str.str = "1763800000123";
    EXPECT_EQ(str.as_int(), 1763800000123);
    EXPECT_EQ(str.as_string(), "1763800000123");

    redis_reply nil;
    EXPECT_TRUE(nil.is_nil());
    EXPECT_EQ(nil.as_string(), "");
    EXPECT_EQ(nil.as_int(), 0);
}

TEST(redis_result, ok_only_when_redis_answered_without_error) {
    redis_result answered;
    answered.st = redis_result::status::ok;
    answered.reply.type = redis_reply::kind::status;
    answered.reply.str = "OK";
    EXPECT_TRUE(answered.ok());

    redis_result error_reply;
    error_reply.st = redis_result::status::ok;
    error_reply.reply.type = redis_reply::kind::error;
    error_reply.reply.str = "NOSCRIPT No matching script";
    EXPECT_FALSE(error_reply.ok());
    EXPECT_EQ(error_reply.error_text(), "NOSCRIPT No matching script");

    redis_result timed_out;
    timed_out.st = redis_result::status::timeout;
    timed_out.detail = "no reply within 3000 ms";
    EXPECT_FALSE(timed_out.ok());
    EXPECT_EQ(timed_out.error_text(), "no reply within 3000 ms");

    EXPECT_FALSE(redis_result{}.ok());  // default: unavailable
}

}  // namespace
}  // namespace anxin::dispatcher
