#include "anxin/dispatcher/sentinel.hpp"

#include "hiredis_convert.hpp"

#include <hiredis/hiredis.h>
#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <array>
#include <charconv>

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace std::chrono_literals;

namespace anxin::dispatcher {

namespace {

constexpr auto ping_interval = 5s;

std::optional<int> to_port(std::string_view s) {
    int port = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), port);
    if (ec != std::errc{} || p != s.data() + s.size() || port <= 0 || port > 65535)
        return std::nullopt;
    return port;
}

}  // namespace

std::optional<redis_address> parse_master_addr(const redis_reply& reply) {
    if (!reply.is_array() || reply.elements.size() != 2) return std::nullopt;
    const auto& host = reply.elements[0];
    if (host.type != redis_reply::kind::string || host.str.empty()) return std::nullopt;
    auto port = to_port(reply.elements[1].as_string());
    if (!port) return std::nullopt;
    return redis_address{host.str, *port};
}

bool is_master_role(const redis_reply& reply) {
    return reply.is_array() && !reply.elements.empty() && reply.elements[0].str == "master";
}

std::optional<redis_address> parse_switch_master(std::string_view payload,
                                                 std::string_view master) {
    std::vector<std::string_view> words;
    std::size_t start = 0;
    while (start < payload.size()) {
        auto space = payload.find(' ', start);
        if (space == std::string_view::npos) space = payload.size();
        if (space > start) words.push_back(payload.substr(start, space - start));
        start = space + 1;
    }
    if (words.size() != 5 || words[0] != master) return std::nullopt;
    auto port = to_port(words[4]);
    if (!port) return std::nullopt;
    return redis_address{std::string(words[3]), *port};
}

std::string format_command(const std::vector<std::string>& args) {
    std::string out = "*" + std::to_string(args.size()) + "\r\n";
    for (const auto& a : args) {
        out += "$" + std::to_string(a.size()) + "\r\n";
        out += a;
        out += "\r\n";
    }
    return out;
}

// One TCP connection to a sentinel with a reply parser and a deadline that closes it.
struct sentinel_client::link {
    explicit link(asio::io_context& io) : resolver(io), socket(io), deadline(io) {}
    ~link() {
        if (reader) redisReaderFree(reader);
    }
    tcp::resolver resolver;
    tcp::socket socket;
    asio::steady_timer deadline;
    redisReader* reader = redisReaderCreate();
    std::array<char, 4096> buf{};

    void close() {
        boost::system::error_code ignored;
        resolver.cancel();
        socket.close(ignored);
    }
    // Closing the socket cancels whatever is pending on it.
    static void arm(const std::shared_ptr<link>& l, std::chrono::milliseconds timeout) {
        l->deadline.expires_after(timeout);
        l->deadline.async_wait([weak = std::weak_ptr<link>(l)](boost::system::error_code ec) {
            if (ec) return;
            if (auto self = weak.lock()) self->close();
        });
    }

    asio::awaitable<bool> connect(const redis_address& to) {
        auto port = std::to_string(to.port);
        auto [rec, endpoints] =
            co_await resolver.async_resolve(to.host, port, asio::as_tuple(asio::use_awaitable));
        if (rec) co_return false;
        auto [ec, ep] =
            co_await asio::async_connect(socket, endpoints, asio::as_tuple(asio::use_awaitable));
        co_return !ec;
    }

    asio::awaitable<bool> send(const std::vector<std::string>& args) {
        auto wire = format_command(args);
        auto [ec, n] = co_await asio::async_write(socket, asio::buffer(wire),
                                                  asio::as_tuple(asio::use_awaitable));
        co_return !ec;
    }

    // The next reply; nullopt when the connection closed or the stream is not RESP.
    asio::awaitable<std::optional<redis_reply>> receive() {
        for (;;) {
            void* r = nullptr;
            if (!reader || redisReaderGetReply(reader, &r) != REDIS_OK) co_return std::nullopt;
            if (r) {
                auto out = detail::convert(static_cast<redisReply*>(r));
                freeReplyObject(r);
                co_return out;
            }
            auto [ec, n] = co_await socket.async_read_some(asio::buffer(buf),
                                                           asio::as_tuple(asio::use_awaitable));
            if (ec) co_return std::nullopt;
            redisReaderFeed(reader, buf.data(), n);
        }
    }
};

std::shared_ptr<sentinel_client> sentinel_client::create(asio::io_context& io,
                                                         std::vector<redis_address> sentinels,
                                                         std::string master,
                                                         std::chrono::milliseconds timeout,
                                                         std::string name, redis_credentials auth) {
    return std::shared_ptr<sentinel_client>(new sentinel_client(
        io, std::move(sentinels), std::move(master), timeout, std::move(name), std::move(auth)));
}

sentinel_client::sentinel_client(asio::io_context& io, std::vector<redis_address> sentinels,
                                 std::string master, std::chrono::milliseconds timeout,
                                 std::string name, redis_credentials auth)
    : io_(io),
      sentinels_(std::move(sentinels)),
      master_(std::move(master)),
      timeout_(timeout),
      name_(std::move(name)),
      auth_(std::move(auth)),
      retry_timer_(io) {
    assert(!sentinels_.empty());
}

