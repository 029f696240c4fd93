#pragma once
// The proto3 JSON mapping of a message, written straight from reflection: the same text as
// google::protobuf::util::MessageToJsonString with preserve_proto_field_names (field names as
// declared, defaults omitted, 64-bit integers as strings, enums by name, bytes in base64), about
// ten times faster, because protobuf's printer serialises the message and converts the binary
// form through a type resolver. Every event sent to a console goes through this (an offer with
// the resident's card at thousands per second in a surge). tests/dispatcher/proto_json_test.cpp
// holds the two to the same output, and tests/fuzz/proto_json_fuzz.cpp compares them on messages
// built from fuzz input. One deliberate difference: a string that is not UTF-8 (only text the
// server builds from a peer's raw bytes can be) has each stray byte written as U+FFFD, where
// protobuf's printer drops some and passes others through; the output is always UTF-8, as a
// WebSocket text frame must be.
//
// Not covered (the console protocol uses none; the test would show it): maps, the well-known
// types (Timestamp, Duration, Struct, wrappers, Any), proto2 extensions.

#include <string>

namespace google::protobuf {
class Message;
}

namespace anxin::dispatcher {

void append_proto3_json(const google::protobuf::Message& m, std::string& out);
std::string to_proto3_json(const google::protobuf::Message& m);

}  // namespace anxin::dispatcher
