#include "anxin/dispatcher/server.hpp"

#include "anxin/dispatcher/call_router.hpp"
#include "anxin/dispatcher/call_store.hpp"
#include "anxin/dispatcher/device_session.hpp"
#include "anxin/dispatcher/directory.hpp"
#include "anxin/dispatcher/embedded_redis.hpp"
#include "anxin/dispatcher/event_bus.hpp"
#include "anxin/dispatcher/http_session.hpp"
#include "anxin/dispatcher/metrics.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <csignal>
#include <ctime>

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace std::chrono_literals;

namespace anxin::dispatcher {

namespace {
// An io_context whose pending work can be destroyed on demand. Destroying an io_context destroys
// the coroutine frames still suspended in it, and their locals (sessions, guards) refer to the
// server's other members; the io_context is the first member, so by default it would go last,
// after everything those destructors touch. server::impl's destructor calls shutdown_now() first,
// while everything is alive; the services themselves stay until the io_context is destroyed, so
// the sockets and timers destroyed after that are still fine.
class owned_io_context : public asio::io_context {
  public:
    using asio::io_context::io_context;
    void shutdown_now() { shutdown(); }
};
}  // namespace

struct server::impl {
    ~impl() {
        pool.join();
        io.shutdown_now();
    }
    server_options opts;
    owned_io_context io{1};
    asio::thread_pool pool{2};
    std::unique_ptr<embedded_redis> embedded;
    std::shared_ptr<redis_connection> cmd, ingest, blocking, sub, view;
    std::vector<std::shared_ptr<redis_connection>> pub;
    std::unique_ptr<call_store> store;
    std::unique_ptr<directory> dir;
    session_registry registry;
    std::unique_ptr<event_bus> bus;
    std::unique_ptr<call_router> router;
    metrics stats;
    std::unique_ptr<server_context> ctx;
    std::optional<tcp::acceptor> device_acceptor, http_acceptor;

    asio::awaitable<void> accept_devices() {
        for (;;) {
            auto [ec, socket] =
                co_await device_acceptor->async_accept(asio::as_tuple(asio::use_awaitable));
            if (ec == asio::error::operation_aborted) co_return;
            if (ec) {
                // EMFILE at the open-files limit: back off briefly instead of spinning.
                spdlog::warn("device accept: {}", ec.message());
                asio::steady_timer t(io, 100ms);
                co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
                continue;
            }
            std::make_shared<device_session>(std::move(socket), *ctx)->start();
        }
    }