asio::awaitable<bool> sentinel_client::authenticate(link& l, const redis_address& sentinel) {
    if (auth_.empty()) co_return true;
    if (!co_await l.send(auth_.auth_command())) co_return false;
    auto reply = co_await l.receive();
    if (!reply) co_return false;  // no answer: the caller logs the silence
    if (!reply->is_error()) co_return true;
    // One line per 30 s for the process: every connection's resolves and watches meet the same
    // wrong password. (Io thread only, like everything here.)
    static std::chrono::steady_clock::time_point logged{};
    const auto now = std::chrono::steady_clock::now();
    if (logged == std::chrono::steady_clock::time_point{} || now - logged >= 30s) {
        spdlog::error(
            "redis[{}]: sentinel {} refused AUTH as {}: {}; check --sentinel-user and "
            "--sentinel-password-file / $ANXIN_SENTINEL_PASSWORD; retrying",
            name_, sentinel.describe(), auth_.describe(), reply->str);
        logged = now;
    }
    co_return false;
}

asio::awaitable<std::optional<redis_address>> sentinel_client::resolve() {
    auto self = shared_from_this();
    for (std::size_t i = 0; i < sentinels_.size() && !stopped_; ++i) {
        const auto sentinel = sentinels_[i];
        auto l = std::make_shared<link>(io_);
        link::arm(l, timeout_);
        std::optional<redis_reply> reply;
        bool refused = false;
        if (co_await l->connect(sentinel)) {
            if (!co_await authenticate(*l, sentinel)) {
                refused = l->socket.is_open();
            } else {
                auto cmd = redis_cmd("SENTINEL", "get-master-addr-by-name", master_);
                if (co_await l->send(cmd)) reply = co_await l->receive();
            }
        }
        l->deadline.cancel();
        l->close();
        if (refused) continue;  // logged by authenticate()
        if (!reply) {
            spdlog::warn("redis[{}]: sentinel {} did not answer within {} ms", name_,
                         sentinel.describe(), timeout_.count());
            continue;
        }
        auto primary = parse_master_addr(*reply);
        if (!primary) {
            spdlog::warn("redis[{}]: sentinel {} names no primary for '{}'{}{}", name_,
                         sentinel.describe(), master_, reply->is_error() ? ": " : "",
                         reply->is_error() ? reply->str : "");
            continue;
        }
        // The spec: the sentinel that answered is asked first next time.
        std::rotate(sentinels_.begin(), sentinels_.begin() + static_cast<std::ptrdiff_t>(i),
                    sentinels_.begin() + static_cast<std::ptrdiff_t>(i) + 1);
        spdlog::debug("redis[{}]: sentinel {} names {} as primary of '{}'", name_,
                      sentinel.describe(), primary->describe(), master_);
        co_return primary;
    }
    co_return std::nullopt;
}

void sentinel_client::watch(switch_handler h) {
    on_switch_ = std::move(h);
    if (watching_) return;
    watching_ = true;
    asio::co_spawn(io_, watch_loop(), asio::detached);
}

void sentinel_client::stop() {
    stopped_ = true;
    retry_timer_.cancel();
    if (watch_link_) watch_link_->close();
}

asio::awaitable<void> sentinel_client::keep_alive(std::shared_ptr<link> l) {
    auto self = shared_from_this();  // outlives watch_loop(), which may end while this sleeps
    asio::steady_timer t(io_);
    auto ping = redis_cmd("PING");
    while (!stopped_ && l->socket.is_open()) {
        t.expires_after(ping_interval);
        co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
        if (stopped_ || !l->socket.is_open() || !co_await l->send(ping)) break;
    }
}

asio::awaitable<void> sentinel_client::watch_loop() {
    auto self = shared_from_this();
    std::size_t next = 0;
    while (!stopped_) {
        // Starts with the sentinel that last named the primary: the one known to be up.
        const auto sentinel = sentinels_[next++ % sentinels_.size()];
        auto l = std::make_shared<link>(io_);
        watch_link_ = l;
        link::arm(l, timeout_);
        std::optional<redis_reply> confirm;
        if (co_await l->connect(sentinel) && co_await authenticate(*l, sentinel)) {
            auto cmd = redis_cmd("SUBSCRIBE", "+switch-master");
            if (co_await l->send(cmd)) confirm = co_await l->receive();
        }
        l->deadline.cancel();
        if (confirm && confirm->is_array() && !confirm->elements.empty() &&
            confirm->elements[0].str == "subscribe") {
            spdlog::debug("redis[{}]: watching +switch-master on sentinel {}", name_,
                          sentinel.describe());
            // A sentinel that vanishes without a FIN (power cut, partition) would leave us deaf:
            // PING it and give up on it after three silent intervals.
            asio::co_spawn(io_, keep_alive(l), asio::detached);
            for (;;) {
                link::arm(l, 3 * ping_interval);
                auto m = co_await l->receive();
                if (!m) break;
                if (!m->is_array() || m->elements.size() != 3 || m->elements[0].str != "message")
                    continue;
                auto primary = parse_switch_master(m->elements[2].str, master_);
                if (!primary) continue;
                spdlog::warn("redis[{}]: sentinel {} reports failover of '{}': {}", name_,
                             sentinel.describe(), master_, m->elements[2].str);
                if (on_switch_) on_switch_(*primary);
            }
            if (!stopped_)
                spdlog::warn("redis[{}]: lost the +switch-master subscription on sentinel {}",
                             name_, sentinel.describe());
        }
        l->close();
        if (stopped_) break;
        retry_timer_.expires_after(1s);
        co_await retry_timer_.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    watch_link_.reset();
}

}  // namespace anxin::dispatcher
