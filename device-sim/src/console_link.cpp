#include "anxin/sim/console_link.hpp"

#include <google/protobuf/util/json_util.h>
#include <openssl/ssl.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/websocket.hpp>

#include <algorithm>
#include <thread>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace cv = anxin::console::v1;
using asio::ip::tcp;

namespace anxin::sim {

std::string to_json(const google::protobuf::Message& m) {
    std::string out;
    google::protobuf::util::JsonPrintOptions opts;
    opts.preserve_proto_field_names = true;
    (void)google::protobuf::util::MessageToJsonString(m, &out, opts);
    return out;
}

console_link::console_link(asio::io_context& io) : io_(io) {}

console_link::~console_link() {
    close();
    // The read in flight refers to this object: let it finish (aborted) before we go away. Other
    // links' handlers may be queued ahead of it (device-sim load runs dozens of consoles on one
    // io_context), so run until it has, not a fixed number of handlers.
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (reading_ && std::chrono::steady_clock::now() < give_up) {
        io_.restart();
        io_.run_one_for(std::chrono::milliseconds(10));
    }
}

void console_link::close() {
    if (ws_) {
        beast::get_lowest_layer(*ws_).close();
    }
    closed_ = true;
}

void console_link::use_tls(std::shared_ptr<asio::ssl::context> tls, std::string server_name) {
    tls_ctx_ = std::move(tls);
    tls_name_ = std::move(server_name);
}

bool console_link::connect(const std::string& host, unsigned short port,
                           std::chrono::milliseconds timeout) {
    using protocol::maybe_tls_stream;
    const std::string name =
        !tls_name_.empty() ? tls_name_ : (host == "127.0.0.1" ? std::string("localhost") : host);
    if (tls_ctx_) {
        maybe_tls_stream::tls_stream tls(beast::tcp_stream(io_), *tls_ctx_);
        SSL_set_tlsext_host_name(tls.native_handle(), name.c_str());
        tls.set_verify_callback(asio::ssl::host_name_verification(name));
        ws_ = std::make_unique<beast::websocket::stream<maybe_tls_stream>>(
            maybe_tls_stream(std::move(tls)));
    } else {
        ws_ = std::make_unique<beast::websocket::stream<maybe_tls_stream>>(
            maybe_tls_stream(beast::tcp_stream(io_)));
    }
    tcp::resolver resolver(io_);
    boost::system::error_code ec;
    auto endpoints = resolver.resolve(host, std::to_string(port), ec);
    if (ec) {
        error_ = ec.message();
        return false;
    }
    bool done = false;
    beast::get_lowest_layer(*ws_).expires_after(timeout);
    beast::get_lowest_layer(*ws_).async_connect(
        endpoints, [&](boost::system::error_code e, const tcp::endpoint&) {
            if (e) {
                ec = e;
                done = true;
                return;
            }
            auto upgrade = [&] {
                ws_->async_handshake(host + ":" + std::to_string(port), "/console",
                                     [&](boost::system::error_code e2) {
                                         ec = e2;
                                         done = true;
                                     });
            };
            if (!ws_->next_layer().is_tls()) return upgrade();
            ws_->next_layer().tls().async_handshake(asio::ssl::stream_base::client,
                                                    [&, upgrade](boost::system::error_code e2) {
                                                        if (e2) {
                                                            ec = e2;
                                                            done = true;
                                                            return;
                                                        }
                                                        upgrade();
                                                    });
        });
    io_.restart();
    auto until = std::chrono::steady_clock::now() + timeout;
    while (!done && std::chrono::steady_clock::now() < until) io_.run_one_until(until);
    if (!done || ec) {
        error_ = done ? ec.message() : "timeout";
        close();
        // The handlers above refer to this frame's locals: let the aborted one run before it goes
        // (closing makes it complete; other links' handlers may be ahead of it in the queue).
        while (!done) {
            io_.restart();
            io_.run_one_for(std::chrono::milliseconds(10));
        }
        return false;
    }
    beast::get_lowest_layer(*ws_).expires_never();
    ws_->text(true);
    closed_ = false;
    start_read();
    return true;
}

void console_link::start_read() {
    if (reading_ || closed_) return;
    reading_ = true;
    ws_->async_read(buf_, [this](boost::system::error_code ec, std::size_t) {
        reading_ = false;
        if (ec) {
            closed_ = true;
            error_ = ec.message();
            return;
        }
        std::string text = beast::buffers_to_string(buf_.data());
        buf_.consume(buf_.size());
        // A frame holds one event or a batch of them: the users see one event at a time.
        std::vector<std::string_view> events;
        if (!split_batch(text, events)) events.assign(1, text);
        for (auto one : events) on_event(one);
        start_read();
    });
}

void console_link::on_event(std::string_view text) {
    cv::ConsoleEvent ev;
    static constexpr std::string_view offer_prefix = R"({"offer":{"call":{"id":")";
    std::size_t id_end = std::string::npos;
    if (offer_ids_only_ && text.starts_with(offer_prefix))
        id_end = text.find('"', offer_prefix.size());
    google::protobuf::util::JsonParseOptions po;
    po.ignore_unknown_fields = true;
    bool parsed = false;
    if (id_end != std::string::npos) {
        ev.mutable_offer()->mutable_call()->set_id(
            std::string(text.substr(offer_prefix.size(), id_end - offer_prefix.size())));
        parsed = true;
    } else {
        parsed = google::protobuf::util::JsonStringToMessage(std::string(text), &ev, po).ok();
    }
    if (parsed) {
        if (handler_)
            handler_(ev);
        else
            inbox_.push_back(std::move(ev));
    }
}

