#pragma once
// One HTTP connection on the dispatcher's HTTP port (HTTPS by default): the admin API (/api,
// bearer token), /healthz, /metrics, and the upgrade of /console to a console WebSocket
// (docs/HTTP_API.md). Requests are authorised from their headers before any body is read.
//
// Threading: io thread only. Bad requests get a JSON error body with a 4xx status; the
// connection stays usable unless the HTTP stream itself is broken.

#include "anxin/dispatcher/server_context.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

namespace boost::asio::ssl {
class context;
}

namespace anxin::dispatcher {

// tls set: the HTTPS port (a plaintext request there is redirected to https:// and closed);
// nullptr: the plaintext port (--plain-http-port). metrics_only: the --metrics-listen address,
// which serves /metrics and /healthz without a token and nothing else.
boost::asio::awaitable<void> serve_http(boost::asio::ip::tcp::socket socket, server_context& ctx,
                                        boost::asio::ssl::context* tls, bool metrics_only = false);

}  // namespace anxin::dispatcher
