#pragma once
// Delivery of call events to devices and consoles connected to ANY dispatcher instance.
// An event goes at once to the sessions this instance holds (session_registry), and is published
// on the Redis channel anx:bus, tagged with this instance's name, for the sessions other instances
// hold; each instance skips its own messages when they come back. Pub/sub is at-most-once: an
// event for a peer that is disconnected at that moment is dropped, which is why devices get their
// open calls' state after each handshake and consoles get their station's offers after each login.
//
// Threading: io thread only.

#include "anxin/dispatcher/redis_connection.hpp"

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

namespace google::protobuf {
class MessageLite;
}
namespace anxin::console::v1 {
class ConsoleEvent;
}
namespace anxin::device::v1 {
class ServerMessage;
}

namespace anxin::dispatcher {

// A connected device or console, as the registry sees it.
class peer {
  public:
    virtual ~peer() = default;
    // Device: one encoded frame. Console: one JSON text message.
    virtual void deliver(std::string payload) = 0;
    // This instance lost (degraded) or regained its store. Consoles say so and, on regaining it,
    // send their operator the true current state again (events published meanwhile were lost).
    virtual void service_status(bool /*degraded*/, const std::string& /*detail*/) {}
};

// Who is connected to this instance. Holds weak references only: sessions own themselves.
class session_registry {
  public:
    // Returns the session previously registered for the device (it should be closed: a device
    // has one live connection, the newest).
    std::shared_ptr<peer> add_device(const std::string& device_id, std::weak_ptr<peer> p);
    void remove_device(const std::string& device_id, const peer* p);
    void add_operator(const std::string& op, const std::string& station, std::weak_ptr<peer> p);
    void remove_operator(const std::string& op, const std::string& station, const peer* p);

    void deliver_to_device(const std::string& device_id, std::string payload);
    void deliver_to_operator(const std::string& op, const std::string& payload);
    void deliver_to_station(const std::string& station, const std::string& payload);
    // f sees the plain JSON of every event delivered to a station (from this instance or
    // another), whether or not a console of that station is logged in here: the supervisors'
    // board follows the command centre's call_changed events through it (board_feed).
    void on_station_event(
        std::function<void(const std::string& station, const std::string& json)> f) {
        station_event_ = std::move(f);
    }
    // Every console logged in here.
    void service_status_to_consoles(bool degraded, const std::string& detail);
    // Operators logged in here, for the presence refresher.
    std::vector<std::pair<std::string, std::string>> local_operators() const;  // (station, op)

  private:
    std::unordered_map<std::string, std::weak_ptr<peer>> devices_;
    std::unordered_map<std::string, std::vector<std::weak_ptr<peer>>> operators_;
    std::map<std::string, std::set<std::string>> station_ops_;
    std::function<void(const std::string&, const std::string&)> station_event_;
};

class event_bus {
  public:
    // pub: connections used to PUBLISH, an event's target always on the same one (its events
    // stay in order); several, because Redis reads at most 16 KiB from a connection per event
    // loop turn, and with appendfsync always a turn lasts an fsync: one connection would cap
    // the events (offers carry the resident's card) at ~16 MB/s. sub: the subscription.
    event_bus(std::vector<std::shared_ptr<redis_connection>> pub,
              std::shared_ptr<redis_connection> sub, session_registry& registry,
              std::string instance);
    void start();

    // Who can take offers changed (a login, a status change, an accept or close): every
    // instance's routing cache must look again. on_world_changed runs for other instances' notices.
    void world_changed();
    void on_world_changed(std::function<void()> f) { world_changed_ = std::move(f); }

    void to_device(const std::string& device_id, const anxin::device::v1::ServerMessage& msg);
    void to_operator(const std::string& op, const anxin::console::v1::ConsoleEvent& ev);
    // The same event to several operators (rendered once).
    void to_operators(const std::vector<std::string>& ops,
                      const anxin::console::v1::ConsoleEvent& ev);
    void to_station(const std::string& station, const anxin::console::v1::ConsoleEvent& ev);

  private:
    void publish(char kind, const std::string& target, std::string payload);
    void on_message(const std::string& payload);

    std::vector<std::shared_ptr<redis_connection>> pub_;
    std::shared_ptr<redis_connection> sub_;
    session_registry& registry_;
    std::string instance_;
    std::function<void()> world_changed_;
};

// proto3 JSON with snake_case names, as the console protocol specifies.
std::string to_console_json(const anxin::console::v1::ConsoleEvent& ev);

}  // namespace anxin::dispatcher