bool split_batch(std::string_view text, std::vector<std::string_view>& events) {
    events.clear();
    static constexpr std::string_view head = R"({"batch":{"events":[)";
    static constexpr std::string_view tail = "]}}";
    if (!text.starts_with(head) || !text.ends_with(tail)) return false;
    const auto body = text.substr(head.size(), text.size() - head.size() - tail.size());
    std::size_t start = 0;
    int depth = 0;
    bool in_string = false;
    for (std::size_t i = 0; i < body.size(); ++i) {
        const char c = body[i];
        if (in_string) {
            if (c == '\\')
                ++i;
            else if (c == '"')
                in_string = false;
            continue;
        }
        if (c == '"') {
            in_string = true;
        } else if (c == '{' || c == '[') {
            ++depth;
        } else if (c == '}' || c == ']') {
            if (--depth < 0) return false;
        } else if (c == ',' && depth == 0) {
            events.push_back(body.substr(start, i - start));
            start = i + 1;
        }
    }
    if (depth != 0 || in_string) return false;
    if (start < body.size()) events.push_back(body.substr(start));
    return true;
}

bool console_link::send_text(const std::string& text) {
    if (closed_) return false;
    boost::system::error_code ec;
    ws_->write(asio::buffer(text), ec);
    if (ec) {
        error_ = ec.message();
        return false;
    }
    return true;
}

bool console_link::send(const cv::ConsoleRequest& req) {
    return send_text(to_json(req));
}

std::optional<cv::ConsoleEvent> console_link::poll() {
    io_.restart();
    io_.poll();
    if (inbox_.empty()) return std::nullopt;
    auto ev = std::move(inbox_.front());
    inbox_.pop_front();
    return ev;
}

std::optional<cv::ConsoleEvent> console_link::receive(std::chrono::milliseconds timeout) {
    auto until = std::chrono::steady_clock::now() + timeout;
    while (inbox_.empty() && !closed_) {
        auto now = std::chrono::steady_clock::now();
        if (now >= until) break;
        io_.restart();
        io_.run_one_for(until - now);
    }
    if (inbox_.empty()) return std::nullopt;
    auto ev = std::move(inbox_.front());
    inbox_.pop_front();
    return ev;
}

std::optional<cv::ConsoleEvent> console_link::login(const std::string& op,
                                                    const std::string& password,
                                                    std::chrono::milliseconds timeout) {
    cv::ConsoleRequest req;
    req.set_req("login");
    req.mutable_login()->set_operator_id(op);
    req.mutable_login()->set_password(password);
    const auto until = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        if (!send(req)) return std::nullopt;
        // The server answers a login before it pushes anything else to this console.
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            until - std::chrono::steady_clock::now());
        auto ev = receive(left);
        // "busy": the server's password checks are all taken; it says when to come back.
        if (!ev || !ev->has_error() || ev->error().code() != "busy") return ev;
        const auto wait =
            std::chrono::milliseconds(std::max<std::int64_t>(ev->error().retry_after_ms(), 100));
        if (std::chrono::steady_clock::now() + wait >= until) return ev;
        std::this_thread::sleep_for(wait);
    }
}

}  // namespace anxin::sim
