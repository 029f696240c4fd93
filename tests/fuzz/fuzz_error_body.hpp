#pragma once
// The JSON error body the dispatcher answers with (ErrorBody, as http_session prints it) for a
// message that may quote the fuzz input: it must print, and read back when the message is UTF-8.

#include "fuzz_check.hpp"

#include "admin.pb.h"

#include <google/protobuf/util/json_util.h>

#include <string>

namespace anxin::fuzz {

inline void check_error_body(const std::string& code, const std::string& message) {
    anxin::admin::v1::ErrorBody e;
    e.set_error(code);
    e.set_message(message);
    std::string out;
    google::protobuf::util::JsonPrintOptions opts;
    opts.preserve_proto_field_names = true;
    opts.always_print_primitive_fields = true;
    FUZZ_CHECK(google::protobuf::util::MessageToJsonString(e, &out, opts).ok());
    // The parser's message quotes the raw input; protobuf's printer passes some bytes that are
    // not UTF-8 through (docs/SECURITY.md "Fuzzing"), so only a UTF-8 message must read back.
    if (!valid_utf8(message)) return;
    FUZZ_CHECK(valid_utf8(out));
    anxin::admin::v1::ErrorBody back;
    FUZZ_CHECK(google::protobuf::util::JsonStringToMessage(out, &back).ok());
    FUZZ_CHECK(back.message() == message);
}

}  // namespace anxin::fuzz
