// A console's WebSocket text message, as console_session::run() treats it: at most 64 KiB
// (read_message_max), parsed with google::protobuf::util::JsonStringToMessage and the default
// JsonParseOptions (unknown fields refused) into a ConsoleRequest; a message that does not parse
// is answered with an Error event carrying the parser's message, one that parses gets events
// echoing its `req`. Every event goes out through to_console_json (proto_json.cpp).
//
// Invariants:
//  - what the server writes back is valid JSON that parses back into the same event, and is
//    byte for byte what protobuf's own printer writes (the console protocol is its mapping)
//    unless it quotes bytes that are not UTF-8 (Beast checks text frames, not binary ones);
//  - it is well-formed UTF-8: a browser closes a WebSocket that sends a text frame that is not;
//  - a request that parsed prints, parses again and prints the same (a fixed point).
//
// Input: one text message (a JSON object), as protocol/CONSOLE.md shows them.

#include "anxin/dispatcher/proto_json.hpp"

#include "console.pb.h"
#include "fuzz_check.hpp"

#include <google/protobuf/util/json_util.h>

#include <string>
#include <string_view>

namespace cv = anxin::console::v1;
namespace pu = google::protobuf::util;

namespace {

constexpr std::size_t max_console_message = 64 * 1024;  // console_session.cpp

std::string reference_json(const google::protobuf::Message& m) {
    std::string out;
    pu::JsonPrintOptions opts;
    opts.preserve_proto_field_names = true;  // as tests/dispatcher/proto_json_test.cpp
    FUZZ_CHECK(pu::MessageToJsonString(m, &out, opts).ok());
    return out;
}

// What the console receives for `ev`: checked against protobuf, UTF-8 and a read back.
void check_event(const cv::ConsoleEvent& ev) {
    const std::string ours = anxin::dispatcher::to_proto3_json(ev);
    FUZZ_CHECK(anxin::fuzz::valid_utf8(ours));
    // The parser's message quotes a binary frame's raw bytes: there the two differ on purpose.
    if (anxin::fuzz::strings_are_utf8(ev)) FUZZ_CHECK(ours == reference_json(ev));
    cv::ConsoleEvent back;
    FUZZ_CHECK(pu::JsonStringToMessage(ours, &back).ok());
    FUZZ_CHECK(anxin::dispatcher::to_proto3_json(back) == ours);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    anxin::fuzz::quiet_protobuf();
    if (size > max_console_message) return -1;  // Beast refuses it before the parser sees it
    const std::string text(reinterpret_cast<const char*>(data), size);

    cv::ConsoleRequest request;
    auto status = pu::JsonStringToMessage(text, &request);
    if (!status.ok()) {
        // console_session: send_error("", "bad_request", "not a ConsoleRequest: " + message).
        cv::ConsoleEvent ev;
        ev.mutable_error()->set_code("bad_request");
        ev.mutable_error()->set_message("not a ConsoleRequest: " + std::string(status.message()));
        check_event(ev);
        return 0;
    }

    // The request itself prints and reads back to the same thing.
    const std::string printed = anxin::dispatcher::to_proto3_json(request);
    FUZZ_CHECK(printed == reference_json(request));
    cv::ConsoleRequest again;
    FUZZ_CHECK(pu::JsonStringToMessage(printed, &again).ok());
    FUZZ_CHECK(anxin::dispatcher::to_proto3_json(again) == printed);

    // The replies that echo what the console sent: its req, and a call id or text in errors
    // ("no such call", "taken by ...") and events (a note's text).
    cv::ConsoleEvent err;
    err.set_req(request.req());
    err.mutable_error()->set_code("not_found");
    err.mutable_error()->set_message("no such call");
    err.mutable_error()->set_call_id(request.accept().call_id() + request.close().call_id());
    check_event(err);

    cv::ConsoleEvent note;
    note.set_req(request.req());
    note.mutable_note_added()->set_call_id(request.add_note().call_id());
    auto* n = note.mutable_note_added()->mutable_note();
    n->set_operator_id(request.login().operator_id());
    n->set_text(request.add_note().text() + request.close().note() + request.transfer().note());
    n->set_time_ms(static_cast<std::int64_t>(text.size()) * 1'000'003);
    check_event(note);
    return 0;
}
