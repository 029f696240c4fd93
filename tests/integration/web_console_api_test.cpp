// What the web console relies on over HTTP: the page itself served from the dispatcher, session
// tokens from login_ok (never the admin token) authorising read-only API calls by role, logging in
// again with the token, and the overview and call search a supervisor's page shows.

#include "test_cluster.hpp"

#include "admin.pb.h"
#include "anxin/dispatcher/session_tokens.hpp"

#include <gtest/gtest.h>

#include <google/protobuf/util/json_util.h>

using namespace std::chrono_literals;
namespace dv = anxin::device::v1;
namespace cv = anxin::console::v1;
namespace adm = anxin::admin::v1;
using anxin::test::make_alarm;
using anxin::test::wait_for;

namespace {

class WebConsoleApi : public anxin::test::cluster_test {
  protected:
    void SetUp() override { start_cluster(); }

    // Logs op in on a fresh console connection; returns the login_ok's session token.
    std::string login(const std::string& op, std::unique_ptr<anxin::sim::console_link>& link) {
        link = std::make_unique<anxin::sim::console_link>(c->io);
        if (!link->connect("127.0.0.1", c->dispatcher().plain_http_port(), 5s)) return {};
        auto r = link->login(op, anxin::test::operator_password, 10s);
        if (!r || !r->has_login_ok()) return {};
        return r->login_ok().session_token();
    }
    anxin::sim::http_result get(const std::string& target, const std::string& token) {
        return anxin::sim::http_request("127.0.0.1", c->dispatcher().plain_http_port(), "GET",
                                        target, "", token);
    }
    template <class M>
    M parse(const std::string& json) {
        M m;
        EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(json, &m).ok()) << json;
        return m;
    }
};

TEST_F(WebConsoleApi, ServesTheConsolePageFromTheBinary) {
    auto index = c->http("GET", "/", "", false);
    ASSERT_EQ(index.status, 200);
    EXPECT_NE(index.body.find("<html"), std::string::npos);
    EXPECT_NE(index.body.find("app.js"), std::string::npos);
    EXPECT_EQ(c->http("GET", "/app.js", "", false).status, 200);
    EXPECT_EQ(c->http("GET", "/style.css", "", false).status, 200);
    EXPECT_EQ(c->http("GET", "/../../etc/passwd", "", false).status, 404);
    EXPECT_EQ(c->http("POST", "/index.html", "", false).status, 405);
}

TEST_F(WebConsoleApi, SessionTokensAuthoriseReadsByRoleAndNeverWrites) {
    std::unique_ptr<anxin::sim::console_link> sup, op;
    const std::string sup_token = login("sup-1", sup);
    const std::string op_token = login("op-a1", op);
    ASSERT_EQ(sup_token.size(), 32u);
    ASSERT_EQ(op_token.size(), 32u);
    EXPECT_NE(sup_token, op_token);
    EXPECT_NE(sup_token, c->admin_token());

    EXPECT_EQ(get("/api/overview", sup_token).status, 200);
    EXPECT_EQ(get("/api/reports", sup_token).status, 200);
    EXPECT_EQ(get("/api/calls", sup_token).status, 200);
    EXPECT_EQ(get("/api/stations", sup_token).status, 200);
    EXPECT_EQ(get("/api/stations", op_token).status, 200);
    EXPECT_EQ(get("/api/overview", op_token).status, 403);
    EXPECT_EQ(get("/api/reports", op_token).status, 403);
    EXPECT_EQ(get("/api/calls", op_token).status, 403);
    for (const auto& t : {sup_token, op_token}) {
        auto r = anxin::sim::http_request("127.0.0.1", c->dispatcher().plain_http_port(), "POST",
                                          "/api/provision", anxin::test::district_json(), t);
        EXPECT_EQ(r.status, 403) << r.body;
    }
    EXPECT_EQ(get("/api/overview", "0123456789abcdef0123456789abcdef").status, 401);
    EXPECT_EQ(get("/api/overview", "not-a-token").status, 401);
    EXPECT_EQ(c->http("GET", "/api/overview").status, 200);  // the admin token still works
    // Only a hash of the token is in Redis.
    EXPECT_EQ(c->redis().integer_command("EXISTS anx:session:" + sup_token), 0);
    EXPECT_EQ(c->redis().integer_command("EXISTS " + anxin::dispatcher::session_key(sup_token)), 1);
    // Valid for 12 h after its last use.
    auto ttl = c->redis().integer_command("TTL " + anxin::dispatcher::session_key(sup_token));
    EXPECT_GT(ttl, 12 * 3600 - 60);
    EXPECT_LE(ttl, 12 * 3600);
}

