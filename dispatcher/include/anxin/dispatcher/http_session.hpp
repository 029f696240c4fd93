#pragma once
// One HTTP connection on the dispatcher's HTTP port: the admin API (/api, bearer token),
// /healthz, /metrics, and the upgrade of /console to a console WebSocket (docs/HTTP_API.md).
//
// Threading: io thread only. Bad requests get a JSON error body with a 4xx status; the
// connection stays usable unless the HTTP stream itself is broken.

#include "anxin/dispatcher/server_context.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

namespace anxin::dispatcher {

boost::asio::awaitable<void> serve_http(boost::asio::ip::tcp::socket socket, server_context& ctx);

}  // namespace anxin::dispatcher
