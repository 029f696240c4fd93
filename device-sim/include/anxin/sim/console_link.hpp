#pragma once
// An operator console's WebSocket to the dispatcher (protocol/CONSOLE.md), stepped like
// device_link: send requests, receive events with a timeout. Several links may share one
// io_context (the bot operators do); any receive() call advances all of them.
//
// Not thread-safe; one owner.

#include "console.pb.h"

#include "anxin/protocol/maybe_tls_stream.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket/stream.hpp>

#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace anxin::sim {

class console_link {
  public:
    explicit console_link(boost::asio::io_context& io);
    ~console_link();

    // Speak WSS on the next connect(), verifying the server against tls's CA and the name
    // (default: the host connected to; "localhost" for 127.0.0.1). Without it: plaintext ws://
    // (the dispatcher's --plain-http-port).
    void use_tls(std::shared_ptr<boost::asio::ssl::context> tls, std::string server_name = {});
    bool connect(const std::string& host, unsigned short port, std::chrono::milliseconds timeout);
    bool send(const anxin::console::v1::ConsoleRequest& req);
    bool send_text(const std::string& text);
    // Next event; nullopt on timeout or closed connection.
    std::optional<anxin::console::v1::ConsoleEvent> receive(std::chrono::milliseconds timeout);
    // Drains events already received without waiting.
    std::optional<anxin::console::v1::ConsoleEvent> poll();
    // Sends login and waits for login_ok or error (returned); a "busy" answer is retried after
    // its retry_after_ms while the timeout allows.
    std::optional<anxin::console::v1::ConsoleEvent> login(const std::string& op,
                                                          const std::string& password,
                                                          std::chrono::milliseconds timeout);
    bool closed() const { return closed_; }
    const std::string& error() const { return error_; }
    void close();
    // When set, events go to this handler as they arrive (inside the io_context) instead of the
    // inbox: for load tests that timestamp them.
    // Load-test bots only need an offer's call id: with this on, an offer that starts the way the
    // dispatcher writes it ({"offer":{"call":{"id":"...) is handed on with just that id instead
    // of parsing the whole JSON (the resident's card), so the simulator spends its CPU on load,
    // not on parsing. Anything else is parsed in full.
    void set_offer_ids_only(bool on) { offer_ids_only_ = on; }
    void set_event_handler(std::function<void(const anxin::console::v1::ConsoleEvent&)> h) {
        handler_ = std::move(h);
    }

  private:
    void start_read();
    // One event's JSON: to the handler or the inbox.
    void on_event(std::string_view text);

    boost::asio::io_context& io_;
    std::shared_ptr<boost::asio::ssl::context> tls_ctx_;
    std::string tls_name_;
    std::unique_ptr<boost::beast::websocket::stream<anxin::protocol::maybe_tls_stream>> ws_;
    boost::beast::flat_buffer buf_;
    std::deque<anxin::console::v1::ConsoleEvent> inbox_;
    std::function<void(const anxin::console::v1::ConsoleEvent&)> handler_;
    bool reading_ = false;
    bool closed_ = true;
    bool offer_ids_only_ = false;
    std::string error_;
};

std::string to_json(const google::protobuf::Message& m);

// A frame {"batch":{"events":[e1,e2,...]}} (protocol/CONSOLE.md): the events' JSON texts, in
// order, pointing into `text`. False if the frame is not a well-formed batch (then `events`
// holds nothing useful).
bool split_batch(std::string_view text, std::vector<std::string_view>& events);

}  // namespace anxin::sim
