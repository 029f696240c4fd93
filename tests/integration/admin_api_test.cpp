// The HTTP side: admin API authentication and validation, /healthz, /metrics.

#include "test_cluster.hpp"

#include <gtest/gtest.h>

#include <iostream>

using anxin::test::cluster;

namespace {

class AdminApi : public anxin::test::cluster_test {
  protected:
    void SetUp() override { start_cluster({}, /*provision=*/false); }
};

TEST_F(AdminApi, RequiresTheBearerToken) {
    EXPECT_EQ(c->http("POST", "/api/provision", anxin::test::district_json(), false).status, 401);
    auto r = anxin::sim::http_request("127.0.0.1", c->dispatcher().plain_http_port(), "GET",
                                      "/api/stations", "", "nope");
    EXPECT_EQ(r.status, 401);
    EXPECT_NE(r.body.find("unauthorized"), std::string::npos);
    EXPECT_EQ(c->redis().integer_command("SCARD anx:stations"), 0);
}

TEST_F(AdminApi, ProvisionsAndListsStations) {
    auto r = c->http("POST", "/api/provision", anxin::test::district_json());
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_NE(r.body.find("\"devices\":3"), std::string::npos) << r.body;
    auto list = c->http("GET", "/api/stations");
    ASSERT_EQ(list.status, 200);
    EXPECT_NE(list.body.find("Zhongcang station"), std::string::npos);
    EXPECT_NE(list.body.find("Songzhuang station"), std::string::npos);
    // Passwords and device secrets are never stored in clear.
    auto* rep = static_cast<redisReply*>(
        redisCommand(c->redis().client(), "HGET anx:operator:op-a1 pwhash"));
    ASSERT_TRUE(rep && rep->type == REDIS_REPLY_STRING);
    std::string hash(rep->str, rep->len);
    freeReplyObject(rep);
    EXPECT_EQ(hash.rfind("pbkdf2-sha256$", 0), 0u);
    EXPECT_EQ(hash.find(anxin::test::operator_password), std::string::npos);
    // Provisioning again is an upsert, not an error.
    EXPECT_EQ(c->http("POST", "/api/provision", anxin::test::district_json()).status, 200);
}

TEST_F(AdminApi, RejectsGarbageAndInvalidEntitiesWithoutWritingAnything) {
    auto g = c->http("POST", "/api/provision", "{not json");
    EXPECT_EQ(g.status, 400);
    EXPECT_NE(g.body.find("bad_json"), std::string::npos);
    auto bad_loc = c->http("POST", "/api/provision",
                           R"({"stations":[{"id":"ok-1","name":"A","lat":39.9,"lon":116.6},)"
                           R"({"id":"bad","name":"B","lat":123,"lon":116.6}]})");
    EXPECT_EQ(bad_loc.status, 422);
    EXPECT_NE(bad_loc.body.find("bad"), std::string::npos);
    auto short_secret = c->http(
        "POST", "/api/provision",
        R"({"residents":[{"id":"r","name":"R","lat":39.9,"lon":116.6,"devices":[{"id":"d","secret":"short"}]}]})");
    EXPECT_EQ(short_secret.status, 422);
    auto unknown_station = c->http(
        "POST", "/api/provision",
        R"({"operators":[{"id":"o","name":"O","station_id":"nowhere","password":"longenough"}]})");
    EXPECT_EQ(unknown_station.status, 422);
    auto bad_id = c->http("POST", "/api/provision",
                          R"({"stations":[{"id":"has space","name":"A","lat":39.9,"lon":116.6}]})");
    EXPECT_EQ(bad_id.status, 422);
    EXPECT_EQ(c->redis().integer_command("SCARD anx:stations"), 0);
    EXPECT_EQ(c->redis().integer_command("DBSIZE"), 0);
}

TEST_F(AdminApi, UnknownPathsAndCallsAre404) {
    EXPECT_EQ(c->http("GET", "/api/calls/C9999999").status, 404);
    EXPECT_EQ(c->http("GET", "/api/calls/..%2F..").status, 400);
    EXPECT_EQ(c->http("GET", "/nothing-here", "", false).status, 404);
    EXPECT_EQ(c->http("DELETE", "/api/stations").status, 405);
}

TEST_F(AdminApi, HealthAndMetrics) {
    auto h = c->http("GET", "/healthz", "", false);
    EXPECT_EQ(h.status, 200);
    EXPECT_NE(h.body.find("\"redis\":\"up\""), std::string::npos);
    // /metrics needs a token (the admin token here; a metrics-only token in https_test.cpp).
    EXPECT_EQ(c->http("GET", "/metrics", "", false).status, 401);
    auto m = c->http("GET", "/metrics");
    ASSERT_EQ(m.status, 200);
    for (const char* name :
         {"anxin_device_connections", "anxin_console_connections", "anxin_alarms_received_total",
          "anxin_alarms_acked_total", "anxin_alarms_nacked_total", "anxin_redis_rtt_seconds",
          "anxin_redis_up 1", "# TYPE anxin_calls gauge"}) {
        EXPECT_NE(m.body.find(name), std::string::npos) << name;
    }
}

}  // namespace
