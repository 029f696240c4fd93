#pragma once
// What the feed of a console needs to know about an event without parsing it: its kind (the
// ConsoleEvent body's field name), whether it answers a request, the call it is about, and for
// offers the call's priority and received_ms (the queue window's order).
//
// Pure functions, any thread. describe_console_json() reads JSON written by to_console_json()
// (trusted: this process or another instance rendered it); on anything else it returns what it
// could find (an empty kind if none), never throws and never reads out of bounds.

#include <cstdint>
#include <string>
#include <string_view>

namespace anxin::console::v1 {
class ConsoleEvent;
}

namespace anxin::dispatcher {

struct console_event_meta {
    std::string kind;     // "offer", "withdrawn", "call_changed", ...; empty if unknown
    bool answer = false;  // carries a req: the answer to a console's request
    std::string call_id;  // call.id (offer, accepted, call_changed) or call_id (withdrawn, ...)
    // The call's priority (1 emergency ... 3 technical; 0 unknown) and when it was stored, for
    // events that carry the call (offer, accepted, call_changed).
    int priority = 0;
    std::int64_t received_ms = 0;

    // The outbox's coalescing key: call_changed per call, summary, board and queue one each;
    // empty (never coalesced) for everything else.
    std::string coalescing_key() const;
};

console_event_meta describe_console_json(std::string_view json);
console_event_meta describe_console_event(const anxin::console::v1::ConsoleEvent& ev);

}  // namespace anxin::dispatcher
