#include "anxin/sim/http_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

namespace anxin::sim {

http_result http_request(const std::string& host, unsigned short port, const std::string& method,
                         const std::string& target, const std::string& body,
                         const std::string& bearer_token, std::chrono::seconds timeout) {
    http_result out;
    try {
        asio::io_context io;
        asio::ip::tcp::resolver resolver(io);
        beast::tcp_stream stream(io);
        stream.expires_after(timeout);
        stream.connect(resolver.resolve(host, std::to_string(port)));
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
        beast::error_code ec;
        stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
    } catch (const std::exception& e) {
        out.status = 0;
        out.body = e.what();
    }
    return out;
}

}  // namespace anxin::sim
