// Tests for the pure call-handling rules
// (dispatcher/include/anxin/dispatcher/call_policy.hpp): priorities, offer order, operator
// states, who is offered what, escalation, device supervision. Every function takes `now`, so
// time here is a number that the test moves; nothing sleeps.

#include "anxin/dispatcher/call_policy.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace anxin::dispatcher {
namespace {

using strategy = routing_config::strategy;
using step_kind = escalation_step::kind;
using plan_t = std::map<std::string, std::set<std::string>>;

// 2023-11-14 22:13:20 UTC: a realistic epoch value, so nothing works only because times are small.
constexpr std::int64_t t0 = 1'700'000'000'000;
constexpr std::int64_t s = 1000;  // one second in ms

operator_snapshot idle_operator(std::string id, std::string station, std::int64_t idle_since) {
    operator_snapshot op;
    op.id = std::move(id);
    op.station_id = std::move(station);
    op.online = true;
    op.status = operator_status::available;
    op.idle_since_ms = idle_since;
    return op;
}

operator_snapshot supervisor(std::string id, std::int64_t idle_since) {
    auto op = idle_operator(std::move(id), "command", idle_since);
    op.supervisor = true;
    return op;
}

call_snapshot waiting_call(std::string id, int priority, std::int64_t received,
                           std::vector<std::string> tiers) {
    call_snapshot c;
    c.id = std::move(id);
    c.state = "received";
    c.priority = priority;
    c.received_ms = received;
    c.tier_stations = std::move(tiers);
    return c;
}

routing_config config(strategy st) {
    routing_config cfg;
    cfg.offer_strategy = st;
    return cfg;
}

// The plan's answer for one call; a test failure names the call when it has no entry at all.
std::set<std::string> offers(const plan_t& plan, const std::string& call_id) {
    auto it = plan.find(call_id);
    EXPECT_TRUE(it != plan.end()) << "no entry for waiting call " << call_id;
    return it == plan.end() ? std::set<std::string>{} : it->second;
}

// ---- priorities ---------------------------------------------------------------------------

TEST(call_policy, default_priorities_by_alarm_type) {
    const auto t = priority_table::defaults();
    EXPECT_EQ(t.of("sos"), priority_emergency);
    EXPECT_EQ(t.of("fall"), priority_emergency);
    EXPECT_EQ(t.of("medical"), priority_emergency);
    EXPECT_EQ(t.of("smoke"), priority_urgent);
    EXPECT_EQ(t.of("inactivity"), priority_urgent);
    EXPECT_EQ(t.of("low_battery"), priority_technical);
    EXPECT_EQ(t.of("device_offline"), priority_technical);
    EXPECT_EQ(t.of("tamper"), priority_technical);
    EXPECT_EQ(t.of("power_loss"), priority_technical);
    EXPECT_EQ(t.levels().size(), 9u);
}

TEST(call_policy, priority_levels_are_ordered_emergency_first) {
    EXPECT_EQ(priority_emergency, 1);
    EXPECT_EQ(priority_urgent, 2);
    EXPECT_EQ(priority_technical, 3);
}

TEST(call_policy, unknown_alarm_type_is_an_emergency) {
    const auto t = priority_table::defaults();
    EXPECT_EQ(t.of("gas_leak"), priority_emergency);
    EXPECT_EQ(t.of(""), priority_emergency);
    EXPECT_EQ(t.of("SOS"), priority_emergency);
    EXPECT_EQ(t.of("Low_Battery"), priority_emergency);  // case matters; unknown never waits
}

TEST(call_policy, parse_overrides_one_type_and_keeps_the_rest) {
    std::string error;
    auto t = priority_table::parse("smoke=1", error);
    ASSERT_TRUE(t.has_value()) << error;
    EXPECT_EQ(t->of("smoke"), priority_emergency);
    EXPECT_EQ(t->of("inactivity"), priority_urgent);
    EXPECT_EQ(t->of("sos"), priority_emergency);
    EXPECT_EQ(t->of("tamper"), priority_technical);
    EXPECT_EQ(t->levels().size(), 9u);
}

TEST(call_policy, parse_several_overrides_in_either_direction) {
    std::string error;
    auto t = priority_table::parse("smoke=1,inactivity=1,fall=2,low_battery=2", error);
    ASSERT_TRUE(t.has_value()) << error;
    EXPECT_EQ(t->of("smoke"), 1);
    EXPECT_EQ(t->of("inactivity"), 1);
    EXPECT_EQ(t->of("fall"), 2);
    EXPECT_EQ(t->of("low_battery"), 2);
    EXPECT_EQ(t->of("power_loss"), 3);
}

TEST(call_policy, parse_empty_spec_gives_the_defaults) {
    std::string error;
    auto t = priority_table::parse("", error);
    ASSERT_TRUE(t.has_value()) << error;
    EXPECT_EQ(t->levels(), priority_table::defaults().levels());
}

TEST(call_policy, parse_rejects_levels_outside_one_to_three) {
    for (const char* spec : {"smoke=0", "smoke=4", "smoke=x", "smoke=", "smoke=-1", "smoke=1x",
                             "smoke=1.5", "smoke=99999999999999999999"}) {
        std::string error;
        EXPECT_FALSE(priority_table::parse(spec, error).has_value()) << spec;
        EXPECT_FALSE(error.empty()) << spec;
    }
}

TEST(call_policy, parse_rejects_an_unknown_type) {
    std::string error;
    EXPECT_FALSE(priority_table::parse("gas_leak=1", error).has_value());
    EXPECT_NE(error.find("gas_leak"), std::string::npos) << error;

    error.clear();
    EXPECT_FALSE(priority_table::parse("=1", error).has_value());
    EXPECT_FALSE(error.empty());
}

TEST(call_policy, parse_rejects_an_item_without_equals) {
    std::string error;
    EXPECT_FALSE(priority_table::parse("smoke", error).has_value());
    EXPECT_NE(error.find("smoke"), std::string::npos) << error;

    error.clear();
    EXPECT_FALSE(priority_table::parse("smoke=1,fall", error).has_value());
    EXPECT_NE(error.find("fall"), std::string::npos) << error;
}

TEST(call_policy, parse_error_anywhere_rejects_the_whole_spec) {
    std::string error;
    EXPECT_FALSE(priority_table::parse("smoke=1,fall=4", error).has_value());
    EXPECT_NE(error.find("fall"), std::string::npos) << error;
}

TEST(call_policy, priority_names) {
    EXPECT_EQ(priority_name(priority_emergency), "emergency");
    EXPECT_EQ(priority_name(priority_urgent), "urgent");
    EXPECT_EQ(priority_name(priority_technical), "technical");
    EXPECT_EQ(priority_name(0), "unknown");
    EXPECT_EQ(priority_name(4), "unknown");
}

// ---- offer order --------------------------------------------------------------------------

TEST(call_policy, offered_before_orders_by_priority_then_age_then_id) {
    auto sos_late = waiting_call("c-sos", priority_emergency, t0 + 300 * s, {"A"});
    auto tech_early = waiting_call("c-tech", priority_technical, t0, {"A"});
    // An emergency received five minutes later still comes before an older technical alarm.
    EXPECT_TRUE(offered_before(sos_late, tech_early));
    EXPECT_FALSE(offered_before(tech_early, sos_late));

    auto urgent_old = waiting_call("c-u1", priority_urgent, t0, {"A"});
    auto urgent_new = waiting_call("c-u0", priority_urgent, t0 + 1, {"A"});
    EXPECT_TRUE(offered_before(urgent_old, urgent_new));
    EXPECT_FALSE(offered_before(urgent_new, urgent_old));

    auto same_a = waiting_call("c-a", priority_urgent, t0, {"A"});
    auto same_b = waiting_call("c-b", priority_urgent, t0, {"B"});
    EXPECT_TRUE(offered_before(same_a, same_b));
    EXPECT_FALSE(offered_before(same_b, same_a));
    EXPECT_FALSE(offered_before(same_a, same_a));  // strict weak order: irreflexive
}

TEST(call_policy, sorting_a_queue_by_offered_before) {
    std::vector<call_snapshot> q = {
        waiting_call("tech-old", priority_technical, t0, {"A"}),
        waiting_call("urgent", priority_urgent, t0 + 10 * s, {"A"}),
        waiting_call("sos-new", priority_emergency, t0 + 60 * s, {"A"}),
        waiting_call("sos-old", priority_emergency, t0 + 5 * s, {"A"}),
        waiting_call("tech-new", priority_technical, t0 + 1 * s, {"A"}),
        waiting_call("sos-old-b", priority_emergency, t0 + 5 * s, {"A"}),
    };
    std::sort(q.begin(), q.end(), offered_before);
    std::vector<std::string> ids;
    for (const auto& c : q) ids.push_back(c.id);
    EXPECT_EQ(ids, (std::vector<std::string>{"sos-old", "sos-old-b", "sos-new", "urgent",
                                             "tech-old", "tech-new"}));
}

// ---- operator status and state ------------------------------------------------------------

TEST(call_policy, idle_available_operator_can_take_offers) {
    routing_config cfg;
    auto op = idle_operator("op1", "A", t0 - 60 * s);
    EXPECT_TRUE(can_take_offers(op, t0, cfg));
    EXPECT_EQ(state_of(op, t0), operator_state::idle);
}

TEST(call_policy, offline_operator_cannot_take_offers) {
    routing_config cfg;
    auto op = idle_operator("op1", "A", t0 - 60 * s);
    op.online = false;
    op.offline_since_ms = t0 - 5 * s;
    EXPECT_FALSE(can_take_offers(op, t0, cfg));
}

TEST(call_policy, away_or_logged_out_operator_cannot_take_offers) {
    routing_config cfg;
    auto op = idle_operator("op1", "A", t0 - 60 * s);
    op.status = operator_status::away;
    EXPECT_FALSE(can_take_offers(op, t0, cfg));
    op.status = operator_status::logged_out;
    EXPECT_FALSE(can_take_offers(op, t0, cfg));
}

TEST(call_policy, busy_operator_cannot_take_offers_until_below_the_limit) {
    routing_config cfg;  // max_calls_per_operator = 1
    auto op = idle_operator("op1", "A", t0 - 60 * s);
    op.active_calls = 1;
    EXPECT_FALSE(can_take_offers(op, t0, cfg));
    EXPECT_EQ(state_of(op, t0), operator_state::on_call);

    cfg.max_calls_per_operator = 2;
    EXPECT_TRUE(can_take_offers(op, t0, cfg));
    EXPECT_EQ(state_of(op, t0), operator_state::on_call);
    op.active_calls = 2;
    EXPECT_FALSE(can_take_offers(op, t0, cfg));
    op.active_calls = 3;
    EXPECT_FALSE(can_take_offers(op, t0, cfg));
}

TEST(call_policy, wrap_up_blocks_offers_until_wrap_until) {
    routing_config cfg;
    auto op = idle_operator("op1", "A", t0);
    op.wrap_until_ms = t0 + 30 * s;
    EXPECT_FALSE(can_take_offers(op, t0, cfg));
    EXPECT_EQ(state_of(op, t0), operator_state::wrap_up);
    EXPECT_FALSE(can_take_offers(op, t0 + 30 * s - 1, cfg));
    EXPECT_EQ(state_of(op, t0 + 30 * s - 1), operator_state::wrap_up);
    EXPECT_TRUE(can_take_offers(op, t0 + 30 * s, cfg));
    EXPECT_EQ(state_of(op, t0 + 30 * s), operator_state::idle);
    EXPECT_TRUE(can_take_offers(op, t0 + 31 * s, cfg));
}

TEST(call_policy, on_call_outranks_wrap_up_in_state) {
    auto op = idle_operator("op1", "A", t0);
    op.active_calls = 1;
    op.wrap_until_ms = t0 + 30 * s;
    EXPECT_EQ(state_of(op, t0), operator_state::on_call);
}

// DOMAIN.md: "An agent who misses N offers in a row is put on break automatically", and
// routing_config carries missed_offers_before_away = 3, yet no function in call_policy reads
// it. An operator who let three offers time out is still offered the next emergency.
TEST(call_policy, operator_who_missed_too_many_offers_is_not_offered_more) {
    routing_config cfg;  // missed_offers_before_away = 3
    auto op = idle_operator("op1", "A", t0 - 60 * s);
    op.missed_in_row = 2;
    EXPECT_TRUE(can_take_offers(op, t0, cfg));
    op.missed_in_row = 3;
    EXPECT_FALSE(can_take_offers(op, t0, cfg))
        << "missed_in_row 3 >= missed_offers_before_away 3, yet the operator is still offered "
           "calls";
}

TEST(call_policy, operator_status_and_state_names) {
    EXPECT_EQ(to_string(operator_status::logged_out), "logged_out");
    EXPECT_EQ(to_string(operator_status::available), "available");
    EXPECT_EQ(to_string(operator_status::away), "away");
    EXPECT_EQ(parse_operator_status("available"), operator_status::available);
    EXPECT_EQ(parse_operator_status("away"), operator_status::away);
    EXPECT_EQ(parse_operator_status("logged_out"), operator_status::logged_out);
    EXPECT_FALSE(parse_operator_status("Available").has_value());
    EXPECT_FALSE(parse_operator_status("").has_value());
    EXPECT_EQ(to_string(operator_state::idle), "idle");
    EXPECT_EQ(to_string(operator_state::on_call), "on_call");
    EXPECT_EQ(to_string(operator_state::wrap_up), "wrap_up");
}

// ---- plan_offers: ring_all ----------------------------------------------------------------

TEST(call_policy, ring_all_offers_to_every_eligible_operator_of_the_tier_stations) {
    const auto cfg = config(strategy::ring_all);
    auto away = idle_operator("a-away", "A", t0 - 100 * s);
    away.status = operator_status::away;
    auto busy = idle_operator("a-busy", "A", t0 - 100 * s);
    busy.active_calls = 1;
    auto wrapping = idle_operator("a-wrap", "A", t0 - 100 * s);
    wrapping.wrap_until_ms = t0 + 10 * s;
    auto offline = idle_operator("b-offline", "B", t0 - 100 * s);
    offline.online = false;
    const std::vector<operator_snapshot> ops = {
        idle_operator("a1", "A", t0 - 10 * s),
        idle_operator("a2", "A", t0 - 20 * s),
        idle_operator("b1", "B", t0 - 30 * s),
        idle_operator("c1", "C", t0 - 500 * s),  // a station the call has not reached
        supervisor("sup1", t0 - 900 * s),        // the call is not at the command centre
        away,
        busy,
        wrapping,
        offline,
    };
    auto call = waiting_call("call-1", priority_emergency, t0 - 25 * s, {"A", "B"});
    auto plan = plan_offers({call}, ops, t0, cfg);
    EXPECT_EQ(plan.size(), 1u);
    EXPECT_EQ(offers(plan, "call-1"), (std::set<std::string>{"a1", "a2", "b1"}));
}

TEST(call_policy, ring_all_supervisors_only_once_the_call_is_at_the_command_centre) {
    const auto cfg = config(strategy::ring_all);
    auto sup_away = supervisor("sup-away", t0 - 100 * s);
    sup_away.status = operator_status::away;
    // A supervisor whose station_id names a station is still only for command-centre calls.
    auto sup_at_a = supervisor("sup-a", t0 - 100 * s);
    sup_at_a.station_id = "A";
    const std::vector<operator_snapshot> ops = {
        idle_operator("a1", "A", t0 - 10 * s),
        supervisor("sup1", t0 - 100 * s),
        sup_away,
        sup_at_a,
    };
    auto call = waiting_call("call-1", priority_emergency, t0 - 50 * s, {"A"});
    EXPECT_EQ(offers(plan_offers({call}, ops, t0, cfg), "call-1"), (std::set<std::string>{"a1"}));

    call.at_command_centre = true;
    call.state = "offered";
    call.offered = {"a1"};
    EXPECT_EQ(offers(plan_offers({call}, ops, t0, cfg), "call-1"),
              (std::set<std::string>{"a1", "sup1", "sup-a"}));
}

TEST(call_policy, accepted_and_closed_calls_get_no_entry) {
    for (auto st : {strategy::ring_all, strategy::longest_idle}) {
        const auto cfg = config(st);
        const std::vector<operator_snapshot> ops = {idle_operator("a1", "A", t0 - 10 * s)};
        auto received = waiting_call("c-received", priority_urgent, t0 - 3 * s, {"A"});
        auto offered = waiting_call("c-offered", priority_technical, t0 - 2 * s, {"A"});
        offered.state = "offered";
        auto accepted = waiting_call("c-accepted", priority_emergency, t0 - 5 * s, {"A"});
        accepted.state = "accepted";
        accepted.operator_id = "a9";
        auto closed = waiting_call("c-closed", priority_emergency, t0 - 9 * s, {"A"});
        closed.state = "closed";
        auto plan = plan_offers({accepted, closed, received, offered}, ops, t0, cfg);
        EXPECT_FALSE(plan.contains("c-accepted"));
        EXPECT_FALSE(plan.contains("c-closed"));
        EXPECT_TRUE(plan.contains("c-received"));
        EXPECT_TRUE(plan.contains("c-offered"));
    }
}

TEST(call_policy, ring_all_waiting_call_with_nobody_eligible_gets_an_empty_entry) {
    // An empty set (not a missing entry) tells the router to withdraw the offers it has.
    const auto cfg = config(strategy::ring_all);
    auto a1 = idle_operator("a1", "A", t0 - 10 * s);
    a1.status = operator_status::away;
    auto call = waiting_call("call-1", priority_emergency, t0 - 5 * s, {"A"});
    call.state = "offered";
    call.offered = {"a1"};
    auto plan = plan_offers({call}, {a1}, t0, cfg);
    ASSERT_TRUE(plan.contains("call-1"));
    EXPECT_TRUE(plan.at("call-1").empty());
}

TEST(call_policy, ring_all_offers_every_waiting_call_to_the_same_operator) {
    const auto cfg = config(strategy::ring_all);
    const std::vector<operator_snapshot> ops = {idle_operator("a1", "A", t0 - 10 * s)};
    auto plan = plan_offers({waiting_call("c1", priority_technical, t0 - 9 * s, {"A"}),
                             waiting_call("c2", priority_emergency, t0 - 1 * s, {"A"})},
                            ops, t0, cfg);
    EXPECT_EQ(offers(plan, "c1"), (std::set<std::string>{"a1"}));
    EXPECT_EQ(offers(plan, "c2"), (std::set<std::string>{"a1"}));
}

TEST(call_policy, plan_with_no_calls_is_empty) {
    const std::vector<operator_snapshot> ops = {idle_operator("a1", "A", t0 - 10 * s)};
    EXPECT_TRUE(plan_offers({}, ops, t0, config(strategy::ring_all)).empty());
    EXPECT_TRUE(plan_offers({}, ops, t0, config(strategy::longest_idle)).empty());
}

TEST(call_policy, plan_respects_wrap_up_at_the_given_now) {
    const auto cfg = config(strategy::ring_all);
    auto a1 = idle_operator("a1", "A", t0);
    a1.wrap_until_ms = t0 + 15 * s;
    auto call = waiting_call("call-1", priority_emergency, t0, {"A"});
    EXPECT_TRUE(offers(plan_offers({call}, {a1}, t0 + 15 * s - 1, cfg), "call-1").empty());
    EXPECT_EQ(offers(plan_offers({call}, {a1}, t0 + 15 * s, cfg), "call-1"),
              (std::set<std::string>{"a1"}));
}

// ---- plan_offers: longest_idle ------------------------------------------------------------

TEST(call_policy, longest_idle_one_operator_per_call_highest_priority_first) {
    const auto cfg = config(strategy::longest_idle);
    const std::vector<operator_snapshot> ops = {
        idle_operator("short", "A", t0 - 10 * s),
        idle_operator("longest", "A", t0 - 600 * s),
        idle_operator("middle", "A", t0 - 120 * s),
    };
    // Given in the wrong order on purpose: plan_offers sorts.
    std::vector<call_snapshot> calls = {
        waiting_call("tech", priority_technical, t0 - 300 * s, {"A"}),
        waiting_call("sos-new", priority_emergency, t0 - 5 * s, {"A"}),
        waiting_call("sos-old", priority_emergency, t0 - 50 * s, {"A"}),
    };
    auto plan = plan_offers(calls, ops, t0, cfg);
    EXPECT_EQ(offers(plan, "sos-old"), (std::set<std::string>{"longest"}));
    EXPECT_EQ(offers(plan, "sos-new"), (std::set<std::string>{"middle"}));
    EXPECT_EQ(offers(plan, "tech"), (std::set<std::string>{"short"}));
}

TEST(call_policy, longest_idle_ties_on_idle_time_go_by_operator_id) {
    const auto cfg = config(strategy::longest_idle);
    const std::vector<operator_snapshot> ops = {
        idle_operator("op-b", "A", t0 - 60 * s),
        idle_operator("op-a", "A", t0 - 60 * s),
    };
    auto plan = plan_offers({waiting_call("c1", priority_urgent, t0, {"A"})}, ops, t0, cfg);
    EXPECT_EQ(offers(plan, "c1"), (std::set<std::string>{"op-a"}));
}

TEST(call_policy, longest_idle_no_operator_gets_two_calls) {
    const auto cfg = config(strategy::longest_idle);
    const std::vector<operator_snapshot> ops = {
        idle_operator("a1", "A", t0 - 100 * s),
        idle_operator("a2", "A", t0 - 50 * s),
    };
    std::vector<call_snapshot> calls;
    for (int i = 0; i < 4; ++i) {
        calls.push_back(
            waiting_call("c" + std::to_string(i), priority_urgent, t0 - (10 - i) * s, {"A"}));
    }
    auto plan = plan_offers(calls, ops, t0, cfg);
    ASSERT_EQ(plan.size(), 4u);
    std::map<std::string, int> offers_per_operator;
    for (const auto& [call, who] : plan) {
        EXPECT_LE(who.size(), 1u) << call;
        for (const auto& op : who) ++offers_per_operator[op];
    }
    EXPECT_EQ(offers_per_operator, (std::map<std::string, int>{{"a1", 1}, {"a2", 1}}));
    EXPECT_EQ(offers(plan, "c0"), (std::set<std::string>{"a1"}));  // oldest call
    EXPECT_EQ(offers(plan, "c1"), (std::set<std::string>{"a2"}));
    EXPECT_TRUE(offers(plan, "c2").empty());
    EXPECT_TRUE(offers(plan, "c3").empty());
}

TEST(call_policy, longest_idle_operator_keeps_the_call_already_offered_to_them) {
    const auto cfg = config(strategy::longest_idle);
    const std::vector<operator_snapshot> ops = {
        idle_operator("longest", "A", t0 - 600 * s),
        idle_operator("recent", "A", t0 - 10 * s),
    };
    auto call = waiting_call("c1", priority_emergency, t0 - 8 * s, {"A"});
    call.state = "offered";
    call.offered = {"recent"};
    // A replan must not move the offer off the screen where it is ringing.
    EXPECT_EQ(offers(plan_offers({call}, ops, t0, cfg), "c1"), (std::set<std::string>{"recent"}));
}

TEST(call_policy, longest_idle_offer_moves_when_the_holder_is_no_longer_eligible) {
    const auto cfg = config(strategy::longest_idle);
    auto call = waiting_call("c1", priority_emergency, t0 - 8 * s, {"A"});
    call.state = "offered";
    call.offered = {"holder"};

    for (int variant = 0; variant < 4; ++variant) {
        auto holder = idle_operator("holder", "A", t0 - 900 * s);
        switch (variant) {
            case 0:
                holder.status = operator_status::away;
                break;
            case 1:
                holder.online = false;
                break;
            case 2:
                holder.active_calls = 1;
                break;
            case 3:
                holder.wrap_until_ms = t0 + 5 * s;
                break;
        }
        const std::vector<operator_snapshot> ops = {holder, idle_operator("other", "A", t0 - s)};
        EXPECT_EQ(offers(plan_offers({call}, ops, t0, cfg), "c1"), (std::set<std::string>{"other"}))
            << "variant " << variant;
    }
}

TEST(call_policy, longest_idle_offer_moves_when_the_holder_is_not_at_a_tier_station) {
    // A call that an operator of station B held is now only kept where it qualifies; with B no
    // longer in its tiers (a stale offer) the operator of A gets it.
    const auto cfg = config(strategy::longest_idle);
    const std::vector<operator_snapshot> ops = {
        idle_operator("b1", "B", t0 - 900 * s),
        idle_operator("a1", "A", t0 - s),
    };
    auto call = waiting_call("c1", priority_emergency, t0 - 8 * s, {"A"});
    call.state = "offered";
    call.offered = {"b1"};
    EXPECT_EQ(offers(plan_offers({call}, ops, t0, cfg), "c1"), (std::set<std::string>{"a1"}));
}

TEST(call_policy, longest_idle_call_offered_to_several_keeps_exactly_one_of_them) {
    // After a switch from ring_all a call may be on offer to several operators; longest_idle
    // narrows it to one of them rather than moving it to a third.
    const auto cfg = config(strategy::longest_idle);
    const std::vector<operator_snapshot> ops = {
        idle_operator("fresh", "A", t0 - 900 * s),
        idle_operator("o1", "A", t0 - 300 * s),
        idle_operator("o2", "A", t0 - 20 * s),
    };
    auto call = waiting_call("c1", priority_emergency, t0 - 8 * s, {"A"});
    call.state = "offered";
    call.offered = {"o1", "o2"};
    auto who = offers(plan_offers({call}, ops, t0, cfg), "c1");
    ASSERT_EQ(who.size(), 1u);
    EXPECT_TRUE(call.offered.contains(*who.begin())) << *who.begin();
}

TEST(call_policy, longest_idle_later_sos_beats_a_backlog_of_technical_calls) {
    const auto cfg = config(strategy::longest_idle);
    const std::vector<operator_snapshot> ops = {idle_operator("a1", "A", t0 - 60 * s)};
    std::vector<call_snapshot> calls;
    for (int i = 0; i < 5; ++i) {
        calls.push_back(waiting_call("tech-" + std::to_string(i), priority_technical,
                                     t0 - (600 - i) * s, {"A"}));
    }
    calls.push_back(waiting_call("sos", priority_emergency, t0, {"A"}));
    auto plan = plan_offers(calls, ops, t0, cfg);
    EXPECT_EQ(offers(plan, "sos"), (std::set<std::string>{"a1"}));
    for (int i = 0; i < 5; ++i) EXPECT_TRUE(offers(plan, "tech-" + std::to_string(i)).empty()) << i;
}

TEST(call_policy, longest_idle_sos_takes_the_operator_from_a_technical_offer) {
    // The operator was already ringing with the oldest technical call when the SOS came in:
    // keeping an offer never outranks priority.
    const auto cfg = config(strategy::longest_idle);
    const std::vector<operator_snapshot> ops = {idle_operator("a1", "A", t0 - 60 * s)};
    std::vector<call_snapshot> calls;
    for (int i = 0; i < 5; ++i) {
        calls.push_back(waiting_call("tech-" + std::to_string(i), priority_technical,
                                     t0 - (600 - i) * s, {"A"}));
    }
    calls[0].state = "offered";
    calls[0].offered = {"a1"};
    calls.push_back(waiting_call("sos", priority_emergency, t0, {"A"}));
    auto plan = plan_offers(calls, ops, t0, cfg);
    EXPECT_EQ(offers(plan, "sos"), (std::set<std::string>{"a1"}));
    EXPECT_TRUE(offers(plan, "tech-0").empty());
}

TEST(call_policy, longest_idle_supervisor_only_for_command_centre_calls) {
    const auto cfg = config(strategy::longest_idle);
    const std::vector<operator_snapshot> ops = {
        supervisor("sup1", t0 - 3600 * s),
        idle_operator("a1", "A", t0 - 5 * s),
    };
    auto at_station = waiting_call("c-station", priority_urgent, t0 - 100 * s, {"A"});
    auto at_centre = waiting_call("c-centre", priority_urgent, t0 - 50 * s, {"B"});
    at_centre.at_command_centre = true;
    auto plan = plan_offers({at_station, at_centre}, ops, t0, cfg);
    EXPECT_EQ(offers(plan, "c-station"), (std::set<std::string>{"a1"}));
    EXPECT_EQ(offers(plan, "c-centre"), (std::set<std::string>{"sup1"}));
}

// Two emergencies and two idle operators who could serve both: X (station A) and Y (station
// B). The older call has reached A and B, the newer one only A. The greedy plan gives the older
// call X (longer idle), so the newer SOS gets nobody while Y, eligible for the older call, sits
// idle -- until the newer call escalates 20 s later. Answer-time targets (DOMAIN.md: 97.5% of
// calls answered within 60 s) need every call offered when an assignment exists.
TEST(call_policy, longest_idle_does_not_leave_an_sos_unoffered_while_a_qualifying_operator_idles) {
    const auto cfg = config(strategy::longest_idle);
    const std::vector<operator_snapshot> ops = {
        idle_operator("x", "A", t0 - 600 * s),
        idle_operator("y", "B", t0 - 60 * s),
    };
    // The older call's previous holder went offline, so it has no live offer to keep.
    auto older = waiting_call("sos-older", priority_emergency, t0 - 30 * s, {"A", "B"});
    auto newer = waiting_call("sos-newer", priority_emergency, t0 - 5 * s, {"A"});
    auto plan = plan_offers({older, newer}, ops, t0, cfg);
    EXPECT_EQ(offers(plan, "sos-newer"), (std::set<std::string>{"x"}));
    EXPECT_EQ(offers(plan, "sos-older"), (std::set<std::string>{"y"}));
}

// ---- escalation ---------------------------------------------------------------------------

TEST(call_policy, first_step_goes_to_the_nearest_staffed_station) {
    routing_config cfg;
    auto step = first_step({"near", "mid", "far"}, t0, cfg);
    EXPECT_EQ(step.what, step_kind::add_station);
    EXPECT_EQ(step.station_id, "near");
    EXPECT_EQ(step.next_due_ms, t0 + 20 * s);
}

TEST(call_policy, first_step_uses_the_configured_tier_timeout) {
    routing_config cfg;
    cfg.tier_timeout_ms = 7 * s;
    auto step = first_step({"near"}, t0 + 123, cfg);
    EXPECT_EQ(step.what, step_kind::add_station);
    EXPECT_EQ(step.next_due_ms, t0 + 123 + 7 * s);

    // A tier timeout longer than the whole limit is cut to the limit.
    cfg.tier_timeout_ms = 60 * s;
    cfg.escalation_limit_ms = 45 * s;
    EXPECT_EQ(first_step({"near"}, t0, cfg).next_due_ms, t0 + 45 * s);
}

TEST(call_policy, first_step_with_nobody_staffed_goes_to_the_command_centre_at_once) {
    routing_config cfg;
    auto step = first_step({}, t0, cfg);
    EXPECT_EQ(step.what, step_kind::command_centre);
    EXPECT_TRUE(step.station_id.empty());
    EXPECT_EQ(step.next_due_ms, 0);
}

TEST(call_policy, first_step_with_zero_station_tiers_goes_to_the_command_centre) {
    routing_config cfg;
    cfg.max_station_tiers = 0;
    EXPECT_EQ(first_step({"near"}, t0, cfg).what, step_kind::command_centre);
}

TEST(call_policy, next_step_adds_the_next_nearest_staffed_station_not_yet_tried) {
    routing_config cfg;
    auto call = waiting_call("c1", priority_emergency, t0, {"A"});
    call.state = "offered";
    call.next_escalation_ms = t0 + 20 * s;
    // A is already in the tiers and is skipped; B is next.
    auto step = next_step(call, {"A", "B", "C"}, t0 + 20 * s, cfg);
    EXPECT_EQ(step.what, step_kind::add_station);
    EXPECT_EQ(step.station_id, "B");
    EXPECT_EQ(step.next_due_ms, t0 + 40 * s);

    // Tiered stations are skipped wherever they appear in the staffed list.
    call.tier_stations = {"A", "B"};
    step = next_step(call, {"B", "A", "C", "D"}, t0 + 20 * s, cfg);
    EXPECT_EQ(step.what, step_kind::add_station);
    EXPECT_EQ(step.station_id, "C");
}

TEST(call_policy, next_step_skips_stations_with_nobody_available) {
    routing_config cfg;
    auto call = waiting_call("c1", priority_emergency, t0, {"A"});
    // B (second nearest) has nobody who can take offers, so it is not in `staffed`.
    auto step = next_step(call, {"C", "D"}, t0 + 20 * s, cfg);
    EXPECT_EQ(step.what, step_kind::add_station);
    EXPECT_EQ(step.station_id, "C");
}

TEST(call_policy, next_step_next_due_is_capped_at_the_escalation_limit) {
    routing_config cfg;
    auto call = waiting_call("c1", priority_emergency, t0, {"A"});
    // A late timer tick at 30 s: the next look is at 45 s (the limit), not 50 s.
    auto step = next_step(call, {"A", "B"}, t0 + 30 * s, cfg);
    EXPECT_EQ(step.what, step_kind::add_station);
    EXPECT_EQ(step.station_id, "B");
    EXPECT_EQ(step.next_due_ms, t0 + 45 * s);
}

TEST(call_policy, next_step_command_centre_when_no_other_station_is_staffed) {
    routing_config cfg;
    auto call = waiting_call("c1", priority_emergency, t0, {"A"});
    for (const auto& staffed : {std::vector<std::string>{}, std::vector<std::string>{"A"}}) {
        auto step = next_step(call, staffed, t0 + 20 * s, cfg);
        EXPECT_EQ(step.what, step_kind::command_centre) << staffed.size();
        EXPECT_EQ(step.next_due_ms, 0);
    }
}

TEST(call_policy, next_step_command_centre_after_max_station_tiers) {
    routing_config cfg;
    cfg.escalation_limit_ms = 600 * s;  // far away: only the tier count decides
    auto call = waiting_call("c1", priority_emergency, t0, {"A", "B", "C"});
    auto step = next_step(call, {"A", "B", "C", "D"}, t0 + 60 * s, cfg);
    EXPECT_EQ(step.what, step_kind::command_centre);

    cfg.max_station_tiers = 1;
    call.tier_stations = {"A"};
    step = next_step(call, {"A", "B"}, t0 + 20 * s, cfg);
    EXPECT_EQ(step.what, step_kind::command_centre);
}

TEST(call_policy, next_step_command_centre_once_the_limit_has_passed) {
    routing_config cfg;
    auto call = waiting_call("c1", priority_emergency, t0, {"A"});
    auto before = next_step(call, {"A", "B"}, t0 + 45 * s - 1, cfg);
    EXPECT_EQ(before.what, step_kind::add_station);
    EXPECT_EQ(before.next_due_ms, t0 + 45 * s);
    EXPECT_EQ(next_step(call, {"A", "B"}, t0 + 45 * s, cfg).what, step_kind::command_centre);
    EXPECT_EQ(next_step(call, {"A", "B"}, t0 + 300 * s, cfg).what, step_kind::command_centre);
}

TEST(call_policy, next_step_none_for_taken_or_already_escalated_calls) {
    routing_config cfg;
    auto call = waiting_call("c1", priority_emergency, t0, {"A"});
    for (const char* st : {"accepted", "closed"}) {
        call.state = st;
        auto step = next_step(call, {"A", "B"}, t0 + 20 * s, cfg);
        EXPECT_EQ(step.what, step_kind::none) << st;
        EXPECT_EQ(step.next_due_ms, 0) << st;
        EXPECT_EQ(next_step(call, {"A", "B"}, t0 + 100 * s, cfg).what, step_kind::none) << st;
    }
    call.state = "offered";
    call.at_command_centre = true;
    EXPECT_EQ(next_step(call, {"A", "B"}, t0 + 20 * s, cfg).what, step_kind::none);
    EXPECT_EQ(next_step(call, {"A", "B"}, t0 + 100 * s, cfg).what, step_kind::none);
}

// Applies a step to the call as call_router would (the Lua script's effect on the snapshot).
void apply(call_snapshot& call, const escalation_step& step) {
    if (step.what == step_kind::add_station) call.tier_stations.push_back(step.station_id);
    if (step.what == step_kind::command_centre) call.at_command_centre = true;
    call.next_escalation_ms = step.next_due_ms;
}

TEST(call_policy, escalation_timeline_station_a_b_c_then_command_centre) {
    routing_config cfg;  // 20 s tiers, 45 s limit, 3 station tiers
    const std::vector<std::string> staffed = {"A", "B", "C", "D"};

    // t = 0: received, nearest staffed station A, look again at 20 s.
    auto call = waiting_call("c1", priority_emergency, t0, {});
    auto step = first_step(staffed, call.received_ms, cfg);
    ASSERT_EQ(step.what, step_kind::add_station);
    EXPECT_EQ(step.station_id, "A");
    EXPECT_EQ(step.next_due_ms, t0 + 20 * s);
    apply(call, step);
    call.state = "offered";

    // t = 20 s: A did not answer; B is added, look again at 40 s.
    step = next_step(call, staffed, call.next_escalation_ms, cfg);
    ASSERT_EQ(step.what, step_kind::add_station);
    EXPECT_EQ(step.station_id, "B");
    EXPECT_EQ(step.next_due_ms, t0 + 40 * s);
    apply(call, step);

    // t = 40 s: C is added (third and last station tier); the next look is at the 45 s limit,
    // not 60 s.
    step = next_step(call, staffed, call.next_escalation_ms, cfg);
    ASSERT_EQ(step.what, step_kind::add_station);
    EXPECT_EQ(step.station_id, "C");
    EXPECT_EQ(step.next_due_ms, t0 + 45 * s);
    apply(call, step);
    EXPECT_EQ(call.tier_stations, (std::vector<std::string>{"A", "B", "C"}));

    // t = 45 s: the command centre takes over; no more timers.
    step = next_step(call, staffed, call.next_escalation_ms, cfg);
    ASSERT_EQ(step.what, step_kind::command_centre);
    EXPECT_EQ(step.next_due_ms, 0);
    apply(call, step);
    EXPECT_TRUE(call.at_command_centre);

    // Once there, nothing more happens.
    EXPECT_EQ(next_step(call, staffed, t0 + 120 * s, cfg).what, step_kind::none);
}

TEST(call_policy, escalation_timeline_answered_in_the_second_tier_stops) {
    routing_config cfg;
    const std::vector<std::string> staffed = {"A", "B", "C"};
    auto call = waiting_call("c1", priority_emergency, t0, {});
    apply(call, first_step(staffed, t0, cfg));
    call.state = "offered";
    apply(call, next_step(call, staffed, t0 + 20 * s, cfg));
    EXPECT_EQ(call.next_escalation_ms, t0 + 40 * s);
    call.state = "accepted";  // taken at 31 s by an operator of B
    call.operator_id = "b1";
    EXPECT_EQ(next_step(call, staffed, t0 + 40 * s, cfg).what, step_kind::none);
}

TEST(call_policy, escalation_timeline_with_one_staffed_station) {
    routing_config cfg;
    auto call = waiting_call("c1", priority_emergency, t0, {});
    apply(call, first_step({"A"}, t0, cfg));
    EXPECT_EQ(call.next_escalation_ms, t0 + 20 * s);
    // At 20 s nobody else anywhere can take it: command centre at 20 s, not 45 s.
    auto step = next_step(call, {"A"}, t0 + 20 * s, cfg);
    EXPECT_EQ(step.what, step_kind::command_centre);
}

// ---- supervision --------------------------------------------------------------------------

TEST(call_policy, offline_deadline_is_three_missed_heartbeats_plus_grace) {
    supervision_config cfg;
    // Default: 3 x 60 s, no grace: reported within the 120-180 s practice asks for.
    EXPECT_EQ(offline_deadline(t0, 60, cfg), t0 + 180 * s);
    EXPECT_EQ(offline_deadline(t0 + 1234, 60, cfg), t0 + 1234 + 180 * s);
    EXPECT_EQ(offline_deadline(t0, 30, cfg), t0 + 90 * s);
    cfg.grace_ms = 10000;
    EXPECT_EQ(offline_deadline(t0, 60, cfg), t0 + 190 * s);

    cfg.missed_heartbeats = 2;
    cfg.grace_ms = 0;
    EXPECT_EQ(offline_deadline(t0, 60, cfg), t0 + 120 * s);
}

TEST(call_policy, offline_deadline_large_interval_does_not_overflow) {
    supervision_config cfg;
    // 24 h heartbeat (a battery-saving watch): 3 days, computed in 64 bits.
    EXPECT_EQ(offline_deadline(t0, 86400, cfg), t0 + 3LL * 86400 * s);
}

TEST(call_policy, battery_below_threshold_starts_an_episode) {
    supervision_config cfg;  // low 20, recovered 30
    EXPECT_EQ(battery_transition(false, 19, cfg), battery_change::episode_started);
    EXPECT_EQ(battery_transition(false, 0, cfg), battery_change::episode_started);
    EXPECT_EQ(battery_transition(false, 20, cfg), battery_change::none);
    EXPECT_EQ(battery_transition(false, 25, cfg), battery_change::none);
    EXPECT_EQ(battery_transition(false, 100, cfg), battery_change::none);
}

TEST(call_policy, battery_hysteresis_inside_an_episode) {
    supervision_config cfg;
    EXPECT_EQ(battery_transition(true, 15, cfg), battery_change::none);  // no second episode
    EXPECT_EQ(battery_transition(true, 19, cfg), battery_change::none);
    EXPECT_EQ(battery_transition(true, 20, cfg), battery_change::none);
    EXPECT_EQ(battery_transition(true, 25, cfg), battery_change::none);
    EXPECT_EQ(battery_transition(true, 29, cfg), battery_change::none);
    EXPECT_EQ(battery_transition(true, 30, cfg), battery_change::episode_ended);
    EXPECT_EQ(battery_transition(true, 95, cfg), battery_change::episode_ended);
}

TEST(call_policy, battery_unknown_reading_changes_nothing) {
    supervision_config cfg;
    EXPECT_EQ(battery_transition(false, -1, cfg), battery_change::none);
    EXPECT_EQ(battery_transition(true, -1, cfg), battery_change::none);
}

TEST(call_policy, battery_readings_over_a_discharge_and_recharge) {
    // A device reporting on every heartbeat: one episode starts and one ends, no flapping
    // around the 20 % line.
    supervision_config cfg;
    const std::vector<int> readings = {40, 31, 22, 19, 21, 18, -1, 19, 25, 28, 22, 30, 33, 19};
    bool in_episode = false;
    std::vector<std::pair<std::size_t, battery_change>> changes;
    for (std::size_t i = 0; i < readings.size(); ++i) {
        auto c = battery_transition(in_episode, readings[i], cfg);
        if (c == battery_change::episode_started) in_episode = true;
        if (c == battery_change::episode_ended) in_episode = false;
        if (c != battery_change::none) changes.emplace_back(i, c);
    }
    EXPECT_EQ(changes, (std::vector<std::pair<std::size_t, battery_change>>{
                           {3, battery_change::episode_started},
                           {11, battery_change::episode_ended},
                           {13, battery_change::episode_started}}));
}

}  // namespace
}  // namespace anxin::dispatcher
