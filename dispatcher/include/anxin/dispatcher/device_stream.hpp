#pragma once
// A device connection's byte stream: TLS (the device port) or plain TCP (the legacy port, only
// when configured). device_session reads and writes through it without caring which; one read and
// one write may be in flight at once, as on a socket (Asio's SSL stream is full-duplex).
//
// Threading: the session's (io thread). Errors are returned, never thrown.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>

#include <cstddef>
#include <optional>
#include <span>
#include <tuple>

namespace anxin::dispatcher {

class device_stream {
  public:
    using tcp = boost::asio::ip::tcp;
    using result = std::tuple<boost::system::error_code, std::size_t>;

    explicit device_stream(tcp::socket socket) : plain_(std::move(socket)) {}
    device_stream(tcp::socket socket, boost::asio::ssl::context& tls)
        : tls_(std::in_place, std::move(socket), tls) {}

    bool is_tls() const { return tls_.has_value(); }
    tcp::socket& socket() { return tls_ ? tls_->next_layer() : *plain_; }
    auto get_executor() { return socket().get_executor(); }

    // The server side of the TLS handshake; nothing for plain TCP.
    boost::asio::awaitable<boost::system::error_code> handshake();
    boost::asio::awaitable<result> read_some(boost::asio::mutable_buffer into);
    boost::asio::awaitable<result> write(std::span<const boost::asio::const_buffer> buffers);
    // Closes the socket at once (pending operations complete with operation_aborted). No TLS
    // close_notify: a device learns of the close from the TCP FIN either way.
    void close();
    // The TLS version and cipher, e.g. "TLSv1.3 TLS_AES_128_GCM_SHA256"; "plain" for TCP.
    std::string describe() const;
    // The common name of the client certificate the device presented (verified against the
    // configured client CA during the handshake), or empty when it presented none.
    std::string peer_common_name() const;

  private:
    std::optional<tcp::socket> plain_;
    std::optional<boost::asio::ssl::stream<tcp::socket>> tls_;
};

}  // namespace anxin::dispatcher