    asio::awaitable<void> accept_http() {
        for (;;) {
            auto [ec, socket] =
                co_await http_acceptor->async_accept(asio::as_tuple(asio::use_awaitable));
            if (ec == asio::error::operation_aborted) co_return;
            if (ec) {
                spdlog::warn("http accept: {}", ec.message());
                asio::steady_timer t(io, 100ms);
                co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
                continue;
            }
            asio::co_spawn(io, serve_http(std::move(socket), *ctx), asio::detached);
        }
    }
};

server::server(server_options opts) : impl_(std::make_unique<impl>()) {
    impl_->opts = std::move(opts);
}

server::~server() = default;

int server::run() {
    auto& m = *impl_;
    redis_endpoint ep;
    if (m.opts.redis) {
        ep = *m.opts.redis;
    } else {
        m.embedded = std::make_unique<embedded_redis>(m.io, m.opts.data_dir, m.opts.redis_binary);
        if (auto err = m.embedded->start(); !err.empty()) {
            spdlog::critical("embedded redis: {}", err);
            return 1;
        }
        ep.unix_path = m.embedded->socket_path();
    }

    redis_connection::options ro;
    m.cmd = redis_connection::create(m.io, ep, ro, "cmd");
    m.ingest = redis_connection::create(m.io, ep, ro, "ingest");
    auto blocking_opts = ro;
    blocking_opts.command_timeout = 5s;  // XREADGROUP BLOCK 2000 must not count as a timeout
    m.blocking = redis_connection::create(m.io, ep, blocking_opts, "router");
    m.sub = redis_connection::create(m.io, ep, ro, "bus");
    // The router's view of who is on duty is read on a connection of its own: new calls are
    // routed from it, so its refresh must not queue behind a backlog of routing commands.
    m.view = redis_connection::create(m.io, ep, ro, "view");
    for (int i = 0; i < 4; ++i)
        m.pub.push_back(redis_connection::create(m.io, ep, ro, "pub-" + std::to_string(i)));
    m.store = std::make_unique<call_store>(m.cmd, m.opts.settings.instance, m.ingest);
    m.store->require_replicas(m.opts.settings.wait_replicas, m.opts.settings.wait_timeout);
    m.dir = std::make_unique<directory>(m.cmd, m.pool, m.opts.pbkdf2_iterations);
    m.bus = std::make_unique<event_bus>(m.pub, m.sub, m.registry, m.opts.settings.instance);
    m.ctx = std::unique_ptr<server_context>(new server_context{
        m.io, m.opts.settings, *m.store, *m.dir, m.registry, *m.bus, nullptr, m.stats});
    m.router = std::make_unique<call_router>(*m.ctx, m.blocking, m.view);
    m.ctx->router = m.router.get();
    m.bus->on_world_changed([r = m.router.get()] { r->forget_world(); });

    try {
        auto addr = asio::ip::make_address(m.opts.bind_address);
        m.device_acceptor.emplace(m.io, tcp::endpoint(addr, m.opts.device_port));
        m.http_acceptor.emplace(m.io, tcp::endpoint(addr, m.opts.http_port));
    } catch (const std::exception& e) {
        spdlog::critical("cannot listen on {} (device port {}, http port {}): {}",
                         m.opts.bind_address, m.opts.device_port, m.opts.http_port, e.what());
        return 1;
    }

    // Consoles are told when this instance cannot reach the store (after a second, so that a quick
    // reconnect is not an alarm of its own) and when it is back.
    asio::steady_timer degraded_timer(m.io);
    bool degraded_announced = false;
    std::string down_since;
    m.cmd->on_state_change([&](bool up) {
        if (!up) {
            if (down_since.empty()) {
                auto t = std::time(nullptr);
                char buf[16];
                std::tm tm{};
                localtime_r(&t, &tm);
                std::strftime(buf, sizeof buf, "%H:%M:%S", &tm);
                down_since = buf;
            }
            degraded_timer.expires_after(1s);
            degraded_timer.async_wait([&](boost::system::error_code ec) {
                if (ec || m.cmd->connected() || degraded_announced) return;
                degraded_announced = true;
                spdlog::error("store unavailable since {}: consoles told the service is degraded",
                              down_since);
                m.registry.service_status_to_consoles(
                    true, "store unavailable since " + down_since + "; retrying");
            });
            return;
        }
        degraded_timer.cancel();
        down_since.clear();
        if (degraded_announced) {
            degraded_announced = false;
            spdlog::info("store available again: consoles resynchronised");
            m.registry.service_status_to_consoles(false, "store available again");
        }
        if (m.router) {
            m.router->forget_world();
            m.router->kick();
        }
    });
    m.cmd->start();
    m.ingest->start();
    m.blocking->start();
    m.sub->start();
    m.view->start();
    for (auto& p : m.pub) p->start();
    m.bus->start();
    m.router->start();

    // Keep presence leases of operators on this instance alive is each console's job; on a clean
    // stop we drop them at once so no call is offered to a console that is going away.
    bool stopping = false;
    asio::signal_set signals(m.io, SIGINT, SIGTERM);
    signals.async_wait([&](boost::system::error_code ec, int sig) {
        if (ec) return;
        spdlog::info("signal {}: stopping", sig);
        stopping = true;
        boost::system::error_code ignored;
        m.device_acceptor->close(ignored);
        m.http_acceptor->close(ignored);
        asio::co_spawn(
            m.io,
            [&]() -> asio::awaitable<void> {
                for (const auto& [station, op] : m.registry.local_operators()) {
                    co_await m.store->drop_presence(station, op);
                }
                m.io.stop();
            },
            asio::detached);
    });
    std::signal(SIGPIPE, SIG_IGN);

    asio::co_spawn(m.io, m.accept_devices(), asio::detached);
    asio::co_spawn(m.io, m.accept_http(), asio::detached);
    spdlog::info("anxin dispatcher {} ready: devices on {}:{}, http on {}:{}, redis {}",
                 m.opts.settings.instance, m.opts.bind_address,
                 m.device_acceptor->local_endpoint().port(), m.opts.bind_address,
                 m.http_acceptor->local_endpoint().port(), ep.describe());
    m.io.run();

    m.cmd->stop();
    m.ingest->stop();
    m.blocking->stop();
    m.sub->stop();
    m.view->stop();
    for (auto& p : m.pub) p->stop();
    m.pool.join();
    if (m.embedded) m.embedded->stop();
    spdlog::info("stopped");
    return stopping ? 0 : 1;
}

}  // namespace anxin::dispatcher
