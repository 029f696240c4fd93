// proto_json writes the same text as protobuf's own JSON printer (the console protocol is its
// proto3 JSON mapping), for every kind of field the protocols use and every ASCII character.

#include "anxin/dispatcher/proto_json.hpp"

#include "admin.pb.h"
#include "console.pb.h"
#include "device.pb.h"

#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

namespace cv = anxin::console::v1;
namespace dv = anxin::device::v1;
using anxin::dispatcher::to_proto3_json;

namespace {

std::string reference(const google::protobuf::Message& m) {
    std::string out;
    google::protobuf::util::JsonPrintOptions opts;
    opts.preserve_proto_field_names = true;
    EXPECT_TRUE(google::protobuf::util::MessageToJsonString(m, &out, opts).ok());
    return out;
}

cv::ConsoleEvent full_offer() {
    cv::ConsoleEvent ev;
    ev.set_req("r-1");
    auto* o = ev.mutable_offer();
    auto* c = o->mutable_call();
    c->set_id("C0000042");
    c->set_state("offered");
    c->set_alarm_type("sos");
    c->set_device_id("dev-000001");
    c->set_resident_id("res-000001");
    c->set_received_ms(1795398029607);
    c->set_station_id("st-a");
    c->set_station_name("中仓站 Zhongcang station");
    c->set_distance_km(0.123);
    c->set_battery_percent(-1);
    c->set_priority(1);
    c->set_priority_name("emergency");
    c->set_at_command_centre(true);
    c->add_tier_station_ids("st-a");
    c->add_tier_station_ids("st-b");
    auto* n = c->add_notes();
    n->set_time_ms(1);
    n->set_operator_id("op-1");
    n->set_text("line one\nline \"two\"\t<b>&'x'</b> \\ end");
    auto* r = o->mutable_resident();
    r->set_name("王桂兰");
    r->set_age(87);
    auto* k = r->add_key_holders();
    k->set_name("Li Na");
    k->set_phone("+86 138 0000 0001");
    auto* d = r->add_devices();
    d->set_id("dev-000001");
    d->set_battery_percent(55);
    d->set_last_seen_ms(1795398000000);
    d->set_online(true);
    auto* rc = r->add_recent_calls();
    rc->set_id("C0000041");
    rc->set_received_ms(1795390000000);
    return ev;
}

TEST(ProtoJson, OfferWithCardIsWhatProtobufWrites) {
    auto ev = full_offer();
    EXPECT_EQ(to_proto3_json(ev), reference(ev));
}

TEST(ProtoJson, EmptyAndDefaultFieldsAreOmittedAndEmptyMessagesKept) {
    cv::ConsoleEvent ev;
    EXPECT_EQ(to_proto3_json(ev), reference(ev));
    ev.mutable_pong();
    EXPECT_EQ(to_proto3_json(ev), "{\"pong\":{}}");
    EXPECT_EQ(to_proto3_json(ev), reference(ev));
    cv::Call c;
    c.set_distance_km(0.0);
    c.set_at_command_centre(false);
    c.set_priority(0);
    EXPECT_EQ(to_proto3_json(c), reference(c));
}

TEST(ProtoJson, EveryAsciiCharacterAndLineSeparatorsEscapeTheSame) {
    std::string all;
    for (int ch = 1; ch < 128; ++ch) all.push_back(static_cast<char>(ch));
    all += "\xE2\x80\xA8 \xE2\x80\xA9 \xE2\x82\xAC 安心";
    cv::Note n;
    n.set_text(all);
    EXPECT_EQ(to_proto3_json(n), reference(n));
    for (int ch = 1; ch < 128; ++ch) {
        n.set_text(std::string(1, static_cast<char>(ch)));
        EXPECT_EQ(to_proto3_json(n), reference(n)) << "character " << ch;
    }
}

// Found by tests/fuzz/console_request_fuzz: protobuf writes the C1 controls and the invisible
// format characters as \u escapes (a bad_request error quoted "\xC2\x89" raw).
TEST(ProtoJson, EveryCodePointEscapesTheSame) {
    auto utf8 = [](std::uint32_t cp) {
        std::string s;
        if (cp < 0x800) {
            s += static_cast<char>(0xC0 | (cp >> 6));
        } else if (cp < 0x10000) {
            s += static_cast<char>(0xE0 | (cp >> 12));
            s += static_cast<char>(0x80 | ((cp >> 6) & 63));
        } else {
            s += static_cast<char>(0xF0 | (cp >> 18));
            s += static_cast<char>(0x80 | ((cp >> 12) & 63));
            s += static_cast<char>(0x80 | ((cp >> 6) & 63));
        }
        s += static_cast<char>(0x80 | (cp & 63));
        return s;
    };
    // Many code points a message: one printer call per code point would take half a minute.
    cv::Call c;
    for (std::uint32_t cp = 0x80; cp <= 0x10FFFF; ++cp) {
        if (cp >= 0xD800 && cp <= 0xDFFF) continue;
        c.add_tier_station_ids(utf8(cp));
        if (c.tier_station_ids_size() == 4096 || cp == 0x10FFFF) {
            ASSERT_EQ(to_proto3_json(c), reference(c)) << "code points up to " << cp;
            c.clear_tier_station_ids();
        }
    }
}

// Also from the fuzzer: the JSON parser's error message quotes the raw input, which a binary
// WebSocket frame may fill with anything; the event must still be UTF-8 (a browser closes a
// WebSocket whose text frame is not), so stray bytes become U+FFFD.
TEST(ProtoJson, BytesThatAreNotUtf8BecomeReplacementCharacters) {
    cv::ConsoleEvent ev;
    ev.mutable_error()->set_message(
        std::string("a\xB0"
                    "b\xFF\xC1\x93\xE4\xB8\"\xED\xA0\x80"
                    "z\xE4"));
    const std::string r = "\xEF\xBF\xBD";
    EXPECT_EQ(to_proto3_json(ev), "{\"error\":{\"message\":\"a" + r + "b" + r + r + r + r + r +
                                      "\\\"" + r + r + r + "z" + r + "\"}}");
    cv::ConsoleEvent back;
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(to_proto3_json(ev), &back).ok());
}

