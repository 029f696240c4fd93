// Differential: proto_json.cpp (our reflection-driven JSON writer, which every console event and
// no other path goes through) against protobuf's MessageToJsonString with the options
// tests/dispatcher/proto_json_test.cpp holds it to (preserve_proto_field_names). A message is
// built from the input, both print it, and:
//  - the two texts are byte for byte the same when every string in the message is UTF-8;
//  - ours parses back (JsonStringToMessage, default options), and printing and parsing reach a
//    fixed point after one round;
//  - ours is well-formed UTF-8, even when a string in the message is not (a WebSocket text frame
//    must be; a browser drops the connection otherwise).
//
// Input: one byte choosing the message type and how to build it, then the rest:
//   low 3 bits: ConsoleEvent, ConsoleRequest, admin CallRecord, admin Report, admin Overview,
//               device ServerMessage, device DeviceMessage, admin ProvisionRequest;
//   bits 3-4:   0 binary protobuf, 1 proto3 JSON (unknown fields ignored), 2 a ConsoleEvent
//               whose strings are the raw bytes (what Redis or a log line could hand the
//               server), 3 binary as 0.

#include "anxin/dispatcher/proto_json.hpp"

#include "admin.pb.h"
#include "console.pb.h"
#include "device.pb.h"
#include "fuzz_check.hpp"

#include <google/protobuf/util/json_util.h>

#include <memory>
#include <string>
#include <string_view>

namespace cv = anxin::console::v1;
namespace dv = anxin::device::v1;
namespace adm = anxin::admin::v1;
namespace pb = google::protobuf;
namespace pu = google::protobuf::util;

namespace {

std::unique_ptr<pb::Message> make(unsigned which) {
    switch (which & 7) {
        case 0:
            return std::make_unique<cv::ConsoleEvent>();
        case 1:
            return std::make_unique<cv::ConsoleRequest>();
        case 2:
            return std::make_unique<adm::CallRecord>();
        case 3:
            return std::make_unique<adm::Report>();
        case 4:
            return std::make_unique<adm::Overview>();
        case 5:
            return std::make_unique<dv::ServerMessage>();
        case 6:
            return std::make_unique<dv::DeviceMessage>();
        default:
            return std::make_unique<adm::ProvisionRequest>();
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    anxin::fuzz::quiet_protobuf();
    if (size < 1) return -1;
    const unsigned selector = data[0];
    const std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
    auto msg = make(selector);
    switch ((selector >> 3) & 3) {
        case 1: {
            pu::JsonParseOptions po;
            po.ignore_unknown_fields = true;
            if (!pu::JsonStringToMessage(std::string(rest), msg.get(), po).ok()) return 0;
            break;
        }
        case 2: {
            // Strings as they come, in the fields a console shows.
            auto ev = std::make_unique<cv::ConsoleEvent>();
            const std::size_t half = rest.size() / 2;
            ev->set_req(std::string(rest.substr(0, half)));
            auto* n = ev->mutable_note_added()->mutable_note();
            n->set_text(std::string(rest.substr(half)));
            n->set_operator_id(std::string(rest.substr(0, half / 2)));
            msg = std::move(ev);
            break;
        }
        default:
            if (!msg->ParseFromArray(rest.data(), static_cast<int>(rest.size()))) return 0;
            break;
    }

    const std::string ours = anxin::dispatcher::to_proto3_json(*msg);
    const bool utf8_in = anxin::fuzz::strings_are_utf8(*msg);
    FUZZ_CHECK(anxin::fuzz::valid_utf8(ours));

    std::string theirs;
    pu::JsonPrintOptions opts;
    opts.preserve_proto_field_names = true;
    const bool printed = pu::MessageToJsonString(*msg, &theirs, opts).ok();
    // Where a string is not UTF-8 the two differ on purpose (proto_json.hpp).
    if (utf8_in) {
        FUZZ_CHECK(printed);
        FUZZ_CHECK(ours == theirs);
    }

    auto back = make(selector);
    if (((selector >> 3) & 3) == 2) back = std::make_unique<cv::ConsoleEvent>();
    FUZZ_CHECK(pu::JsonStringToMessage(ours, back.get()).ok());
    // Not necessarily `ours` again: protobuf's parser reads a double -0 as 0, which is then
    // omitted. From there on printing and parsing are a fixed point.
    const std::string once = anxin::dispatcher::to_proto3_json(*back);
    auto again = make(selector);
    if (((selector >> 3) & 3) == 2) again = std::make_unique<cv::ConsoleEvent>();
    FUZZ_CHECK(pu::JsonStringToMessage(once, again.get()).ok());
    FUZZ_CHECK(anxin::dispatcher::to_proto3_json(*again) == once);
    return 0;
}
