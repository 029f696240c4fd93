#pragma once
// One device's TCP connection: handshake, alarms, heartbeats, cancels, and call updates pushed to
// it (protocol/README.md). Owns its socket, decoder and outgoing queue; kept alive by the
// coroutines it spawns (shared_from_this). One reader, one writer, one write in flight.
//
// Threading: everything runs on the io thread. Errors from the device (bad frames, wrong HMAC,
// silence) get an Error/Rejected frame, are counted, and close this connection only.

#include "anxin/dispatcher/event_bus.hpp"
#include "anxin/dispatcher/server_context.hpp"
#include "anxin/protocol/framing.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <deque>
#include <memory>
#include <string>

namespace anxin::device::v1 {
class DeviceMessage;
class ServerMessage;
class Alarm;
class Cancel;
class Heartbeat;
class Hello;
}  // namespace anxin::device::v1

namespace anxin::dispatcher {

class device_stream;

class device_session : public peer, public std::enable_shared_from_this<device_session> {
  public:
    // stream: TLS (the device port) or plain TCP (--plain-device-port).
    device_session(std::unique_ptr<device_stream> stream, server_context& ctx);
    ~device_session() override;

    void start();
    // Queues one encoded frame (from the bus).
    void deliver(std::string frame) override;
    // Closes at once; pending writes are dropped.
    void close();

  private:
    boost::asio::awaitable<void> reader();
    boost::asio::awaitable<void> writer();
    boost::asio::awaitable<void> watchdog();
    boost::asio::awaitable<void> on_hello(anxin::device::v1::Hello hello);
    boost::asio::awaitable<void> on_alarm(anxin::device::v1::Alarm alarm);
    boost::asio::awaitable<void> on_cancel(anxin::device::v1::Cancel cancel);
    void on_heartbeat(const anxin::device::v1::Heartbeat& hb);
    // The device was heard from: supervision deadline, back-online, low-battery episodes.
    boost::asio::awaitable<void> seen(int battery_percent);
    boost::asio::awaitable<void> push_open_calls();
    boost::asio::awaitable<void> push_call_state(const std::string& call_id);

    void send(const anxin::device::v1::ServerMessage& msg);
    // Sends msg, then closes once it is written (or the write deadline passes).
    void send_and_close(const anxin::device::v1::ServerMessage& msg);
    void protocol_error(int code, const std::string& detail);
    void leave_pending();

    boost::asio::awaitable<void> tls_then_serve();
    void serve();

    std::unique_ptr<device_stream> stream_;
    server_context& ctx_;
    std::string peer_;
    protocol::frame_decoder decoder_;
    std::deque<std::string> queue_;
    boost::asio::steady_timer wake_writer_;
    boost::asio::steady_timer deadline_;
    const std::chrono::steady_clock::time_point
        accepted_at_;  // the handshake deadline counts from here
    std::chrono::steady_clock::time_point last_read_;
    std::uint64_t pending_id_ = 0;  // in ctx_.device_gate until authenticated or closed
    // When seen() last told Redis, and the battery it reported: an alarm repeats it only if that
    // is over two seconds old or the battery changed (the supervision deadline is minutes).
    std::chrono::steady_clock::time_point last_seen_sent_{};
    int last_battery_sent_ = -1;
    std::chrono::steady_clock::time_point write_started_{};
    bool writing_ = false;
    int alarms_in_flight_ = 0;
    bool close_after_flush_ = false;
    bool closed_ = false;
    bool hello_seen_ = false;
    bool authenticated_ = false;
    std::string nonce_;
    std::string device_id_;
    std::string resident_id_;
    std::string epoch_;  // epoch_text(Hello.sequence_epoch): part of every alarm's identity
    std::chrono::seconds heartbeat_interval_{60};
};

}  // namespace anxin::dispatcher
