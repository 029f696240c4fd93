// The console WebSocket under bad input and races: garbage JSON, wrong passwords, requests before
// login, two operators taking the same call at the same instant.

#include "test_cluster.hpp"

#include <gtest/gtest.h>

#include <iostream>

using namespace std::chrono_literals;
namespace dv = anxin::device::v1;
namespace cv = anxin::console::v1;
using anxin::test::cluster;
using anxin::test::make_alarm;
using anxin::test::wait_for;

namespace {

class Console : public anxin::test::cluster_test {
  protected:
    void SetUp() override { start_cluster(); }
    std::unique_ptr<anxin::sim::console_link> connect() {
        auto link = std::make_unique<anxin::sim::console_link>(c->io);
        if (!link->connect("127.0.0.1", c->dispatcher().plain_http_port(), 5s)) return nullptr;
        return link;
    }
    // Presses on dev-1 and returns the call id once op-a1/op-a2 have it on offer.
    std::string press_and_offer(anxin::sim::console_link& a, anxin::sim::console_link& b) {
        auto dev = c->device("dev-1");
        if (!dev || !dev->send(make_alarm(1))) return {};
        auto ack = wait_for(*dev, [](const dv::ServerMessage& m) { return m.has_alarm_ack(); });
        if (!ack) return {};
        auto is_offer = [](const cv::ConsoleEvent& e) { return e.has_offer(); };
        if (!wait_for(a, is_offer) || !wait_for(b, is_offer)) return {};
        devices_.push_back(std::move(dev));
        return ack->alarm_ack().call_id();
    }
    std::vector<std::unique_ptr<anxin::sim::device_link>> devices_;
};

bool is_error(const cv::ConsoleEvent& e) {
    return e.has_error();
}

TEST_F(Console, GarbageJsonGetsAnErrorAndTheConsoleStaysConnected) {
    auto link = connect();
    ASSERT_TRUE(link);
    for (const char* junk :
         {"this is not json", "{\"login\": 42}", "{\"no_such_field\": {}}", "[1,2,3]", "{"}) {
        ASSERT_TRUE(link->send_text(junk));
        auto e = wait_for(*link, is_error);
        ASSERT_TRUE(e) << junk;
        EXPECT_EQ(e->error().code(), "bad_request") << junk;
    }
    cv::ConsoleRequest ping;
    ping.set_req("p");
    ping.mutable_ping();
    ASSERT_TRUE(link->send(ping));
    auto pong = wait_for(*link, [](const cv::ConsoleEvent& e) { return e.has_pong(); });
    ASSERT_TRUE(pong);
    EXPECT_EQ(pong->req(), "p");
    EXPECT_FALSE(link->closed());
}

TEST_F(Console, WrongPasswordAndUnknownOperatorGetTheSameAnswer) {
    auto link = connect();
    ASSERT_TRUE(link);
    auto r1 = link->login("op-a1", "wrong-password", 10s);
    ASSERT_TRUE(r1 && r1->has_error());
    EXPECT_EQ(r1->error().code(), "bad_credentials");
    auto r2 = link->login("op-nobody", "wrong-password", 10s);
    ASSERT_TRUE(r2 && r2->has_error());
    EXPECT_EQ(r2->error().code(), "bad_credentials");
    EXPECT_EQ(r1->error().message(), r2->error().message());
    // Still usable: the right password works on the same connection.
    auto ok = link->login("op-a1", anxin::test::operator_password, 10s);
    ASSERT_TRUE(ok && ok->has_login_ok());
    EXPECT_EQ(ok->login_ok().station_id(), "st-a");
    EXPECT_EQ(ok->login_ok().station_name(), "Zhongcang station");
}

TEST_F(Console, NothingButLoginAndPingBeforeLogin) {
    auto link = connect();
    ASSERT_TRUE(link);
    cv::ConsoleRequest accept;
    accept.mutable_accept()->set_call_id("C0000001");
    ASSERT_TRUE(link->send(accept));
    auto e = wait_for(*link, is_error);
    ASSERT_TRUE(e);
    EXPECT_EQ(e->error().code(), "not_logged_in");
}

TEST_F(Console, TwoOperatorsAcceptingAtTheSameInstantExactlyOneWins) {
    auto a1 = c->console("op-a1");
    auto a2 = c->console("op-a2");
    ASSERT_TRUE(a1 && a2);
    auto call = press_and_offer(*a1, *a2);
    ASSERT_FALSE(call.empty());
    cv::ConsoleRequest accept;
    accept.mutable_accept()->set_call_id(call);
    ASSERT_TRUE(a1->send(accept));
    ASSERT_TRUE(a2->send(accept));
    auto answer = [](const cv::ConsoleEvent& e) { return e.has_accepted() || e.has_error(); };
    auto r1 = wait_for(*a1, answer);
    auto r2 = wait_for(*a2, answer);
    ASSERT_TRUE(r1 && r2);
    EXPECT_NE(r1->has_accepted(), r2->has_accepted()) << r1->DebugString() << r2->DebugString();
    auto& loser = r1->has_accepted() ? r2 : r1;
    EXPECT_EQ(loser->error().code(), "already_taken");
    // Redis agrees: exactly one operator holds it.
    auto* r = static_cast<redisReply*>(
        redisCommand(c->redis().client(), "HGET anx:call:%s operator", call.c_str()));
    ASSERT_TRUE(r && r->type == REDIS_REPLY_STRING);
    EXPECT_EQ(std::string(r->str), r1->has_accepted() ? "op-a1" : "op-a2");
    freeReplyObject(r);
}

TEST_F(Console, CloseRulesAreEnforced) {
    auto a1 = c->console("op-a1");
    auto a2 = c->console("op-a2");
    ASSERT_TRUE(a1 && a2);
    auto call = press_and_offer(*a1, *a2);
    ASSERT_FALSE(call.empty());
    cv::ConsoleRequest close;
    close.mutable_close()->set_call_id(call);
    close.mutable_close()->set_outcome("resolved_by_phone");
    // Not accepted yet.
    ASSERT_TRUE(a1->send(close));
    auto e1 = wait_for(*a1, is_error);
    ASSERT_TRUE(e1);
    EXPECT_EQ(e1->error().code(), "bad_state");

    cv::ConsoleRequest accept;
    accept.mutable_accept()->set_call_id(call);
    ASSERT_TRUE(a1->send(accept));
    ASSERT_TRUE(wait_for(*a1, [](const cv::ConsoleEvent& e) { return e.has_accepted(); }));
    // Someone else's call.
    ASSERT_TRUE(a2->send(close));
    auto e2 = wait_for(*a2, is_error);
    ASSERT_TRUE(e2);
    EXPECT_EQ(e2->error().code(), "not_yours");
    // An outcome that does not exist.
    cv::ConsoleRequest bad = close;
    bad.mutable_close()->set_outcome("went_fishing");
    ASSERT_TRUE(a1->send(bad));
    auto e3 = wait_for(*a1, is_error);
    ASSERT_TRUE(e3);
    EXPECT_EQ(e3->error().code(), "bad_outcome");
    // A note, then a proper close.
    cv::ConsoleRequest note;
    note.mutable_add_note()->set_call_id(call);
    note.mutable_add_note()->set_text("Phoned back, no answer; neighbour has a key.");
    ASSERT_TRUE(a1->send(note));
    auto n = wait_for(*a1, [](const cv::ConsoleEvent& e) { return e.has_note_added(); });
    ASSERT_TRUE(n);
    EXPECT_EQ(n->note_added().note().operator_id(), "op-a1");
    ASSERT_TRUE(a1->send(close));
    EXPECT_TRUE(wait_for(*a1, [](const cv::ConsoleEvent& e) { return e.has_closed(); }));
    ASSERT_TRUE(a1->send(close));  // closing twice is refused, not repeated
    auto e4 = wait_for(*a1, is_error);
    ASSERT_TRUE(e4);
    EXPECT_EQ(e4->error().code(), "bad_state");
}

TEST_F(Console, ReconnectingOperatorGetsTheCallTheyHold) {
    std::string call;
    {
        auto a1 = c->console("op-a1");
        auto a2 = c->console("op-a2");
        ASSERT_TRUE(a1 && a2);
        call = press_and_offer(*a1, *a2);
        ASSERT_FALSE(call.empty());
        cv::ConsoleRequest accept;
        accept.mutable_accept()->set_call_id(call);
        ASSERT_TRUE(a1->send(accept));
        ASSERT_TRUE(wait_for(*a1, [](const cv::ConsoleEvent& e) { return e.has_accepted(); }));
    }
    auto again = c->console("op-a1");
    ASSERT_TRUE(again);
    auto held = wait_for(*again, [](const cv::ConsoleEvent& e) { return e.has_accepted(); });
    ASSERT_TRUE(held);
    EXPECT_EQ(held->accepted().call().id(), call);
    EXPECT_EQ(held->accepted().resident().name(), "Wang Guilan");
}

}  // namespace
