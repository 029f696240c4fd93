#pragma once
// A simulated call button's connection to the dispatcher, driven by its own io_context so that
// callers (device-sim commands, tests) can use it step by step: connect, hello, send, receive
// with a timeout. Incoming frames are decoded into an inbox as they arrive.
//
// Not thread-safe; one owner.

#include "device.pb.h"

#include "anxin/protocol/framing.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <deque>
#include <optional>
#include <string>

namespace anxin::sim {

class device_link {
  public:
    explicit device_link(boost::asio::io_context& io);
    ~device_link();

    // Connects; false (with error()) on failure.
    bool connect(const std::string& host, unsigned short port, std::chrono::milliseconds timeout);
    // Waits for the Challenge, answers with Hello(device_id, HMAC(secret, nonce), sequence_epoch)
    // and waits for Welcome or Rejected, which is returned. nullopt on timeout / connection loss.
    // sequence_epoch 0: not given (a device built before the field existed).
    std::optional<anxin::device::v1::ServerMessage> handshake(const std::string& device_id,
                                                              const std::string& secret,
                                                              std::chrono::milliseconds timeout,
                                                              std::uint64_t sequence_epoch = 0);

    bool send(const anxin::device::v1::DeviceMessage& msg);
    bool send_raw(const std::string& bytes);
    // Next message from the server, waiting up to timeout. nullopt on timeout or when the
    // connection is closed (closed() tells which).
    std::optional<anxin::device::v1::ServerMessage> receive(std::chrono::milliseconds timeout);
    bool closed() const { return closed_; }
    const std::string& error() const { return error_; }
    void close();

  private:
    void start_read();

    boost::asio::io_context& io_;
    boost::asio::ip::tcp::socket socket_;
    protocol::frame_decoder decoder_{1 << 20};
    std::deque<anxin::device::v1::ServerMessage> inbox_;
    bool reading_ = false;
    bool closed_ = false;
    std::string error_;
};

std::int64_t wall_ms();
// "sos", "fall", ... as in protocol/README.md; nullopt for an unknown name.
std::optional<anxin::device::v1::AlarmType> parse_alarm_type(const std::string& name);

}  // namespace anxin::sim
