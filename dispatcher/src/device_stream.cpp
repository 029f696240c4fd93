#include "anxin/dispatcher/device_stream.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <openssl/ssl.h>
#include <openssl/x509.h>

namespace asio = boost::asio;

namespace anxin::dispatcher {

namespace {
constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);
}

asio::awaitable<boost::system::error_code> device_stream::handshake() {
    if (!tls_) co_return boost::system::error_code{};
    auto [ec] = co_await tls_->async_handshake(asio::ssl::stream_base::server, use_nothrow);
    co_return ec;
}

asio::awaitable<device_stream::result> device_stream::read_some(asio::mutable_buffer into) {
    if (tls_) co_return co_await tls_->async_read_some(into, use_nothrow);
    co_return co_await plain_->async_read_some(into, use_nothrow);
}

asio::awaitable<device_stream::result> device_stream::write(
    std::span<const asio::const_buffer> buffers) {
    if (tls_) co_return co_await asio::async_write(*tls_, buffers, use_nothrow);
    co_return co_await asio::async_write(*plain_, buffers, use_nothrow);
}

void device_stream::close() {
    boost::system::error_code ec;
    socket().shutdown(tcp::socket::shutdown_both, ec);
    socket().close(ec);
}

std::string device_stream::describe() const {
    if (!tls_) return "plain";
    auto* ssl = const_cast<asio::ssl::stream<tcp::socket>&>(*tls_).native_handle();
    return std::string(SSL_get_version(ssl)) + " " + SSL_get_cipher_name(ssl);
}

std::string device_stream::peer_common_name() const {
    if (!tls_) return {};
    auto* ssl = const_cast<asio::ssl::stream<tcp::socket>&>(*tls_).native_handle();
    X509* cert = SSL_get0_peer_certificate(ssl);
    if (!cert) return {};
    char cn[256] = {};
    if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof cn) < 0)
        return {};
    return cn;
}

}  // namespace anxin::dispatcher
