#include "anxin/sim/device_link.hpp"

#include "anxin/protocol/device_auth.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/write.hpp>

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

device_link::device_link(asio::io_context& io) : io_(io), socket_(io) {}

device_link::~device_link() {
    close();
    // The read in flight refers to this object: let it finish (aborted) before we go away.
    for (int i = 0; reading_ && i < 100; ++i) {
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
    io_.restart();
    // Other links may share this io_context: run only until this connect completes.
    auto until = std::chrono::steady_clock::now() + timeout;
    while (!done && std::chrono::steady_clock::now() < until) io_.run_one_until(until);
    if (!done) {
        close();
        io_.restart();
        io_.run_for(std::chrono::milliseconds(100));
        error_ = "connect timed out";
        return false;
    }
    if (ec) {
        error_ = "connect: " + ec.message();
        closed_ = true;
        return false;
    }
    socket_.set_option(tcp::no_delay(true), ec);
    closed_ = false;
    start_read();
    return true;
}

void device_link::start_read() {
    if (reading_ || closed_) return;
    reading_ = true;
    auto space = decoder_.prepare(4096);
    socket_.async_read_some(
        asio::buffer(space.data(), space.size()),
        [this](boost::system::error_code ec, std::size_t n) {
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
        });
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
    boost::system::error_code ec;
    asio::write(socket_, asio::buffer(bytes), ec);
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
                                                        std::uint64_t sequence_epoch) {
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
    if (!send(hello)) return std::nullopt;
    return receive(timeout);
}

}  // namespace anxin::sim
