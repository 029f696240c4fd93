#include "anxin/dispatcher/server.hpp"

#include "anxin/dispatcher/board_feed.hpp"
#include "anxin/dispatcher/call_router.hpp"
#include "anxin/dispatcher/call_store.hpp"
#include "anxin/dispatcher/connection_gate.hpp"
#include "anxin/dispatcher/device_session.hpp"
#include "anxin/dispatcher/device_stream.hpp"
#include "anxin/dispatcher/directory.hpp"
#include "anxin/dispatcher/embedded_redis.hpp"
#include "anxin/dispatcher/event_bus.hpp"
#include "anxin/dispatcher/http_session.hpp"
#include "anxin/dispatcher/metrics.hpp"
#include "anxin/dispatcher/tls_files.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl/context.hpp>

#include <openssl/ssl.h>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>
#include <algorithm>
#include <cerrno>
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
    asio::thread_pool pool{1};  // password hashing: one core at most, never the event loop's
    std::unique_ptr<embedded_redis> embedded;
    std::shared_ptr<redis_connection> cmd, ingest, blocking, sub, view;
    std::vector<std::shared_ptr<redis_connection>> pub;
    std::unique_ptr<call_store> store;
    std::unique_ptr<directory> dir;
    session_registry registry;
    std::unique_ptr<event_bus> bus;
    std::unique_ptr<call_router> router;
    std::unique_ptr<board_feed> board;
    metrics stats;
    std::unique_ptr<server_context> ctx;
    std::optional<tcp::acceptor> device_acceptor, plain_acceptor, http_acceptor,
        plain_http_acceptor, metrics_acceptor;
    // The same certificate on both ports; the HTTP port never asks browsers for a client
    // certificate (the device port may, with --tls-client-ca).
    std::optional<asio::ssl::context> tls, http_tls;
    std::unique_ptr<pending_connections> device_gate, http_gate;
    // A descriptor held back for the moment the process is at its open-files limit: closing it
    // lets accept() take the waiting connection and close it at once, so the peer is told (and
    // tries another instance) instead of hanging in the listen backlog.
    int spare_fd = -1;
    std::chrono::steady_clock::time_point accept_error_logged{};
    std::uint64_t accept_errors_unlogged = 0;

    // After a failed accept: counted, logged at most every 10 s, a short back-off; at the
    // open-files limit the waiting connection is taken with the spare descriptor and closed.
    asio::awaitable<void> accept_failed(tcp::acceptor& acceptor, const char* port,
                                        boost::system::error_code ec) {
        ++stats.accept_errors;
        ++accept_errors_unlogged;
        const auto now = std::chrono::steady_clock::now();
        if (now - accept_error_logged >= 10s) {
            spdlog::warn("{} accept: {} ({} failures since the last report)", port, ec.message(),
                         accept_errors_unlogged);
            accept_error_logged = now;
            accept_errors_unlogged = 0;
        }
        if ((ec == asio::error::no_descriptors || ec.value() == ENFILE) && spare_fd >= 0) {
            ::close(spare_fd);
            boost::system::error_code ignored;
            tcp::socket shed(io);
            acceptor.accept(shed, ignored);
            shed.close(ignored);
            spare_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
        }
        asio::steady_timer t(io, 20ms);
        co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
    }

    // The TLS device port, or (plain) the legacy plaintext one.
    asio::awaitable<void> accept_devices(tcp::acceptor& acceptor, bool plain) {
        for (;;) {
            auto [ec, socket] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
            if (ec == asio::error::operation_aborted) co_return;
            if (ec) {
                co_await accept_failed(acceptor, plain ? "plain device" : "device", ec);
                continue;
            }
            auto stream = plain ? std::make_unique<device_stream>(std::move(socket))
                                : std::make_unique<device_stream>(std::move(socket), *tls);
            std::make_shared<device_session>(std::move(stream), *ctx)->start();
        }
    }

    // TLS 1.2 or later with the configured certificate, or one generated in the data directory.
    bool setup_tls() {
        auto cert = opts.tls_cert, key = opts.tls_key;
        if (cert.empty() != key.empty()) {
            spdlog::critical("--tls-cert and --tls-key go together");
            return false;
        }
        if (cert.empty()) {
            std::string error;
            auto files = ensure_tls_files(opts.data_dir / "tls",
                                          default_server_names(opts.bind_address), error);
            if (!files) {
                spdlog::critical("TLS: cannot create a certificate in {}: {}",
                                 (opts.data_dir / "tls").string(), error);
                return false;
            }
            cert = files->cert;
            key = files->key;
            std::string fp_error;
            spdlog::info(
                "TLS (device and HTTPS ports): generated certificate {}; devices and browsers "
                "trust the CA {} "
                "(SHA-256 fingerprint {})",
                cert.string(), files->ca_cert.string(),
                certificate_fingerprint(files->ca_cert, fp_error));
        }
        try {
            auto make = [&](std::optional<asio::ssl::context>& c) {
                c.emplace(asio::ssl::context::tls_server);
                c->set_options(asio::ssl::context::default_workarounds |
                               asio::ssl::context::no_sslv2 | asio::ssl::context::no_sslv3 |
                               asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1 |
                               asio::ssl::context::no_compression |
                               asio::ssl::context::single_dh_use);
                c->use_certificate_chain_file(cert.string());
                c->use_private_key_file(key.string(), asio::ssl::context::pem);
                // An idle connection (most of a button's life) gives its OpenSSL buffers back.
                SSL_CTX_set_mode(c->native_handle(), SSL_MODE_RELEASE_BUFFERS);
            };
            make(tls);
            make(http_tls);
            if (!opts.tls_client_ca.empty()) {
                tls->load_verify_file(opts.tls_client_ca.string());
                tls->set_verify_mode(asio::ssl::verify_peer);  // optional for the device
            }
        } catch (const std::exception& e) {
            spdlog::critical("TLS: {} (certificate {}, key {})", e.what(), cert.string(),
                             key.string());
            return false;
        }
        return true;
    }

    // The HTTPS port (tls set), the plaintext one, or the metrics address.
    asio::awaitable<void> accept_http(tcp::acceptor& acceptor, asio::ssl::context* tls,
                                      bool metrics_only) {
        for (;;) {
            auto [ec, socket] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
            if (ec == asio::error::operation_aborted) co_return;
            if (ec) {
                co_await accept_failed(acceptor, metrics_only ? "metrics" : "http", ec);
                continue;
            }
            asio::co_spawn(io, serve_http(std::move(socket), *ctx, tls, metrics_only),
                           asio::detached);
        }
    }
};