TEST_F(WebConsoleApi, TheTokenLogsInAgainUntilLogout) {
    std::unique_ptr<anxin::sim::console_link> first;
    const std::string token = login("op-a1", first);
    ASSERT_FALSE(token.empty());
    first->close();

    auto again = std::make_unique<anxin::sim::console_link>(c->io);
    ASSERT_TRUE(again->connect("127.0.0.1", c->dispatcher().plain_http_port(), 5s));
    cv::ConsoleRequest req;
    req.set_req("t");
    req.mutable_login()->set_session_token(token);
    ASSERT_TRUE(again->send(req));
    auto ok = wait_for(*again,
                       [](const cv::ConsoleEvent& e) { return e.has_login_ok() || e.has_error(); });
    ASSERT_TRUE(ok && ok->has_login_ok());
    EXPECT_EQ(ok->login_ok().operator_id(), "op-a1");
    EXPECT_EQ(ok->login_ok().session_token(), token);

    cv::ConsoleRequest out;
    out.mutable_logout();
    ASSERT_TRUE(again->send(out));
    ASSERT_TRUE(wait_for(*again, [](const cv::ConsoleEvent& e) { return e.has_logged_out(); }));
    EXPECT_EQ(get("/api/stations", token).status, 401);

    auto third = std::make_unique<anxin::sim::console_link>(c->io);
    ASSERT_TRUE(third->connect("127.0.0.1", c->dispatcher().plain_http_port(), 5s));
    ASSERT_TRUE(third->send(req));
    auto refused = wait_for(
        *third, [](const cv::ConsoleEvent& e) { return e.has_login_ok() || e.has_error(); });
    ASSERT_TRUE(refused && refused->has_error());
    EXPECT_EQ(refused->error().code(), "bad_credentials");
}

TEST_F(WebConsoleApi, OverviewAndSearchShowTheCallAndWhoHasIt) {
    std::unique_ptr<anxin::sim::console_link> sup, op;
    const std::string token = login("sup-1", sup);
    ASSERT_FALSE(login("op-a1", op).empty());
    auto dev = c->device("dev-1");
    ASSERT_TRUE(dev && dev->send(make_alarm(7, dv::FALL)));
    auto ack = wait_for(*dev, [](const dv::ServerMessage& m) { return m.has_alarm_ack(); });
    ASSERT_TRUE(ack);
    const std::string id = ack->alarm_ack().call_id();
    ASSERT_TRUE(wait_for(*op, [](const cv::ConsoleEvent& e) { return e.has_offer(); }));
    cv::ConsoleRequest acc;
    acc.mutable_accept()->set_call_id(id);
    ASSERT_TRUE(op->send(acc));
    ASSERT_TRUE(wait_for(*op, [](const cv::ConsoleEvent& e) { return e.has_accepted(); }));

    auto r = get("/api/overview", token);
    ASSERT_EQ(r.status, 200) << r.body;
    auto ov = parse<adm::Overview>(r.body);
    ASSERT_EQ(ov.stations_size(), 3);
    const auto& st_a = ov.stations(0);
    EXPECT_EQ(st_a.station().id(), "st-a");
    ASSERT_EQ(st_a.operators_size(), 2);
    EXPECT_EQ(st_a.operators(0).id(), "op-a1");
    EXPECT_EQ(st_a.operators(0).name(), "Liu Fang");
    EXPECT_TRUE(st_a.operators(0).present());
    EXPECT_EQ(st_a.operators(0).status(), "available");
    EXPECT_EQ(st_a.operators(0).state(), "on_call");
    EXPECT_FALSE(st_a.operators(1).present());
    ASSERT_EQ(st_a.open_call_ids_size(), 1);
    EXPECT_EQ(st_a.open_call_ids(0), id);
    ASSERT_EQ(ov.open_calls_size(), 1);
    EXPECT_EQ(ov.open_calls(0).alarm_type(), "fall");
    ASSERT_EQ(ov.supervisors_size(), 1);
    EXPECT_EQ(ov.supervisors(0).id(), "sup-1");
    EXPECT_TRUE(ov.supervisors(0).present());

    auto by_name = parse<adm::CallList>(get("/api/calls?q=wang+guilan", token).body);
    ASSERT_EQ(by_name.calls_size(), 1);
    EXPECT_EQ(by_name.calls(0).id(), id);
    EXPECT_EQ(by_name.calls(0).resident_name(), "Wang Guilan");
    EXPECT_EQ(by_name.calls(0).operator_id(), "op-a1");
    EXPECT_EQ(parse<adm::CallList>(get("/api/calls?q=Li%20Jianguo", token).body).calls_size(), 0);
    EXPECT_EQ(parse<adm::CallList>(get("/api/calls?q=fall%20op-a1", token).body).calls_size(), 1);
    EXPECT_EQ(parse<adm::CallList>(get("/api/calls?from=2020-01-01&to=2020-01-02", token).body)
                  .calls_size(),
              0);
    EXPECT_EQ(get("/api/calls?from=tomorrow", token).status, 400);
    EXPECT_EQ(get("/api/calls?limit=0", token).status, 400);
    // The call's record with its audit trail is readable with the same token.
    auto rec = get("/api/calls/" + id, token);
    ASSERT_EQ(rec.status, 200);
    EXPECT_NE(rec.body.find("\"accepted\""), std::string::npos);
}

