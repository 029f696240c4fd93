#pragma once
// A byte stream that is TLS or plain TCP, chosen at run time, with Beast's stream interface: the
// HTTP port's connections (HTTPS, or the plaintext port when configured) and the consoles'
// WebSockets run over it, and so does device-sim's console client (hence its place here, with
// what both ends share), so the code above does not care which. Its lowest layer is always a
// beast::tcp_stream (timeouts, close, the peer's address), reached with beast::get_lowest_layer as
// for a plain stream.
//
// Threading: one strand's (the io thread's); one read and one write may be in flight at once.

#include <boost/asio/async_result.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/beast/websocket/teardown.hpp>

#include <optional>
#include <utility>

namespace anxin::protocol {

class maybe_tls_stream {
  public:
    using tcp_stream = boost::beast::tcp_stream;
    using tls_stream = boost::beast::ssl_stream<tcp_stream>;
    using executor_type = tcp_stream::executor_type;

    explicit maybe_tls_stream(tcp_stream plain) : plain_(std::move(plain)) {}
    explicit maybe_tls_stream(tls_stream tls) : tls_(std::move(tls)) {}

    bool is_tls() const { return tls_.has_value(); }
    tls_stream& tls() { return *tls_; }
    // Beast's get_lowest_layer() follows next_layer() down to the TCP stream.
    tcp_stream& next_layer() { return tls_ ? tls_->next_layer() : *plain_; }
    executor_type get_executor() { return next_layer().get_executor(); }

    template <class MutableBuffers, class Token>
    auto async_read_some(const MutableBuffers& buffers, Token&& token) {
        return boost::asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
            [this](auto handler, const MutableBuffers& b) {
                if (tls_)
                    tls_->async_read_some(b, std::move(handler));
                else
                    plain_->async_read_some(b, std::move(handler));
            },
            token, buffers);
    }

    template <class ConstBuffers, class Token>
    auto async_write_some(const ConstBuffers& buffers, Token&& token) {
        return boost::asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
            [this](auto handler, const ConstBuffers& b) {
                if (tls_)
                    tls_->async_write_some(b, std::move(handler));
                else
                    plain_->async_write_some(b, std::move(handler));
            },
            token, buffers);
    }

    // Blocking forms, for clients that step an io_context themselves (device-sim's console).
    template <class MutableBuffers>
    std::size_t read_some(const MutableBuffers& b, boost::system::error_code& ec) {
        return tls_ ? tls_->read_some(b, ec) : plain_->read_some(b, ec);
    }
    template <class MutableBuffers>
    std::size_t read_some(const MutableBuffers& b) {
        return tls_ ? tls_->read_some(b) : plain_->read_some(b);
    }
    template <class ConstBuffers>
    std::size_t write_some(const ConstBuffers& b, boost::system::error_code& ec) {
        return tls_ ? tls_->write_some(b, ec) : plain_->write_some(b, ec);
    }
    template <class ConstBuffers>
    std::size_t write_some(const ConstBuffers& b) {
        return tls_ ? tls_->write_some(b) : plain_->write_some(b);
    }

    // The WebSocket closing handshake's last step: TLS close_notify, then the TCP shutdown.
    friend void teardown(boost::beast::role_type role, maybe_tls_stream& s,
                         boost::system::error_code& ec) {
        using boost::beast::websocket::teardown;
        if (s.tls_)
            teardown(role, *s.tls_, ec);
        else
            teardown(role, *s.plain_, ec);
    }
    template <class Handler>
    friend void async_teardown(boost::beast::role_type role, maybe_tls_stream& s,
                               Handler&& handler) {
        using boost::beast::websocket::async_teardown;
        if (s.tls_)
            async_teardown(role, *s.tls_, std::forward<Handler>(handler));
        else
            async_teardown(role, *s.plain_, std::forward<Handler>(handler));
    }

  private:
    std::optional<tcp_stream> plain_;
    std::optional<tls_stream> tls_;
};

}  // namespace anxin::protocol
