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
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>

#include <chrono>
#include <deque>
#include <optional>
#include <string>

namespace anxin::sim {

// How a simulated device reaches the device port: TLS verified against a CA file (the default of
// every device-sim mode), or the plaintext port.
struct device_tls {
    bool enabled = true;
    std::string ca_file;      // PEM; the dispatcher's <data-dir>/tls/ca.pem unless configured
    std::string server_name;  // checked against the certificate; default: the host connected to
    std::string client_cert, client_key;  // optional client certificate (PEM)
};
// A TLS client context for `t` (TLS 1.2+, verify peer against t.ca_file); nullptr + error when
// t.enabled is false or the files cannot be loaded.
std::shared_ptr<boost::asio::ssl::context> make_client_context(const device_tls& t,
                                                               std::string& error);

class device_link {
  public:
    explicit device_link(boost::asio::io_context& io);
    ~device_link();

    // Speak TLS on the next connect(), verifying the server against tls's CA (and, if
    // server_name is empty, the host name given to connect()). nullptr: plain TCP.
    void use_tls(std::shared_ptr<boost::asio::ssl::context> tls, std::string server_name = {});
    // Connects (and completes the TLS handshake); false (with error()) on failure.
    bool connect(const std::string& host, unsigned short port, std::chrono::milliseconds timeout);
    // Waits for the Challenge, answers with Hello(device_id, HMAC(secret, nonce), sequence_epoch)
    // and waits for Welcome or Rejected, which is returned. nullopt on timeout / connection loss.
    // sequence_epoch 0: not given (a device built before the field existed).
    // device_nonce non-empty: sent in the Hello; the Welcome's server_proof is then checked and
    // server_proof_ok() tells the result.
    std::optional<anxin::device::v1::ServerMessage> handshake(const std::string& device_id,
                                                              const std::string& secret,
                                                              std::chrono::milliseconds timeout,
                                                              std::uint64_t sequence_epoch = 0,
                                                              const std::string& device_nonce = {});
    bool server_proof_ok() const { return server_proof_ok_; }

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
    // Runs the io_context until *done (or the deadline); false on timeout.
    bool run_until(const bool& done, std::chrono::steady_clock::time_point deadline);

    boost::asio::io_context& io_;
    boost::asio::ip::tcp::socket socket_;
    std::shared_ptr<boost::asio::ssl::context> tls_ctx_;
    std::string tls_name_;
    std::optional<boost::asio::ssl::stream<boost::asio::ip::tcp::socket&>> tls_;
    bool server_proof_ok_ = false;
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
