#pragma once
// Who may wait in a handshake. A connection is "pending" from accept until it has proved who it
// is (a device's Hello, an HTTP request line and headers); strangers can open pending connections
// for free, so their number is capped overall and per source address. At a cap the OLDEST pending
// connection (of that address, or overall) is shed to admit the new one: a real device finishes
// its handshake within milliseconds, so it is almost never the oldest, while a peer that trickles
// bytes to hold a slot is. Refusing the newcomer instead would let a flood lock every button out
// after a power cut, exactly when they all reconnect.
//
// connection_gate is pure bookkeeping (ids and addresses, no sockets); pending_connections adds
// the closers that shed a connection. Threading: io thread only.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <unordered_map>

namespace anxin::dispatcher {

class connection_gate {
  public:
    struct limits {
        std::size_t max_pending = 1000;
        std::size_t max_pending_per_address = 64;
    };
    explicit connection_gate(limits l) : limits_(l) {}

    // Admits connection `id` (ids increase with accept order) from `address`. Returns the id of
    // the pending connection to shed to make room, or 0 if none has to go.
    std::uint64_t admit(std::uint64_t id, const std::string& address);
    // The connection authenticated or closed; unknown ids are ignored.
    void release(std::uint64_t id);

    std::size_t pending() const { return by_id_.size(); }
    std::size_t pending_from(const std::string& address) const;
    const limits& caps() const { return limits_; }

  private:
    limits limits_;
    std::map<std::uint64_t, std::string> by_id_;  // oldest first
    std::unordered_map<std::string, std::set<std::uint64_t>> by_address_;
};

class pending_connections {
  public:
    explicit pending_connections(connection_gate::limits l) : gate_(l) {}

    // Registers a new pending connection; `close` is how to shed it. May shed (close) an older
    // one first. Returns the id to release() once it authenticates or closes.
    std::uint64_t admit(const std::string& address, std::function<void()> close);
    void release(std::uint64_t id);

    std::size_t pending() const { return gate_.pending(); }
    std::uint64_t shed() const { return shed_; }  // connections closed to make room

  private:
    connection_gate gate_;
    std::uint64_t next_id_ = 1;
    std::uint64_t shed_ = 0;
    std::unordered_map<std::uint64_t, std::function<void()>> closers_;
};

}  // namespace anxin::dispatcher
