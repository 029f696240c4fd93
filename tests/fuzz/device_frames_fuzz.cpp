// The device port's input path, as device_session::reader() runs it: a byte stream read into
// protocol::frame_decoder in reads of any size, each complete frame parsed as a DeviceMessage,
// then the pure checks the session makes on a Hello and an Alarm.
//
// Invariants, beyond "no crash, no sanitizer report":
//  - the decoder's answer does not depend on how the stream is split into reads: all at once, a
//    byte at a time, and reads of sizes drawn from the input give the same frames and the same
//    final state (error or bytes left over);
//  - no frame exceeds the limit; each consumes its body plus a 1..5 byte length;
//  - once in error, the decoder stays in the same error;
//  - a parsed message, framed again with encode_frame, decodes to one frame with exactly its
//    serialisation, and that serialisation is stable (parse + serialise is a fixed point).
//
// Input: the raw bytes a device sends after the TCP (or TLS) handshake.

#include "anxin/dispatcher/call_state.hpp"
#include "anxin/dispatcher/press_identity.hpp"
#include "anxin/protocol/device_auth.hpp"
#include "anxin/protocol/framing.hpp"

#include "device.pb.h"
#include "fuzz_check.hpp"

#include <algorithm>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace dv = anxin::device::v1;
namespace ad = anxin::dispatcher;
namespace ap = anxin::protocol;

