#pragma once
// Who may wait in a handshake. A connection is "pending" from accept until it has proved who it
// is (a device's Welcome, a console's login); strangers can open pending connections for free, so
// their number is capped overall and per source address (per address generously: thousands of
// buttons share a carrier's NAT addresses). At a cap:
//  - if the OLDEST pending connection (of that address, or overall) has been waiting longer than
//    `shed_after`, it is shed and the newcomer admitted: a real device finishes its handshake in
//    milliseconds, while a peer that trickles bytes to hold a slot grows old. Refusing newcomers
//    instead would let a trickle flood lock every button out after a power cut;
//  - otherwise, if one address holds far more pending connections than the newcomer's (over
//    twice as many, plus one), that address's oldest is shed: no address crowds out the others;
//  - otherwise every pending connection is young — a surge of real handshakes the CPU is working
//    through — and the NEWCOMER is refused (closed at once; the device retries with backoff):
//    shedding one that is half-way through its handshake would only waste that work (measured:
//    always shedding the oldest cut a TLS reconnect storm to a fifth of its handshake rate).
// pending_connections sets `shed_after` from how long completed handshakes take (4 x their
// moving average, 250 ms .. 5 s): young enough to shed tricklers quickly, old enough never to
// shed a real handshake that is merely queued behind others.
//
// connection_gate is pure bookkeeping (ids and addresses, no sockets); pending_connections adds
// the closers that shed a connection. Threading: io thread only.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>

namespace anxin::dispatcher {

class connection_gate {
  public:
    using clock = std::chrono::steady_clock;
    struct limits {
        std::size_t max_pending = 1000;
        std::size_t max_pending_per_address = 250;
        std::chrono::milliseconds shed_after{1000};
    };
    explicit connection_gate(limits l) : limits_(l) {}

    struct decision {
        bool admitted = true;
        std::uint64_t shed = 0;  // the pending connection to close to make room (0: none)
    };
    // Connection `id` (ids increase with accept order) from `address`, accepted at `now`.
    decision admit(std::uint64_t id, const std::string& address, clock::time_point now);
    // The connection authenticated or closed; unknown ids are ignored. Returns when it was
    // admitted (nullopt for an unknown id).
    std::optional<clock::time_point> release(std::uint64_t id);
    void set_shed_after(std::chrono::milliseconds d) { limits_.shed_after = d; }

    std::size_t pending() const { return by_id_.size(); }
    std::size_t pending_from(const std::string& address) const;
    const limits& caps() const { return limits_; }

  private:
    struct entry {
        std::string address;
        clock::time_point since;
    };
    limits limits_;
    void count(const std::string& address, std::size_t before, std::size_t after);
    std::map<std::uint64_t, entry> by_id_;                   // oldest first
    std::set<std::pair<std::size_t, std::string>> by_load_;  // (pending, address), heaviest last
    std::unordered_map<std::string, std::set<std::uint64_t>> by_address_;
};

class pending_connections {
  public:
    explicit pending_connections(connection_gate::limits l) : gate_(l) {}

    // Registers a new pending connection; `close` is how to shed it. May shed (close) an older
    // one first. Returns the id to release() once it authenticates or closes, or 0 when the
    // newcomer is refused (the caller closes it).
    std::uint64_t admit(const std::string& address, std::function<void()> close);
    // completed: it proved who it is (its handshake time tunes when to shed); false: it closed.
    void release(std::uint64_t id, bool completed = false);
    std::chrono::milliseconds shed_after() const { return gate_.caps().shed_after; }

    std::size_t pending() const { return gate_.pending(); }
    std::uint64_t shed() const { return shed_; }        // old pending connections closed
    std::uint64_t refused() const { return refused_; }  // newcomers closed at once

  private:
    connection_gate gate_;
    std::uint64_t next_id_ = 1;
    std::uint64_t shed_ = 0;
    std::uint64_t refused_ = 0;
    double handshake_ms_ = 0;  // moving average of completed handshakes
    std::unordered_map<std::uint64_t, std::function<void()>> closers_;
};

}  // namespace anxin::dispatcher
