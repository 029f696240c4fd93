#include "anxin/sim/http_client.hpp"

#include <boost/asio/connect.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <cctype>

#include <openssl/ssl.h>
#include <boost/asio/ssl/host_name_verification.hpp>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

namespace anxin::sim {

namespace {

template <class Stream>
http_result exchange(Stream& stream, const std::string& host, const std::string& method,
                     const std::string& target, const std::string& body,
                     const std::string& bearer_token) {
    http_result out;
    http::request<http::string_body> req{http::string_to_verb(method), target, 11};
    req.set(http::field::host, host);
    req.set(http::field::user_agent, "anxin-device-sim");
    if (!bearer_token.empty()) req.set(http::field::authorization, "Bearer " + bearer_token);
    if (!body.empty()) {
        req.set(http::field::content_type, "application/json");
        req.body() = body;
    }
    req.prepare_payload();
    http::write(stream, req);
    beast::flat_buffer buf;
    http::response_parser<http::string_body> parser;
    parser.body_limit(256 * 1024 * 1024);
    http::read(stream, buf, parser);
    out.status = static_cast<int>(parser.get().result_int());
    out.body = parser.get().body();
    for (const auto& f : parser.get()) {
        std::string name(f.name_string());
        for (auto& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        out.headers += name + ": " + std::string(f.value()) + "\n";
    }
    return out;
}

}  // namespace

std::string http_result::header(const std::string& name) const {
    const std::string key = name + ": ";
    for (std::size_t pos = 0; pos < headers.size();) {
        auto end = headers.find('\n', pos);
        if (end == std::string::npos) end = headers.size();
        if (headers.compare(pos, key.size(), key) == 0)
            return headers.substr(pos + key.size(), end - pos - key.size());
        pos = end + 1;
    }
    return {};
}

http_result http_request(const std::string& host, unsigned short port, const std::string& method,
                         const std::string& target, const std::string& body,
                         const std::string& bearer_token, std::chrono::seconds timeout,
                         std::shared_ptr<asio::ssl::context> tls, const std::string& tls_name) {
    http_result out;
    try {
        asio::io_context io;
        asio::ip::tcp::resolver resolver(io);
        beast::tcp_stream stream(io);
        stream.expires_after(timeout);
        stream.connect(resolver.resolve(host, std::to_string(port)));
        beast::error_code ec;
        if (!tls) {
            out = exchange(stream, host, method, target, body, bearer_token);
            stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
            return out;
        }
        const std::string name =
            !tls_name.empty() ? tls_name : (host == "127.0.0.1" ? std::string("localhost") : host);
        beast::ssl_stream<beast::tcp_stream&> secure(stream, *tls);
        SSL_set_tlsext_host_name(secure.native_handle(), name.c_str());
        secure.set_verify_callback(asio::ssl::host_name_verification(name));
        secure.handshake(asio::ssl::stream_base::client);
        out = exchange(secure, host, method, target, body, bearer_token);
        secure.shutdown(ec);  // close_notify; the server may just close
        stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
    } catch (const std::exception& e) {
        out.status = 0;
        out.body = e.what();
    }
    return out;
}

}  // namespace anxin::sim