namespace {

struct outcome {
    std::vector<std::string> frames;
    ap::frame_decoder::status last = ap::frame_decoder::status::need_more;
    ap::frame_error error = ap::frame_error::none;
    std::size_t left = 0;  // buffered() at the end
};

// Feeds `stream` in reads of the given sizes the way the session does (prepare(512) or more,
// read into it, commit what was read) and pulls every frame after each read.
outcome decode(std::string_view stream, const std::vector<std::size_t>& reads) {
    outcome out;
    ap::frame_decoder dec;
    std::size_t at = 0;
    for (std::size_t n : reads) {
        auto space = dec.prepare(std::max<std::size_t>(n, 512));
        FUZZ_CHECK(space.size() >= n);
        std::memcpy(space.data(), stream.data() + at, n);
        dec.commit(n);
        at += n;
        for (;;) {
            const std::size_t before = dec.buffered();
            auto r = dec.next();
            out.last = r.st;
            if (r.st == ap::frame_decoder::status::need_more) {
                FUZZ_CHECK(r.error == ap::frame_error::none);
                FUZZ_CHECK(dec.buffered() == before);
                break;
            }
            if (r.st == ap::frame_decoder::status::error) {
                FUZZ_CHECK(r.error != ap::frame_error::none);
                // Sticky: asking again gives the same answer.
                auto again = dec.next();
                FUZZ_CHECK(again.st == ap::frame_decoder::status::error);
                FUZZ_CHECK(again.error == r.error);
                out.error = r.error;
                out.left = dec.buffered();
                return out;
            }
            FUZZ_CHECK(r.body.size() <= ap::max_frame_body);
            const std::size_t used = before - dec.buffered();
            FUZZ_CHECK(used >= r.body.size() + 1);
            FUZZ_CHECK(used <= r.body.size() + ap::max_varint32_bytes);
            out.frames.emplace_back(r.body);
        }
    }
    FUZZ_CHECK(at == stream.size());
    out.left = dec.buffered();
    return out;
}

void check_same(const outcome& a, const outcome& b) {
    FUZZ_CHECK(a.frames == b.frames);
    FUZZ_CHECK(a.error == b.error);
    if (a.error == ap::frame_error::none) FUZZ_CHECK(a.left == b.left);
}

// The server's frames for a message: what it sends is what a decoder reads back.
void check_reframe(const google::protobuf::MessageLite& msg) {
    const std::string body = msg.SerializeAsString();
    const std::string framed = ap::encode_frame(msg);
    FUZZ_CHECK(framed.size() > body.size());
    FUZZ_CHECK(framed.size() <= body.size() + ap::max_varint32_bytes);
    FUZZ_CHECK(std::string_view(framed).substr(framed.size() - body.size()) == body);
    ap::frame_decoder dec(1 << 20);
    dec.feed(framed);
    auto r = dec.next();
    FUZZ_CHECK(r.st == ap::frame_decoder::status::frame);
    FUZZ_CHECK(r.body == body);
    FUZZ_CHECK(dec.buffered() == 0);
    FUZZ_CHECK(dec.next().st == ap::frame_decoder::status::need_more);
}

// What device_session does with one frame body, short of Redis.
void handle_frame(std::string_view body, dv::Alarm& previous_alarm, bool& have_previous) {
    dv::DeviceMessage msg;
    if (!msg.ParseFromArray(body.data(), static_cast<int>(body.size()))) return;
    check_reframe(msg);
    // Parse + serialise is a fixed point after one round (unknown fields kept, order settled).
    const std::string once = msg.SerializeAsString();
    dv::DeviceMessage again;
    FUZZ_CHECK(again.ParseFromString(once));
    FUZZ_CHECK(again.SerializeAsString() == once);

    switch (msg.body_case()) {
        case dv::DeviceMessage::kHello: {
            const auto& h = msg.hello();
            // The handshake's proof: a fixed secret and nonce, the device's hmac.
            static const std::string nonce(ap::nonce_bytes, '\x5a');
            const std::string expect = ap::hmac_sha256("0123456789abcdef", nonce);
            FUZZ_CHECK(expect.size() == 32);
            const bool ok = ap::constant_time_equal(expect, h.hmac());
            FUZZ_CHECK(ok == (expect == h.hmac()));
            FUZZ_CHECK(ap::to_hex(h.hmac()).size() == 2 * h.hmac().size());
            // The counter epoch as the dedupe key holds it: 16 hex digits, or none.
            const std::string epoch = ad::epoch_text(h.sequence_epoch());
            FUZZ_CHECK(h.sequence_epoch() == 0 ? epoch.empty() : epoch.size() == 16);
            if (!h.device_nonce().empty() && h.device_nonce().size() <= 64) {
                std::string proof_input = "anxin-welcome-v1" + nonce + h.device_nonce();
                FUZZ_CHECK(ap::hmac_sha256("0123456789abcdef", proof_input).size() == 32);
            }
            break;
        }
        case dv::DeviceMessage::kAlarm: {
            const auto& a = msg.alarm();
            if (!ad::valid_alarm_type(a.type())) break;  // nacked: INVALID_ALARM
            const auto name = ad::alarm_type_name(a.type());
            FUZZ_CHECK(!name.empty());
            if (have_previous) {
                // The same sequence again: is it a re-send or a new press? Times are Redis's.
                ad::recorded_press rec{"C1",
                                       std::string(ad::alarm_type_name(previous_alarm.type())),
                                       previous_alarm.device_time_ms(), 1'700'000'000'000, false};
                ad::incoming_press in{std::string(name), a.device_time_ms(), a.sequence() % 2 == 0,
                                      false};
                auto v = ad::classify_press(rec, in, 1'700'000'100'000);
                FUZZ_CHECK((v.match == ad::press_match::resend) == v.reason.empty());
                // An identical message is always a re-send.
                if (a.type() == previous_alarm.type() &&
                    a.device_time_ms() == previous_alarm.device_time_ms()) {
                    FUZZ_CHECK(v.match == ad::press_match::resend);
                }
            }
            previous_alarm = a;
            have_previous = true;
            break;
        }
        default:
            break;
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    anxin::fuzz::quiet_protobuf();
    const std::string_view stream(reinterpret_cast<const char*>(data), size);

    const outcome whole =
        decode(stream, size ? std::vector<std::size_t>{size} : std::vector<std::size_t>{});
    // A byte at a time costs a buffer compaction per byte: long streams get the drawn reads only.
    const outcome bytewise =
        size <= 2048 ? decode(stream, std::vector<std::size_t>(size, 1)) : whole;
    const outcome chunked =
        decode(stream, anxin::fuzz::chunk_sizes(size, anxin::fuzz::hash_bytes(stream), 700));
    check_same(whole, bytewise);
    check_same(whole, chunked);

    dv::Alarm previous;
    bool have_previous = false;
    for (const auto& f : whole.frames) handle_frame(f, previous, have_previous);

    // The client side (device-sim, real devices) parses the server's messages out of the same
    // framing: the same bodies as ServerMessage must not trouble it either.
    for (const auto& f : whole.frames) {
        dv::ServerMessage m;
        if (m.ParseFromArray(f.data(), static_cast<int>(f.size()))) check_reframe(m);
    }
    return 0;
}
