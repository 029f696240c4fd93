#include "anxin/sim/device_link.hpp"

#include "anxin/protocol/device_auth.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/write.hpp>

#include <openssl/ssl.h>

#include <map>

namespace asio = boost::asio;
namespace dv = anxin::device::v1;
using asio::ip::tcp;

namespace anxin::sim {

std::int64_t wall_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::optional<anxin::device::v1::AlarmType> parse_alarm_type(const std::string& name) {
    namespace dv = anxin::device::v1;
    static const std::map<std::string, dv::AlarmType> types = {{"sos", dv::SOS},
                                                               {"fall", dv::FALL},
                                                               {"medical", dv::MEDICAL},
                                                               {"smoke", dv::SMOKE},
                                                               {"inactivity", dv::INACTIVITY},
                                                               {"low_battery", dv::LOW_BATTERY},
                                                               {"tamper", dv::TAMPER},
                                                               {"power_loss", dv::POWER_LOSS}};
    auto it = types.find(name);
    if (it == types.end()) return std::nullopt;
    return it->second;
}

std::shared_ptr<asio::ssl::context> make_client_context(const device_tls& t, std::string& error) {
    if (!t.enabled) return nullptr;
    try {
        auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
        ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                         asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                         asio::ssl::context::no_tlsv1_1 | asio::ssl::context::no_compression);
        ctx->set_verify_mode(asio::ssl::verify_peer);
        ctx->load_verify_file(t.ca_file);
        if (!t.client_cert.empty()) {
            ctx->use_certificate_chain_file(t.client_cert);
            ctx->use_private_key_file(t.client_key.empty() ? t.client_cert : t.client_key,
                                      asio::ssl::context::pem);
        }
        // Thousands of idle simulated devices: give OpenSSL's buffers back between messages.
        SSL_CTX_set_mode(ctx->native_handle(), SSL_MODE_RELEASE_BUFFERS);
        return ctx;
    } catch (const std::exception& e) {
        error = std::string("TLS: ") + e.what() + " (CA file '" + t.ca_file + "')";
        return nullptr;
    }
}

device_link::device_link(asio::io_context& io) : io_(io), socket_(io) {}

void device_link::use_tls(std::shared_ptr<asio::ssl::context> tls, std::string server_name) {
    tls_ctx_ = std::move(tls);
    tls_name_ = std::move(server_name);
}

bool device_link::run_until(const bool& done, std::chrono::steady_clock::time_point deadline) {
    io_.restart();
    // Other links may share this io_context: run only until this operation completes.
    while (!done && std::chrono::steady_clock::now() < deadline) io_.run_one_until(deadline);
    return done;
}