namespace {
// Raises the soft open-files limit to the hard one (each device is a descriptor) and returns it.
std::size_t open_files_limit() {
    rlimit r{};
    if (getrlimit(RLIMIT_NOFILE, &r) != 0) return 1024;
    if (r.rlim_cur < r.rlim_max) {
        rlimit raised = r;
        raised.rlim_cur = r.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &raised) == 0) r = raised;
    }
    return r.rlim_cur == RLIM_INFINITY ? 1 << 20 : static_cast<std::size_t>(r.rlim_cur);
}
}  // namespace

server::server(server_options opts) : impl_(std::make_unique<impl>()) {
    impl_->opts = std::move(opts);
}

server::~server() = default;

int server::run() {
    auto& m = *impl_;
    if (!m.setup_tls()) return 1;
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
    m.dir = std::make_unique<directory>(m.cmd, m.pool, m.opts.pbkdf2_iterations, m.opts.secrets);
    m.bus = std::make_unique<event_bus>(m.pub, m.sub, m.registry, m.opts.settings.instance);
    m.ctx = std::unique_ptr<server_context>(new server_context{
        m.io, m.opts.settings, *m.store, *m.dir, m.registry, *m.bus, nullptr, nullptr, m.stats});
    // Strangers may hold at most a quarter of the descriptors in device handshakes and a
    // sixteenth in HTTP connections that are not consoles: the rest stay for authenticated
    // devices, consoles, /healthz and Redis whatever a flood does.
    const auto fd_limit = open_files_limit();
    const auto& st = m.ctx->settings;
    const connection_gate::limits device_caps{
        std::min(st.max_pending_devices, fd_limit / 4),
        std::min(st.max_pending_devices_per_address, std::max<std::size_t>(1, fd_limit / 16)),
        std::chrono::milliseconds(1000)};
    const connection_gate::limits http_caps{
        std::min(st.max_pending_http, fd_limit / 16),
        std::min(st.max_pending_http_per_address, std::max<std::size_t>(1, fd_limit / 64)),
        std::chrono::milliseconds(1000)};
    m.device_gate = std::make_unique<pending_connections>(device_caps);
    m.http_gate = std::make_unique<pending_connections>(http_caps);
    m.ctx->device_gate = m.device_gate.get();
    m.ctx->http_gate = m.http_gate.get();
    m.spare_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    spdlog::info(
        "open files limit {}: at most {} device handshakes ({} per address) and {} "
        "non-console HTTP connections ({} per address) pending",
        fd_limit, device_caps.max_pending, device_caps.max_pending_per_address,
        http_caps.max_pending, http_caps.max_pending_per_address);
    m.router = std::make_unique<call_router>(*m.ctx, m.blocking, m.view);
    m.ctx->router = m.router.get();
    m.bus->on_world_changed([r = m.router.get()] { r->forget_world(); });
    m.board = std::make_unique<board_feed>(*m.ctx);
    m.ctx->board = m.board.get();
    m.registry.on_station_event(
        [b = m.board.get()](const std::string& station, const std::string& json) {
            b->on_station_event(station, json);
        });

    try {
        auto addr = asio::ip::make_address(m.opts.bind_address);
        m.device_acceptor.emplace(m.io, tcp::endpoint(addr, m.opts.device_port));
        m.http_acceptor.emplace(m.io, tcp::endpoint(addr, m.opts.http_port));
        if (m.opts.plain_device_port != 0)
            m.plain_acceptor.emplace(m.io, tcp::endpoint(addr, m.opts.plain_device_port));
        if (m.opts.plain_http_port != 0)
            m.plain_http_acceptor.emplace(m.io, tcp::endpoint(addr, m.opts.plain_http_port));
        if (m.opts.metrics_listen) m.metrics_acceptor.emplace(m.io, *m.opts.metrics_listen);
    } catch (const std::exception& e) {
        spdlog::critical(
            "cannot listen on {} (device port {}, plain device port {}, http port {}, plain http "
            "port {}){}: {}",
            m.opts.bind_address, m.opts.device_port, m.opts.plain_device_port, m.opts.http_port,
            m.opts.plain_http_port,
            m.opts.metrics_listen
                ? " or the metrics address " + m.opts.metrics_listen->address().to_string() + ":" +
                      std::to_string(m.opts.metrics_listen->port())
                : std::string(),
            e.what());
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
        if (m.board) m.board->store_back();
    });
    m.cmd->start();
    m.ingest->start();
    m.blocking->start();
    m.sub->start();
    m.view->start();
    for (auto& p : m.pub) p->start();
    m.bus->start();
    m.router->start();
    // Device secrets still in plaintext (a deployment from before encryption at rest) are sealed
    // once the store answers; until then find_device takes them as they are.
    asio::co_spawn(
        m.io,
        [&m]() -> asio::awaitable<void> {
            asio::steady_timer t(m.io);
            for (;;) {
                if (m.cmd->connected()) {
                    int n = co_await m.dir->seal_legacy_secrets();
                    if (n > 0) spdlog::warn("encrypted {} device secrets stored in plaintext", n);
                    if (n >= 0) co_return;
                }
                t.expires_after(1s);
                co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
            }
        },
        asio::detached);

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
        if (m.plain_acceptor) m.plain_acceptor->close(ignored);
        m.http_acceptor->close(ignored);
        if (m.plain_http_acceptor) m.plain_http_acceptor->close(ignored);
        if (m.metrics_acceptor) m.metrics_acceptor->close(ignored);
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

    asio::co_spawn(m.io, m.accept_devices(*m.device_acceptor, false), asio::detached);
    if (m.plain_acceptor)
        asio::co_spawn(m.io, m.accept_devices(*m.plain_acceptor, true), asio::detached);
    asio::co_spawn(m.io, m.accept_http(*m.http_acceptor, &*m.http_tls, false), asio::detached);
    if (m.plain_http_acceptor)
        asio::co_spawn(m.io, m.accept_http(*m.plain_http_acceptor, nullptr, false), asio::detached);
    if (m.metrics_acceptor)
        asio::co_spawn(m.io, m.accept_http(*m.metrics_acceptor, nullptr, true), asio::detached);
    spdlog::info(
        "anxin dispatcher {} ready: devices on {}:{} (TLS){}, consoles and API on "
        "https://{}:{}{}{}, "
        "redis {}",
        m.opts.settings.instance, m.opts.bind_address, m.device_acceptor->local_endpoint().port(),
        m.plain_acceptor ? ", plaintext devices on port " +
                               std::to_string(m.plain_acceptor->local_endpoint().port())
                         : std::string(),
        m.opts.bind_address, m.http_acceptor->local_endpoint().port(),
        m.plain_http_acceptor ? ", plaintext HTTP on port " +
                                    std::to_string(m.plain_http_acceptor->local_endpoint().port())
                              : std::string(),
        m.metrics_acceptor
            ? ", metrics on http://" + m.metrics_acceptor->local_endpoint().address().to_string() +
                  ":" + std::to_string(m.metrics_acceptor->local_endpoint().port()) + "/metrics"
            : std::string(),
        ep.describe());
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
