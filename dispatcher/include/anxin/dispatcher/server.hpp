#pragma once
// One dispatcher instance: wires Redis connections, the store, the router, the bus and the two
// listeners (device TCP port, HTTP/WebSocket port) together and runs them on one io_context
// thread. On these 2-core machines Redis takes the other core; one event-loop thread keeps every
// session free of locks. Password hashing runs on a small thread pool.

#include "anxin/dispatcher/redis_connection.hpp"
#include "anxin/dispatcher/secret_box.hpp"
#include "anxin/dispatcher/server_context.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

namespace anxin::dispatcher {

struct server_options {
    std::string bind_address = "0.0.0.0";
    unsigned short device_port = 7700;
    unsigned short http_port = 8080;
    std::optional<redis_endpoint> redis;  // unset: start an embedded redis-server
    std::filesystem::path data_dir = "data";
    // The device port speaks TLS with this certificate (chain) and key; both empty: a CA and
    // certificate generated once in <data-dir>/tls (tls_files.hpp).
    std::filesystem::path tls_cert, tls_key;
    // Set: devices may present a client certificate issued by this CA; one that does must be the
    // device it says it is (certificate CN = Hello.device_id).
    std::filesystem::path tls_client_ca;
    // Non-zero: also today's plaintext protocol on this port, for devices that cannot do TLS.
    unsigned short plain_device_port = 0;
    // The HTTP port speaks HTTPS (same certificate); non-zero: also plaintext HTTP on this port.
    unsigned short plain_http_port = 0;
    // Set: /metrics and /healthz, plaintext and without a token, on this address too.
    std::optional<boost::asio::ip::tcp::endpoint> metrics_listen;
    std::string redis_binary = "redis-server";
    int pbkdf2_iterations = 100000;
    // Seals device secrets in Redis (--secrets-key-file); required.
    std::shared_ptr<const secret_box> secrets;
    server_settings settings;
};

class server {
  public:
    explicit server(server_options opts);
    ~server();
    // Runs until SIGINT/SIGTERM. Returns the process exit code.
    int run();

  private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace anxin::dispatcher