// A surge: the overview lists at most 500 calls, the most urgent waiting first, and says how many
// there are; it does not read every open call.
TEST_F(WebConsoleApi, OverviewListsAtMost500CallsMostUrgentFirstWithTheTotals) {
    std::unique_ptr<anxin::sim::console_link> sup;
    const std::string token = login("sup-1", sup);
    ASSERT_FALSE(token.empty());
    auto dev = c->device("dev-1");
    ASSERT_TRUE(dev);
    std::uint32_t seq = 0;
    auto press = [&](dv::AlarmType type) {
        if (!dev->send(make_alarm(++seq, type))) return false;
        return wait_for(*dev, [](const dv::ServerMessage& m) { return m.has_alarm_ack(); })
            .has_value();
    };
    for (int i = 0; i < 560; ++i) ASSERT_TRUE(press(dv::LOW_BATTERY)) << i;
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(press(dv::SOS)) << i;
    auto r = get("/api/overview", token);
    ASSERT_EQ(r.status, 200) << r.body.substr(0, 300);
    auto ov = parse<adm::Overview>(r.body);
    EXPECT_EQ(ov.open_calls_total(), 565u);
    EXPECT_EQ(ov.waiting_calls_total(), 565u);
    ASSERT_EQ(ov.open_calls_size(), 500);
    for (int i = 0; i < 5; ++i) EXPECT_EQ(ov.open_calls(i).alarm_type(), "sos") << i;
    EXPECT_EQ(ov.open_calls(5).alarm_type(), "low_battery");
    for (int i = 6; i < ov.open_calls_size(); ++i)
        EXPECT_LE(ov.open_calls(i - 1).received_ms(), ov.open_calls(i).received_ms()) << i;
    std::printf("overview with 565 open calls: %zu bytes, %d calls listed\n", r.body.size(),
                ov.open_calls_size());
}

}  // namespace

namespace {

class WebConsoleMapTiles : public anxin::test::cluster_test {
  protected:
    void SetUp() override {
        start_cluster({"--map-tile-url", "http://tiles.example.internal/{z}/{x}/{y}.png"});
    }
};

TEST_F(WebConsoleMapTiles, TheOverviewTellsThePageWhereTilesAre) {
    auto r = c->http("GET", "/api/overview");
    ASSERT_EQ(r.status, 200);
    EXPECT_NE(r.body.find(R"("map_tile_url":"http://tiles.example.internal/{z}/{x}/{y}.png")"),
              std::string::npos)
        << r.body;
}

}  // namespace
