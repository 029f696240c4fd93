#pragma once
// Minimal blocking HTTP/1.1 client for the admin API (one request per connection).

#include <chrono>
#include <string>

namespace anxin::sim {

struct http_result {
    int status = 0;  // 0: no response (connection failed; see body for why)
    std::string body;
};

http_result http_request(const std::string& host, unsigned short port, const std::string& method,
                         const std::string& target, const std::string& body,
                         const std::string& bearer_token,
                         std::chrono::seconds timeout = std::chrono::seconds(60));

}  // namespace anxin::sim