device_link::~device_link() {
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

void device_link::close() {
    boost::system::error_code ec;
    socket_.close(ec);
    closed_ = true;
}

bool device_link::connect(const std::string& host, unsigned short port,
                          std::chrono::milliseconds timeout) {
    tcp::resolver resolver(io_);
    boost::system::error_code ec;
    auto endpoints = resolver.resolve(host, std::to_string(port), ec);
    if (ec) {
        error_ = "resolve " + host + ": " + ec.message();
        return false;
    }
    bool done = false;
    asio::async_connect(socket_, endpoints, [&](boost::system::error_code e, const tcp::endpoint&) {
        ec = e;
        done = true;
    });
    const auto until = std::chrono::steady_clock::now() + timeout;
    if (!run_until(done, until)) {
        close();  // completes the connect (aborted): its handler refers to this frame
        run_until(done, std::chrono::steady_clock::now() + std::chrono::seconds(1));
        error_ = "connect timed out";
        return false;
    }
    if (ec) {
        error_ = "connect: " + ec.message();
        closed_ = true;
        return false;
    }
    socket_.set_option(tcp::no_delay(true), ec);
    tls_.reset();
    if (tls_ctx_) {
        tls_.emplace(socket_, *tls_ctx_);
        const auto& name = tls_name_.empty() ? host : tls_name_;
        SSL_set_tlsext_host_name(tls_->native_handle(), name.c_str());
        tls_->set_verify_callback(asio::ssl::host_name_verification(name));
        bool shaken = false;
        tls_->async_handshake(asio::ssl::stream_base::client, [&](boost::system::error_code e) {
            ec = e;
            shaken = true;
        });
        if (!run_until(shaken, until)) {
            close();
            run_until(shaken, std::chrono::steady_clock::now() + std::chrono::milliseconds(100));
            error_ = "TLS handshake timed out";
            return false;
        }
        if (ec) {
            error_ = "TLS handshake: " + ec.message();
            close();
            return false;
        }
    }
    closed_ = false;
    start_read();
    return true;
}

void device_link::start_read() {
    if (reading_ || closed_) return;
    reading_ = true;
    auto space = decoder_.prepare(4096);
    auto on_read = [this](boost::system::error_code ec, std::size_t n) {
        reading_ = false;
        if (ec) {
            closed_ = true;
            if (ec != asio::error::eof && ec != asio::error::operation_aborted)
                error_ = ec.message();
            return;
        }
        decoder_.commit(n);
        for (;;) {
            auto r = decoder_.next();
            if (r.st != protocol::frame_decoder::status::frame) break;
            dv::ServerMessage m;
            if (m.ParseFromArray(r.body.data(), static_cast<int>(r.body.size())))
                inbox_.push_back(std::move(m));
        }
        start_read();
    };
    if (tls_)
        tls_->async_read_some(asio::buffer(space.data(), space.size()), std::move(on_read));
    else
        socket_.async_read_some(asio::buffer(space.data(), space.size()), std::move(on_read));
}

std::optional<dv::ServerMessage> device_link::receive(std::chrono::milliseconds timeout) {
    auto until = std::chrono::steady_clock::now() + timeout;
    while (inbox_.empty() && !closed_) {
        auto now = std::chrono::steady_clock::now();
        if (now >= until) break;
        io_.restart();
        io_.run_one_for(until - now);
    }
    if (inbox_.empty()) return std::nullopt;
    auto m = std::move(inbox_.front());
    inbox_.pop_front();
    return m;
}

bool device_link::send_raw(const std::string& bytes) {
    // Asynchronous even here: a read is always in flight, and an SSL stream takes one read and
    // one write at a time only as asynchronous operations.
    boost::system::error_code ec;
    bool done = false;
    auto on_write = [&](boost::system::error_code e, std::size_t) {
        ec = e;
        done = true;
    };
    if (tls_)
        asio::async_write(*tls_, asio::buffer(bytes), on_write);
    else
        asio::async_write(socket_, asio::buffer(bytes), on_write);
    if (!run_until(done, std::chrono::steady_clock::now() + std::chrono::seconds(10))) {
        error_ = "write timed out";
        close();
        run_until(done, std::chrono::steady_clock::now() + std::chrono::milliseconds(100));
        return false;
    }
    if (ec) {
        error_ = "write: " + ec.message();
        return false;
    }
    return true;
}

bool device_link::send(const dv::DeviceMessage& msg) {
    return send_raw(protocol::encode_frame(msg));
}

std::optional<dv::ServerMessage> device_link::handshake(const std::string& device_id,
                                                        const std::string& secret,
                                                        std::chrono::milliseconds timeout,
                                                        std::uint64_t sequence_epoch,
                                                        const std::string& device_nonce) {
    server_proof_ok_ = false;
    auto challenge = receive(timeout);
    if (!challenge || !challenge->has_challenge()) {
        if (challenge) return challenge;  // e.g. an Error
        error_ = "no challenge";
        return std::nullopt;
    }
    dv::DeviceMessage hello;
    hello.mutable_hello()->set_device_id(device_id);
    hello.mutable_hello()->set_protocol_version(1);
    hello.mutable_hello()->set_firmware("anxin-device-sim");
    hello.mutable_hello()->set_sequence_epoch(sequence_epoch);
    hello.mutable_hello()->set_hmac(protocol::hmac_sha256(secret, challenge->challenge().nonce()));
    hello.mutable_hello()->set_device_nonce(device_nonce);
    if (!send(hello)) return std::nullopt;
    auto answer = receive(timeout);
    if (answer && answer->has_welcome() && !device_nonce.empty()) {
        server_proof_ok_ = protocol::constant_time_equal(
            answer->welcome().server_proof(),
            protocol::hmac_sha256(
                secret, "anxin-welcome-v1" + challenge->challenge().nonce() + device_nonce));
    }
    return answer;
}

}  // namespace anxin::sim
