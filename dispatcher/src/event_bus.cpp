#include "anxin/dispatcher/event_bus.hpp"
#include "anxin/dispatcher/redis_keys.hpp"

#include "console.pb.h"
#include "device.pb.h"

#include "anxin/dispatcher/proto_json.hpp"
#include "anxin/protocol/framing.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include <algorithm>

namespace asio = boost::asio;

namespace anxin::dispatcher {

namespace {
constexpr const char* bus_channel = keys::bus_channel;
}

std::string to_console_json(const anxin::console::v1::ConsoleEvent& ev) {
    return to_proto3_json(ev);  // protobuf's mapping, written faster (proto_json.hpp)
}

std::shared_ptr<peer> session_registry::add_device(const std::string& device_id,
                                                   std::weak_ptr<peer> p) {
    auto& slot = devices_[device_id];
    auto previous = slot.lock();
    slot = std::move(p);
    return previous;
}

void session_registry::remove_device(const std::string& device_id, const peer* p) {
    auto it = devices_.find(device_id);
    if (it == devices_.end()) return;
    auto cur = it->second.lock();
    if (!cur || cur.get() == p) devices_.erase(it);
}

void session_registry::add_operator(const std::string& op, const std::string& station,
                                    std::weak_ptr<peer> p) {
    operators_[op].push_back(std::move(p));
    station_ops_[station].insert(op);
}

void session_registry::remove_operator(const std::string& op, const std::string& station,
                                       const peer* p) {
    auto it = operators_.find(op);
    if (it == operators_.end()) return;
    auto& v = it->second;
    v.erase(std::remove_if(v.begin(), v.end(),
                           [p](const std::weak_ptr<peer>& w) {
                               auto s = w.lock();
                               return !s || s.get() == p;
                           }),
            v.end());
    if (v.empty()) {
        operators_.erase(it);
        auto st = station_ops_.find(station);
        if (st != station_ops_.end()) {
            st->second.erase(op);
            if (st->second.empty()) station_ops_.erase(st);
        }
    }
}

void session_registry::deliver_to_device(const std::string& device_id, std::string payload) {
    auto it = devices_.find(device_id);
    if (it == devices_.end()) return;
    if (auto s = it->second.lock()) s->deliver(std::move(payload));
}

void session_registry::deliver_to_operator(const std::string& op, const std::string& payload) {
    auto it = operators_.find(op);
    if (it == operators_.end()) return;
    // Copy out first: deliver() may close a session, which unregisters it.
    std::vector<std::shared_ptr<peer>> targets;
    for (auto& w : it->second) {
        if (auto s = w.lock()) targets.push_back(std::move(s));
    }
    for (auto& s : targets) s->deliver(payload);
}

void session_registry::deliver_to_station(const std::string& station, const std::string& payload) {
    if (station_event_) station_event_(station, payload);
    auto it = station_ops_.find(station);
    if (it == station_ops_.end()) return;
    std::vector<std::string> ops(it->second.begin(), it->second.end());
    for (const auto& op : ops) deliver_to_operator(op, payload);
}

void session_registry::service_status_to_consoles(bool degraded, const std::string& detail) {
    std::vector<std::shared_ptr<peer>> targets;
    for (auto& [op, sessions] : operators_) {
        for (auto& w : sessions) {
            if (auto s = w.lock()) targets.push_back(std::move(s));
        }
    }
    for (auto& s : targets) s->service_status(degraded, detail);
}

std::vector<std::pair<std::string, std::string>> session_registry::local_operators() const {
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& [station, ops] : station_ops_) {
        for (const auto& op : ops) out.emplace_back(station, op);
    }
    return out;
}

event_bus::event_bus(std::vector<std::shared_ptr<redis_connection>> pub,
                     std::shared_ptr<redis_connection> sub, session_registry& registry,
                     std::string instance)
    : pub_(std::move(pub)),
      sub_(std::move(sub)),
      registry_(registry),
      instance_(std::move(instance)) {}

void event_bus::start() {
    sub_->subscribe(bus_channel, [this](const std::string&, const std::string& payload) {
        on_message(payload);
    });
}

void event_bus::to_device(const std::string& device_id,
                          const anxin::device::v1::ServerMessage& msg) {
    publish('d', device_id, protocol::encode_frame(msg));
}

void event_bus::to_operator(const std::string& op, const anxin::console::v1::ConsoleEvent& ev) {
    publish('o', op, to_console_json(ev));
}

void event_bus::to_operators(const std::vector<std::string>& ops,
                             const anxin::console::v1::ConsoleEvent& ev) {
    if (ops.empty()) return;
    const auto json = to_console_json(ev);
    for (const auto& op : ops) publish('o', op, json);
}

void event_bus::to_station(const std::string& station, const anxin::console::v1::ConsoleEvent& ev) {
    publish('s', station, to_console_json(ev));
}

void event_bus::world_changed() {
    publish('w', "-", {});
}

namespace {
void deliver(session_registry& registry, char kind, const std::string& target, std::string body) {
    switch (kind) {
        case 'd':
            registry.deliver_to_device(target, std::move(body));
            break;
        case 'o':
            registry.deliver_to_operator(target, body);
            break;
        case 's':
            registry.deliver_to_station(target, body);
            break;
        default:
            break;
    }
}
}  // namespace

// Wire format on anx:bus: <kind> ' ' <origin instance> ' ' <target> '\n' <payload>; kind d(evice),
// o(perator), s(tation), w(orld changed: no target, no payload).
void event_bus::publish(char kind, const std::string& target, std::string payload) {
    std::string msg;
    msg.reserve(instance_.size() + target.size() + payload.size() + 4);
    msg.push_back(kind);
    msg.push_back(' ');
    msg += instance_;
    msg.push_back(' ');
    msg += target;
    msg.push_back('\n');
    msg += payload;
    // Sessions held here get it now, without the round trip through Redis (and also while
    // Redis is away).
    deliver(registry_, kind, target, std::move(payload));
    const auto& cmd = pub_[std::hash<std::string>{}(target) % pub_.size()];
    std::vector<std::string> args{"PUBLISH", bus_channel, std::move(msg)};
    cmd->send(std::move(args), [](redis_result r) {
        if (!r.ok()) spdlog::warn("bus: publish failed: {}", r.error_text());
    });
}

void event_bus::on_message(const std::string& payload) {
    auto nl = payload.find('\n');
    if (payload.size() < 3 || payload[1] != ' ' || nl == std::string::npos) return;
    auto sp = payload.find(' ', 2);
    if (sp == std::string::npos || sp > nl) return;
    if (std::string_view(payload).substr(2, sp - 2) == instance_) return;  // delivered already
    if (payload[0] == 'w') {
        if (world_changed_) world_changed_();
        return;
    }
    deliver(registry_, payload[0], payload.substr(sp + 1, nl - sp - 1), payload.substr(nl + 1));
}

}  // namespace anxin::dispatcher
