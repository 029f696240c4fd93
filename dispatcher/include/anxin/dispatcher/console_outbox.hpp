#pragma once
// The events waiting to be written to one console, and how they are packed into WebSocket
// frames (protocol/CONSOLE.md "Frames, batches and coalescing"):
//  - pushed events go out at most once per `interval` (100 ms): everything pending then goes in
//    one frame; an answer to a request (an event with a req) makes the next frame due at once,
//    with whatever was waiting before it;
//  - a frame holds a single event as it was rendered, or several as {"batch":{"events":[...]}}
//    (concatenated, never re-parsed);
//  - an event with a coalescing key (console_event_meta::coalescing_key) replaces a pending one
//    with the same key: the older is dropped, the newer takes its place at the end;
//  - bounded: push() reports overflow past max_events pending events or max_bytes pending bytes
//    (the session then closes the console: it does not read its events).
//
// Pure: no I/O, no clock (the caller passes the time). One owner (the console's strand).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <unordered_map>

namespace anxin::dispatcher {

class console_outbox {
  public:
    using clock = std::chrono::steady_clock;

    struct limits {
        std::chrono::milliseconds interval{100};
        std::size_t max_events = 4096;
        std::size_t max_bytes = 16 * 1024 * 1024;
        // A frame of pushed events stops growing past this (the rest waits for the next one); a
        // frame with an answer takes everything.
        std::size_t max_frame_bytes = 4 * 1024 * 1024;
    };

    console_outbox() = default;
    explicit console_outbox(limits l) : limits_(l) {}

    // Queues one rendered event. key: coalescing key, empty for none; answer: it carries a req.
    // Returns false (and queues nothing) if the limits would be passed.
    bool push(std::string json, const std::string& key, bool answer);

    bool empty() const { return live_ == 0; }
    std::size_t pending_events() const { return live_; }
    std::size_t pending_bytes() const { return bytes_; }
    // Events dropped because a newer one with the same key replaced them (since construction).
    std::uint64_t coalesced() const { return coalesced_; }

    // When the next frame may go: now if an answer waits, else `interval` after the last frame.
    // Meaningless while empty().
    clock::time_point due() const;
    // Takes the next frame (call when !empty() and due() <= now) and remembers `now` as the time
    // of the last frame. events: how many events it holds.
    std::string take_frame(clock::time_point now, std::size_t* events = nullptr);

  private:
    struct entry {
        std::string json;
        std::string key;
        bool answer = false;
        bool dropped = false;
    };

    limits limits_;
    std::deque<entry> pending_;
    std::uint64_t first_seq_ = 0;                            // sequence number of pending_.front()
    std::unordered_map<std::string, std::uint64_t> by_key_;  // key -> sequence number
    std::size_t live_ = 0;
    std::size_t bytes_ = 0;
    std::size_t answers_ = 0;
    std::uint64_t coalesced_ = 0;
    clock::time_point last_frame_{};
};

}  // namespace anxin::dispatcher
