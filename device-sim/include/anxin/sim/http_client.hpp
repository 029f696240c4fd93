#pragma once
// Minimal blocking HTTP/1.1 client for the admin API (one request per connection): HTTPS when
// given a TLS client context (verifying the server's certificate against its CA and tls_name,
// default: the host; "localhost" for 127.0.0.1), plaintext otherwise.

#include <boost/asio/ssl/context.hpp>

#include <chrono>
#include <memory>
#include <string>

namespace anxin::sim {

struct http_result {
    int status = 0;  // 0: no response (connection failed; see body for why)
    std::string body;
    std::string headers;  // "name: value" lines, names in lower case
    // The value of a header (name in lower case), or empty.
    std::string header(const std::string& name) const;
};

http_result http_request(const std::string& host, unsigned short port, const std::string& method,
                         const std::string& target, const std::string& body,
                         const std::string& bearer_token,
                         std::chrono::seconds timeout = std::chrono::seconds(60),
                         std::shared_ptr<boost::asio::ssl::context> tls = nullptr,
                         const std::string& tls_name = {});

}  // namespace anxin::sim