TEST(ProtoJson, NumbersAndDoublesReadBackAsProtobufPrintsThem) {
    cv::Call c;
    for (double v : {0.1, 1.0 / 3, 12.345, 1e-7, 123456789.125, 6371.0088, -0.5, 1e21, 2.5e-300}) {
        c.set_distance_km(v);
        c.set_received_ms(-1234567890123LL);
        c.set_battery_percent(-7);
        EXPECT_EQ(to_proto3_json(c), reference(c)) << v;
    }
}

TEST(ProtoJson, DeviceMessagesWithEnumsAndBytes) {
    dv::ServerMessage m;
    auto* u = m.mutable_call_update();
    u->set_call_id("C1");
    u->set_state(dv::OPERATOR_ASSIGNED);
    u->set_server_time_ms(5);
    EXPECT_EQ(to_proto3_json(m), reference(m));
    for (const std::string& nonce :
         std::vector<std::string>{"", "a", "ab", "abc", "abcd", std::string("\0\xff\x10", 3)}) {
        dv::ServerMessage ch;
        ch.mutable_challenge()->set_nonce(nonce);
        EXPECT_EQ(to_proto3_json(ch), reference(ch)) << nonce.size();
    }
}

// CallRecord declares resident (3) before history (2). Protobuf's printer renders the serialised
// form, so fields come in number order whatever the declaration order (found by the fuzzer).
TEST(ProtoJson, FieldsComeInNumberOrderNotDeclarationOrder) {
    anxin::admin::v1::CallRecord rec;
    rec.mutable_call()->set_id("C1");
    rec.mutable_resident()->set_name("Wang");
    rec.add_history()->set_event("received");
    const std::string ours = to_proto3_json(rec);
    EXPECT_EQ(ours, reference(rec));
    EXPECT_LT(ours.find("\"history\""), ours.find("\"resident\"")) << ours;
    anxin::admin::v1::CallRecord empty_parts;
    empty_parts.mutable_resident();
    empty_parts.add_history();
    EXPECT_EQ(to_proto3_json(empty_parts), reference(empty_parts));
}

}  // namespace
