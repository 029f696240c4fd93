// Tests for the call state machine and its vocabulary
// (dispatcher/include/anxin/dispatcher/call_state.hpp).

#include "anxin/dispatcher/call_state.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace anxin::dispatcher {
namespace {

namespace dv = anxin::device::v1;

constexpr call_state all_states[] = {call_state::received, call_state::offered,
                                     call_state::accepted, call_state::closed};
constexpr call_event all_events[] = {call_event::offer,  call_event::accept, call_event::close,
                                     call_event::cancel, call_event::note,   call_event::release};

std::string name(call_event e) {
    switch (e) {
        case call_event::offer:
            return "offer";
        case call_event::accept:
            return "accept";
        case call_event::close:
            return "close";
        case call_event::cancel:
            return "cancel";
        case call_event::note:
            return "note";
        case call_event::release:
            return "release";
    }
    return "?";
}

struct transition {
    call_state from;
    call_event event;
    std::optional<call_state> to;  // nullopt: not allowed
};

// The whole table, from the diagram in call_state.hpp and the Lua scripts that enforce it in
// Redis: offer from received or offered (re-offer), accept only an offered call, close only an
// accepted one; cancel is recorded on any open call without changing its state, and a note can
// be added to any call, closed ones included.
const std::vector<transition> table = {
    {call_state::received, call_event::offer, call_state::offered},
    {call_state::received, call_event::accept, std::nullopt},
    {call_state::received, call_event::close, std::nullopt},
    {call_state::received, call_event::cancel, call_state::received},
    {call_state::received, call_event::note, call_state::received},

    {call_state::offered, call_event::offer, call_state::offered},
    {call_state::offered, call_event::accept, call_state::accepted},
    {call_state::offered, call_event::close, std::nullopt},
    {call_state::offered, call_event::cancel, call_state::offered},
    {call_state::offered, call_event::note, call_state::offered},

    {call_state::accepted, call_event::offer, std::nullopt},
    {call_state::accepted, call_event::accept, std::nullopt},
    {call_state::accepted, call_event::close, call_state::closed},
    {call_state::accepted, call_event::cancel, call_state::accepted},
    {call_state::accepted, call_event::note, call_state::accepted},

    {call_state::closed, call_event::offer, std::nullopt},
    {call_state::closed, call_event::accept, std::nullopt},
    {call_state::closed, call_event::close, std::nullopt},
    {call_state::closed, call_event::cancel, std::nullopt},
    {call_state::closed, call_event::note, call_state::closed},

    // release: an operator gives an accepted call back (logout, vanished console, transfer).
    {call_state::received, call_event::release, std::nullopt},
    {call_state::offered, call_event::release, std::nullopt},
    {call_state::accepted, call_event::release, call_state::offered},
    {call_state::closed, call_event::release, std::nullopt},
};

TEST(call_state, table_covers_every_state_event_pair_once) {
    std::set<std::pair<call_state, call_event>> seen;
    for (const auto& t : table) EXPECT_TRUE(seen.insert({t.from, t.event}).second);
    EXPECT_EQ(seen.size(), std::size(all_states) * std::size(all_events));
}

TEST(call_state, next_state_for_every_state_and_event) {
    for (const auto& t : table) {
        SCOPED_TRACE(std::string(to_string(t.from)) + " --" + name(t.event) + "-->");
        const auto got = next_state(t.from, t.event);
        ASSERT_EQ(got.has_value(), t.to.has_value())
            << "got " << (got ? to_string(*got) : "not allowed");
        if (t.to) {
            EXPECT_EQ(*got, *t.to)
                << "got " << to_string(*got) << ", expected " << to_string(*t.to);
        }
    }
}

TEST(call_state, the_normal_life_of_a_call) {
    auto s = std::optional{call_state::received};
    for (auto e : {call_event::offer, call_event::offer, call_event::cancel, call_event::accept,
                   call_event::note, call_event::close}) {
        ASSERT_TRUE(s);
        s = next_state(*s, e);
    }
    EXPECT_EQ(s, call_state::closed);
}

TEST(call_state, state_names_are_the_ones_stored_in_redis) {
    EXPECT_EQ(to_string(call_state::received), "received");
    EXPECT_EQ(to_string(call_state::offered), "offered");
    EXPECT_EQ(to_string(call_state::accepted), "accepted");
    EXPECT_EQ(to_string(call_state::closed), "closed");
}

TEST(call_state, to_string_and_parse_round_trip) {
    for (auto s : all_states) {
        SCOPED_TRACE(std::string(to_string(s)));
        EXPECT_EQ(parse_call_state(to_string(s)), s);
    }
}

TEST(call_state, parse_rejects_unknown_names) {
    EXPECT_EQ(parse_call_state(""), std::nullopt);
    EXPECT_EQ(parse_call_state("RECEIVED"), std::nullopt);
    EXPECT_EQ(parse_call_state("closed "), std::nullopt);
    EXPECT_EQ(parse_call_state("clos"), std::nullopt);
    EXPECT_EQ(parse_call_state("waiting"), std::nullopt);
    EXPECT_EQ(parse_call_state("?"), std::nullopt);
}

TEST(call_state, device_view_tells_the_resident_what_is_happening) {
    EXPECT_EQ(device_view(call_state::received), dv::RECEIVED);
    EXPECT_EQ(device_view(call_state::offered), dv::OFFERED);
    EXPECT_EQ(device_view(call_state::accepted), dv::OPERATOR_ASSIGNED);  // "help is coming"
    EXPECT_EQ(device_view(call_state::closed), dv::CLOSED);
}

TEST(call_state, alarm_type_names) {
    EXPECT_EQ(alarm_type_name(dv::SOS), "sos");
    EXPECT_EQ(alarm_type_name(dv::FALL), "fall");
    EXPECT_EQ(alarm_type_name(dv::MEDICAL), "medical");
    EXPECT_EQ(alarm_type_name(dv::SMOKE), "smoke");
    EXPECT_EQ(alarm_type_name(dv::INACTIVITY), "inactivity");
    EXPECT_EQ(alarm_type_name(dv::LOW_BATTERY), "low_battery");
    EXPECT_EQ(alarm_type_name(dv::TAMPER), "tamper");
    EXPECT_EQ(alarm_type_name(dv::POWER_LOSS), "power_loss");
    EXPECT_EQ(alarm_type_name(dv::ALARM_TYPE_UNSPECIFIED), "unspecified");
    EXPECT_EQ(alarm_type_name(static_cast<dv::AlarmType>(999)), "unspecified");
}

TEST(call_state, every_valid_alarm_type_has_its_own_name) {
    std::set<std::string> names;
    for (int t = dv::AlarmType_MIN; t <= dv::AlarmType_MAX; ++t) {
        if (!valid_alarm_type(t)) continue;
        const std::string n(alarm_type_name(static_cast<dv::AlarmType>(t)));
        EXPECT_NE(n, "unspecified") << "type " << t;
        names.insert(n);
    }
    EXPECT_EQ(names.size(), 8u);
}

TEST(call_state, valid_alarm_types_are_1_to_8) {
    for (int t = 1; t <= 8; ++t) EXPECT_TRUE(valid_alarm_type(t)) << t;
    EXPECT_FALSE(valid_alarm_type(0));
    EXPECT_FALSE(valid_alarm_type(9));
    EXPECT_FALSE(valid_alarm_type(999));
    EXPECT_FALSE(valid_alarm_type(-1));
}

TEST(call_state, valid_outcomes) {
    for (const char* o : {"resolved_by_phone", "staff_visited", "ambulance_called",
                          "family_contacted", "false_alarm", "technical"}) {
        EXPECT_TRUE(valid_outcome(o)) << o;
    }
    for (const char* o :
         {"", "resolved", "Resolved_by_phone", "false_alarm ", "cancelled", "closed"}) {
        EXPECT_FALSE(valid_outcome(o)) << '"' << o << '"';
    }
}

}  // namespace
}  // namespace anxin::dispatcher
