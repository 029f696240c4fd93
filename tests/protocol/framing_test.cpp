// Tests for the device link framing (protocol/include/anxin/protocol/framing.hpp): the decoder is
// fed the way a socket delivers bytes — one at a time, in arbitrary chunks, several frames at
// once — and the worked byte examples of protocol/README.md are decoded as a device maker would.

#include "anxin/protocol/framing.hpp"

#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "device.pb.h"

namespace anxin::protocol {
namespace {

namespace dv = anxin::device::v1;
using status = frame_decoder::status;

// "06 1a 04" -> the 3 bytes; the notation protocol/README.md uses.
std::string bytes_from_hex(std::string_view hex) {
    std::string out;
    int nibbles = 0;
    unsigned value = 0;
    for (char c : hex) {
        if (c == ' ' || c == '\n') continue;
        unsigned v = 0;
        if (c >= '0' && c <= '9') {
            v = static_cast<unsigned>(c - '0');
        } else if (c >= 'a' && c <= 'f') {
            v = static_cast<unsigned>(c - 'a' + 10);
        } else {
            ADD_FAILURE() << "bad hex digit '" << c << "' in " << hex;
            return out;
        }
        value = value * 16 + v;
        if (++nibbles == 2) {
            out.push_back(static_cast<char>(value));
            nibbles = 0;
            value = 0;
        }
    }
    EXPECT_EQ(nibbles, 0) << "odd number of hex digits in " << hex;
    return out;
}

std::string varint(std::uint64_t v) {
    std::string out;
    while (v >= 0x80) {
        out.push_back(static_cast<char>((v & 0x7F) | 0x80));
        v >>= 7;
    }
    out.push_back(static_cast<char>(v));
    return out;
}

template <class Message>
::testing::AssertionResult parses_to(std::string_view body, const Message& expected) {
    Message actual;
    if (!actual.ParseFromArray(body.data(), static_cast<int>(body.size()))) {
        return ::testing::AssertionFailure() << "body does not parse as " << expected.GetTypeName();
    }
    if (!google::protobuf::util::MessageDifferencer::Equals(actual, expected)) {
        return ::testing::AssertionFailure() << "parsed\n"
                                             << actual.DebugString() << "expected\n"
                                             << expected.DebugString();
    }
    return ::testing::AssertionSuccess();
}

// Pulls frames until the decoder needs more bytes; an error fails the test.
std::vector<std::string> drain(frame_decoder& d) {
    std::vector<std::string> frames;
    for (;;) {
        auto r = d.next();
        if (r.st == status::need_more) return frames;
        if (r.st == status::error) {
            ADD_FAILURE() << "unexpected decoder error: " << to_string(r.error);
            return frames;
        }
        frames.emplace_back(r.body);
    }
}

// A realistic conversation from a device, including a frame whose length prefix needs 2 bytes.
std::vector<dv::DeviceMessage> sample_messages() {
    std::vector<dv::DeviceMessage> out;
    {
        dv::DeviceMessage m;
        auto* h = m.mutable_hello();
        h->set_device_id("dev-000001");
        h->set_hmac(std::string(32, '\xA5'));
        h->set_protocol_version(1);
        h->set_firmware("wall-unit-v1 2.3.1");
        out.push_back(m);
    }
    {
        dv::DeviceMessage m;
        auto* a = m.mutable_alarm();
        a->set_sequence(300);
        a->set_type(dv::SOS);
        a->set_device_time_ms(1763800000000);
        a->set_battery_percent(87);
        a->set_has_battery(true);
        out.push_back(m);
    }
    {
        dv::DeviceMessage m;
        m.mutable_heartbeat()->set_battery_percent(86);
        m.mutable_heartbeat()->set_has_battery(true);
        out.push_back(m);
    }
    {
        dv::DeviceMessage m;
        m.mutable_cancel()->set_sequence(301);
        m.mutable_cancel()->set_call_id("C0000042");
        out.push_back(m);
    }
    {
        dv::DeviceMessage m;
        auto* h = m.mutable_hello();
        h->set_device_id("dev-000002");
        h->set_firmware(std::string(300, 'f'));  // body > 127 bytes: 2-byte length prefix
        out.push_back(m);
    }
    return out;
}

std::string encode_all(const std::vector<dv::DeviceMessage>& messages) {
    std::string stream;
    for (const auto& m : messages) append_frame(stream, m);
    return stream;
}

void expect_frames_are(const std::vector<std::string>& frames,
                       const std::vector<dv::DeviceMessage>& messages) {
    ASSERT_EQ(frames.size(), messages.size());
    for (std::size_t i = 0; i < frames.size(); ++i) {
        EXPECT_TRUE(parses_to(frames[i], messages[i])) << "frame " << i;
    }
}

TEST(framing, encode_frame_is_length_prefix_then_serialized_body) {
    const auto messages = sample_messages();
    for (const auto& m : messages) {
        const std::string body = m.SerializeAsString();
        EXPECT_EQ(encode_frame(m), varint(body.size()) + body);
    }
    // The last sample is the one whose prefix takes two bytes.
    EXPECT_GT(messages.back().ByteSizeLong(), 127u);
}

TEST(framing, append_frame_appends_after_existing_bytes) {
    const auto messages = sample_messages();
    std::string out = "prefix";
    append_frame(out, messages[0]);
    EXPECT_EQ(out, "prefix" + encode_frame(messages[0]));
}

TEST(framing, one_byte_at_a_time_yields_each_frame_when_its_last_byte_arrives) {
    const auto messages = sample_messages();
    const std::string stream = encode_all(messages);

    // Offsets one past the last byte of each frame.
    std::vector<std::size_t> frame_ends;
    std::size_t at = 0;
    for (const auto& m : messages) {
        at += encode_frame(m).size();
        frame_ends.push_back(at);
    }

    frame_decoder d;
    std::vector<std::string> frames;
    std::vector<std::size_t> seen_at;
    for (std::size_t i = 0; i < stream.size(); ++i) {
        d.feed(stream.substr(i, 1));
        for (auto& f : drain(d)) {
            frames.push_back(std::move(f));
            seen_at.push_back(i + 1);
        }
    }
    expect_frames_are(frames, messages);
    EXPECT_EQ(seen_at, frame_ends);
    EXPECT_EQ(d.buffered(), 0u);
}

TEST(framing, several_frames_in_one_chunk) {
    const auto messages = sample_messages();
    frame_decoder d;
    d.feed(encode_all(messages));
    expect_frames_are(drain(d), messages);
    EXPECT_EQ(d.buffered(), 0u);
    EXPECT_EQ(d.next().st, status::need_more);
}

TEST(framing, several_frames_and_the_start_of_another_in_one_chunk) {
    const auto messages = sample_messages();
    const std::string stream = encode_all(messages);
    const std::string last = encode_frame(messages.back());
    const std::size_t cut =
        stream.size() - last.size() + 1;  // only the first prefix byte of the last

    frame_decoder d;
    d.feed(stream.substr(0, cut));
    auto frames = drain(d);
    EXPECT_EQ(frames.size(), messages.size() - 1);
    EXPECT_EQ(d.buffered(), 1u);
    d.feed(stream.substr(cut));
    for (auto& f : drain(d)) frames.push_back(std::move(f));
    expect_frames_are(frames, messages);
}

TEST(framing, stream_split_in_two_at_every_possible_point) {
    const auto messages = sample_messages();
    const std::string stream = encode_all(messages);
    for (std::size_t split = 0; split <= stream.size(); ++split) {
        SCOPED_TRACE("split at byte " + std::to_string(split));
        frame_decoder d;
        d.feed(stream.substr(0, split));
        auto frames = drain(d);
        d.feed(stream.substr(split));
        for (auto& f : drain(d)) frames.push_back(std::move(f));
        expect_frames_are(frames, messages);
        EXPECT_EQ(d.buffered(), 0u);
    }
}

TEST(framing, socket_style_prepare_and_short_commit) {
    // A read into prepare(n) that returns fewer than n bytes.
    const auto messages = sample_messages();
    const std::string stream = encode_all(messages);
    frame_decoder d;
    std::vector<std::string> frames;
    std::size_t at = 0;
    while (at < stream.size()) {
        auto space = d.prepare(64);
        ASSERT_EQ(space.size(), 64u);
        const std::size_t n = std::min<std::size_t>(7, stream.size() - at);
        std::memcpy(space.data(), stream.data() + at, n);
        d.commit(n);
        at += n;
        for (auto& f : drain(d)) frames.push_back(std::move(f));
    }
    expect_frames_are(frames, messages);
}

TEST(framing, zero_length_frame_is_an_empty_body) {
    frame_decoder d;
    d.feed(std::string("\x00", 1));
    auto r = d.next();
    ASSERT_EQ(r.st, status::frame);
    EXPECT_TRUE(r.body.empty());
    EXPECT_EQ(d.buffered(), 0u);

    // An empty body is a valid frame holding a DeviceMessage with no body set (the server answers
    // UNEXPECTED_MESSAGE, not BAD_FRAME), and the frames around it are unaffected.
    dv::DeviceMessage empty;
    EXPECT_TRUE(empty.ParseFromArray(r.body.data(), 0));
    EXPECT_EQ(empty.body_case(), dv::DeviceMessage::BODY_NOT_SET);

    const auto messages = sample_messages();
    d.feed(encode_frame(messages[0]) + std::string("\x00", 1) + encode_frame(messages[1]));
    auto frames = drain(d);
    ASSERT_EQ(frames.size(), 3u);
    EXPECT_TRUE(parses_to(frames[0], messages[0]));
    EXPECT_TRUE(frames[1].empty());
    EXPECT_TRUE(parses_to(frames[2], messages[1]));
}

TEST(framing, body_of_exactly_max_size_is_accepted) {
    ASSERT_EQ(max_frame_body, 4096u);
    dv::DeviceMessage m;
    m.mutable_hello()->set_device_id("dev-000001");
    // hello: tag + 2-byte length; device_id: 2 + 10; firmware: tag + 2-byte length + text.
    m.mutable_hello()->set_firmware(std::string(max_frame_body - 3 - 12 - 3, 'x'));
    ASSERT_EQ(m.ByteSizeLong(), max_frame_body);

    const std::string frame = encode_frame(m);
    EXPECT_EQ(frame.substr(0, 2), bytes_from_hex("80 20"));  // 4096 as a varint

    frame_decoder d;
    d.feed(frame);
    auto r = d.next();
    ASSERT_EQ(r.st, status::frame) << to_string(r.error);
    EXPECT_EQ(r.body.size(), max_frame_body);
    EXPECT_TRUE(parses_to(r.body, m));
}

TEST(framing, body_one_over_max_is_rejected_as_soon_as_the_length_is_known) {
    const std::string prefix = varint(max_frame_body + 1);
    ASSERT_EQ(prefix, bytes_from_hex("81 20"));

    frame_decoder d;
    d.feed(prefix.substr(0, 1));
    EXPECT_EQ(d.next().st, status::need_more);  // length not complete yet
    d.feed(prefix.substr(1));
    // No body byte has arrived: the server must not wait for (and buffer) 4097 bytes.
    auto r = d.next();
    EXPECT_EQ(r.st, status::error);
    EXPECT_EQ(r.error, frame_error::too_large);
}

TEST(framing, decoder_limit_is_configurable) {
    frame_decoder d(10);
    d.feed(varint(10) + std::string(10, 'a') + varint(11));
    auto r = d.next();
    ASSERT_EQ(r.st, status::frame);
    EXPECT_EQ(r.body, std::string(10, 'a'));
    r = d.next();
    EXPECT_EQ(r.st, status::error);
    EXPECT_EQ(r.error, frame_error::too_large);
}

TEST(framing, huge_declared_length_is_too_large) {
    frame_decoder d;
    d.feed(bytes_from_hex("ff ff ff ff 0f"));  // 0xFFFFFFFF, the largest varint32
    auto r = d.next();
    EXPECT_EQ(r.st, status::error);
    EXPECT_EQ(r.error, frame_error::too_large);
}

TEST(framing, five_byte_length_prefix_is_allowed) {
    // Non-minimal but legal: 5 bytes encoding 5.
    frame_decoder d;
    d.feed(bytes_from_hex("85 80 80 80 00") + "hello");
    auto r = d.next();
    ASSERT_EQ(r.st, status::frame) << to_string(r.error);
    EXPECT_EQ(r.body, "hello");
}

TEST(framing, six_byte_varint_is_bad_varint) {
    frame_decoder d;
    d.feed(bytes_from_hex("80 80 80 80 80 00"));
    auto r = d.next();
    EXPECT_EQ(r.st, status::error);
    EXPECT_EQ(r.error, frame_error::bad_varint);
}

TEST(framing, fifth_byte_with_continuation_bit_is_bad_varint_without_waiting_for_a_sixth) {
    frame_decoder d;
    d.feed(bytes_from_hex("80 80 80 80"));
    EXPECT_EQ(d.next().st, status::need_more);
    d.feed(bytes_from_hex("80"));
    auto r = d.next();
    EXPECT_EQ(r.st, status::error);
    EXPECT_EQ(r.error, frame_error::bad_varint);
}

TEST(framing, fifth_byte_with_bits_beyond_32_is_bad_varint) {
    for (std::string_view fifth : {"10", "20", "40", "7f", "1f"}) {
        SCOPED_TRACE(fifth);
        frame_decoder d;
        d.feed(bytes_from_hex("ff ff ff ff") + bytes_from_hex(fifth));
        auto r = d.next();
        EXPECT_EQ(r.st, status::error);
        EXPECT_EQ(r.error, frame_error::bad_varint);
    }
}

TEST(framing, decoder_stays_in_error_after_an_error) {
    const auto messages = sample_messages();
    for (auto [bad, expected] :
         {std::pair{bytes_from_hex("81 20"), frame_error::too_large},
          std::pair{bytes_from_hex("ff ff ff ff 1f"), frame_error::bad_varint}}) {
        SCOPED_TRACE(to_string(expected));
        frame_decoder d;
        d.feed(bad);
        ASSERT_EQ(d.next().error, expected);
        // Well-formed frames afterwards are never returned: the stream cannot be trusted.
        d.feed(encode_all(messages));
        for (int i = 0; i < 3; ++i) {
            auto r = d.next();
            EXPECT_EQ(r.st, status::error);
            EXPECT_EQ(r.error, expected);
            EXPECT_TRUE(r.body.empty());
        }
    }
}

TEST(framing, error_after_good_frames_keeps_the_good_frames) {
    const auto messages = sample_messages();
    frame_decoder d;
    d.feed(encode_frame(messages[0]) + encode_frame(messages[1]) +
           bytes_from_hex("ff ff ff ff ff"));
    auto r = d.next();
    ASSERT_EQ(r.st, status::frame);
    EXPECT_TRUE(parses_to(r.body, messages[0]));
    r = d.next();
    ASSERT_EQ(r.st, status::frame);
    EXPECT_TRUE(parses_to(r.body, messages[1]));
    r = d.next();
    EXPECT_EQ(r.st, status::error);
    EXPECT_EQ(r.error, frame_error::bad_varint);
}

TEST(framing, error_names_are_distinct) {
    EXPECT_STREQ(to_string(frame_error::none), "none");
    EXPECT_STRNE(to_string(frame_error::too_large), to_string(frame_error::bad_varint));
    EXPECT_STRNE(to_string(frame_error::too_large), "none");
    EXPECT_STRNE(to_string(frame_error::bad_varint), "none");
}

// Whole-buffer reference decoder, written from protocol/README.md "Framing", to check the
// incremental one against.
struct reference_result {
    std::vector<std::string> frames;
    std::optional<frame_error> error;  // nullopt: stopped needing more bytes
};

reference_result reference_decode(std::string_view in, std::size_t max_body) {
    reference_result out;
    std::size_t at = 0;
    for (;;) {
        std::uint64_t len = 0;
        std::size_t i = 0;
        for (;; ++i) {
            if (at + i == in.size()) return out;
            const auto b = static_cast<unsigned char>(in[at + i]);
            if (i == 4 && b > 0x0F) {
                out.error = frame_error::bad_varint;
                return out;
            }
            len |= static_cast<std::uint64_t>(b & 0x7F) << (7 * i);
            if ((b & 0x80) == 0) break;
        }
        if (len > max_body) {
            out.error = frame_error::too_large;
            return out;
        }
        const std::size_t body_at = at + i + 1;
        if (in.size() - body_at < len) return out;
        out.frames.emplace_back(in.substr(body_at, len));
        at = body_at + len;
    }
}

TEST(framing, random_garbage_in_random_chunks_matches_the_reference_and_never_crashes) {
    std::mt19937_64 rng(20261122);
    int rounds_with_frames = 0, too_large = 0, bad_varint = 0, need_more = 0;
    for (int round = 0; round < 500; ++round) {
        SCOPED_TRACE("round " + std::to_string(round));
        std::string garbage(rng() % 600, '\0');
        // Mostly small bytes, so that many rounds contain several short frames; sometimes any byte.
        const bool small = round % 2 == 0;
        for (auto& c : garbage) c = static_cast<char>(small ? rng() % 0x30 : rng() % 256);
        // A limit well above typical garbage lengths makes multi-byte prefixes yield frames too.
        const std::size_t limit = round % 3 == 0 ? 20000 : max_frame_body;
        const auto expected = reference_decode(garbage, limit);

        frame_decoder d(limit);
        std::vector<std::string> frames;
        std::optional<frame_error> error;
        std::size_t at = 0;
        while (at < garbage.size() && !error) {
            const std::size_t n = std::min<std::size_t>(1 + rng() % 40, garbage.size() - at);
            d.feed(std::string_view(garbage).substr(at, n));
            at += n;
            for (;;) {
                auto r = d.next();
                if (r.st == status::need_more) break;
                if (r.st == status::error) {
                    error = r.error;
                    break;
                }
                EXPECT_LE(r.body.size(), limit);
                frames.emplace_back(r.body);
            }
        }
        EXPECT_EQ(frames, expected.frames);
        EXPECT_EQ(error, expected.error);
        if (!error) {
            std::size_t framed = 0;
            for (const auto& f : frames) framed += f.size();
            EXPECT_LE(d.buffered(), garbage.size() - framed);
        }
        if (!frames.empty()) ++rounds_with_frames;
        if (error == frame_error::too_large) ++too_large;
        if (error == frame_error::bad_varint) ++bad_varint;
        if (!error) ++need_more;
    }
    // The garbage exercised every outcome, so the comparison above means something.
    EXPECT_GT(rounds_with_frames, 100);
    EXPECT_GT(too_large, 10);
    EXPECT_GT(bad_varint, 0);
    EXPECT_GT(need_more, 10);
}

// --- protocol/README.md worked examples, byte for byte --------------------------------------

template <class Message>
void expect_single_frame(const std::string& wire, const Message& expected) {
    frame_decoder d;
    d.feed(wire);
    auto r = d.next();
    ASSERT_EQ(r.st, status::frame) << to_string(r.error);
    EXPECT_TRUE(parses_to(r.body, expected));
    EXPECT_EQ(d.buffered(), 0u) << "README frame has trailing bytes";
    // And our encoder produces exactly the documented bytes.
    EXPECT_EQ(encode_frame(expected), wire);
}

std::string nonce_00_to_1f() {
    std::string nonce;
    for (int i = 0; i < 32; ++i) nonce.push_back(static_cast<char>(i));
    return nonce;
}

TEST(framing_readme, heartbeat_example) {
    dv::DeviceMessage m;
    m.mutable_heartbeat()->set_battery_percent(87);
    m.mutable_heartbeat()->set_has_battery(true);
    expect_single_frame(bytes_from_hex("06 1a 04 08 57 10 01"), m);
}

TEST(framing_readme, alarm_example) {
    dv::DeviceMessage m;
    auto* a = m.mutable_alarm();
    a->set_sequence(300);
    a->set_type(dv::SOS);
    a->set_device_time_ms(1763800000000);
    a->set_battery_percent(87);
    a->set_has_battery(true);
    expect_single_frame(bytes_from_hex("12 12 10 08 ac 02 10 01 18 80 cc b0 d5 aa 33 20 57 28 01"),
                        m);
}

TEST(framing_readme, handshake_challenge_example) {
    dv::ServerMessage m;
    m.mutable_challenge()->set_nonce(nonce_00_to_1f());
    m.mutable_challenge()->set_protocol_version(1);
    expect_single_frame(
        bytes_from_hex("26 0a 24 0a 20") + nonce_00_to_1f() + bytes_from_hex("10 01"), m);
}

TEST(framing_readme, handshake_hello_example) {
    const std::string hmac =
        bytes_from_hex("da7164a2bac13505f97e4d5e630fa9e59f47e8ea74fb7b30c59a1ec4cb355363");
    dv::DeviceMessage m;
    m.mutable_hello()->set_device_id("dev-000001");
    m.mutable_hello()->set_hmac(hmac);
    m.mutable_hello()->set_protocol_version(1);
    // README: "32 0a 30 0a 0a 64 65 76 2d 30 30 30 30 30 31 12 20 da 71 64 … 53 63 18 01"
    const std::string wire = bytes_from_hex("32 0a 30 0a 0a 64 65 76 2d 30 30 30 30 30 31 12 20") +
                             hmac + bytes_from_hex("18 01");
    ASSERT_EQ(wire.substr(17, 3), bytes_from_hex("da 71 64"));
    ASSERT_EQ(wire.substr(wire.size() - 4), bytes_from_hex("53 63 18 01"));
    expect_single_frame(wire, m);
}

TEST(framing_readme, handshake_welcome_example) {
    dv::ServerMessage m;
    m.mutable_welcome()->set_heartbeat_interval_s(60);
    m.mutable_welcome()->set_server_time_ms(1763800000123);
    expect_single_frame(bytes_from_hex("0b 12 09 08 3c 10 fb cc b0 d5 aa 33"), m);
}

TEST(framing_readme, handshake_rejected_example) {
    dv::ServerMessage m;
    m.mutable_rejected()->set_reason(dv::BAD_HMAC);
    m.mutable_rejected()->set_detail("authentication failed");
    expect_single_frame(bytes_from_hex("1b 1a 19 08 02 12 15") + "authentication failed", m);
}

TEST(framing_readme, whole_handshake_from_the_server_arrives_in_one_read) {
    dv::ServerMessage challenge;
    challenge.mutable_challenge()->set_nonce(nonce_00_to_1f());
    challenge.mutable_challenge()->set_protocol_version(1);
    dv::ServerMessage welcome;
    welcome.mutable_welcome()->set_heartbeat_interval_s(60);
    welcome.mutable_welcome()->set_server_time_ms(1763800000123);

    frame_decoder d;
    d.feed(bytes_from_hex("26 0a 24 0a 20") + nonce_00_to_1f() + bytes_from_hex("10 01") +
           bytes_from_hex("0b 12 09 08 3c 10 fb cc b0 d5 aa 33"));
    auto frames = drain(d);
    ASSERT_EQ(frames.size(), 2u);
    EXPECT_TRUE(parses_to(frames[0], challenge));
    EXPECT_TRUE(parses_to(frames[1], welcome));
}

}  // namespace
}  // namespace anxin::protocol
