// device-sim load: many call buttons (and optionally bot operators) in one process, driven
// open-loop, measuring latency from each message's *intended* send time so that a stalled server
// cannot hide its stalls (coordinated omission). At the end the acked alarms are checked against
// Redis: lost (acked, never offered to anyone) and duplicated (two calls for one press).

#include "commands.hpp"
#include "options.hpp"
#include "sim_files.hpp"

#include "anxin/protocol/device_auth.hpp"
#include "anxin/protocol/framing.hpp"
#include "anxin/sim/console_link.hpp"
#include "anxin/sim/device_link.hpp"
#include "anxin/sim/histogram.hpp"

#include "device.pb.h"

#include <hiredis/hiredis.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include <openssl/ssl.h>

#include <csignal>
#include <cstdio>
#include <deque>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <string_view>
#include <unordered_map>

namespace asio = boost::asio;
namespace po = boost::program_options;
namespace dv = anxin::device::v1;
namespace cv = anxin::console::v1;
using asio::ip::tcp;
using clock_type = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace anxin::sim {

namespace {

volatile std::sig_atomic_t stop_requested = 0;

std::int64_t micros_since(clock_type::time_point t) {
    return std::chrono::duration_cast<std::chrono::microseconds>(clock_type::now() - t).count();
}

struct press_record {
    std::string device;
    std::uint32_t seq = 0;
    dv::AlarmType type = dv::SOS;
    clock_type::time_point intended;
    std::int64_t press_time_ms = 0;  // device_time_ms: fixed at the press, the same in re-sends
    std::shared_ptr<std::function<void(boost::system::error_code)>> resend;  // until acked
    std::set<std::string> call_ids;  // more than one: a duplicate
    bool acked = false, offered = false, assigned = false;
    int sends = 0;
};

struct load_stats {
    latency_histogram ack, offered, assigned, heartbeat, connect;
    std::uint64_t presses = 0, sent = 0, acked = 0, nacked = 0, resent = 0, errors = 0,
                  disconnects = 0, connected = 0, rejected = 0, heartbeats = 0, offers_seen = 0,
                  tls_failures = 0;
    std::map<std::string, std::uint64_t> offered_by_priority_order;  // for surge ordering check
};

struct engine;

// One simulated button. Lives as long as the engine; reconnects by itself.
class sim_device : public std::enable_shared_from_this<sim_device> {
  public:
    sim_device(engine& e, device_entry entry, std::string source_ip, std::size_t server)
        : e_(e), entry_(std::move(entry)), source_ip_(std::move(source_ip)), server_(server) {}
    void start(clock_type::duration delay);
    void press(std::shared_ptr<press_record> p);
    bool online() const { return online_; }
    const std::string& id() const { return entry_.device_id; }
    // Churn: the link drops (the device reconnects with backoff, re-sending what is unacked).
    void bounce() {
        if (online_) drop("churn");
    }
    // A slow peer: after every read it waits this long before reading again.
    void set_slow(std::chrono::milliseconds pause) { slow_pause_ = pause; }
    std::uint32_t next_seq() { return seq_++; }

  private:
    void connect();
    void read();
    void on_frame(const dv::ServerMessage& m);
    void send(const dv::DeviceMessage& m);
    void write();
    void heartbeat();
    void drop(const char* why);
    void send_alarm(press_record& p);

    engine& e_;
    device_entry entry_;
    std::string source_ip_;
    // One connection: its socket and, over TLS, the stream on it. Handlers hold the link they
    // were started on, so a link dropped with operations in flight lives until they complete.
    struct link_io {
        explicit link_io(asio::io_context& io) : sock(io) {}
        tcp::socket sock;
        std::optional<asio::ssl::stream<tcp::socket&>> tls;
    };
    std::shared_ptr<link_io> link_;
    protocol::frame_decoder dec_{65536};
    std::deque<std::string> outq_;
    bool writing_ = false, online_ = false, connecting_ = false;
    int backoff_ms_ = 500;
    std::uint32_t seq_ = 0;
    std::unique_ptr<asio::steady_timer> hb_timer_, retry_timer_;
    std::deque<clock_type::time_point> hb_sent_;
    clock_type::time_point connect_started_;
    std::map<std::uint32_t, std::shared_ptr<press_record>> pending_;  // not yet acked
    std::map<std::string, std::shared_ptr<press_record>> by_call_;
    int generation_ = 0;
    std::chrono::milliseconds slow_pause_{0};
    std::size_t server_ = 0;  // index into engine::servers
};

struct engine {
    asio::io_context io{1};
    std::string host;
    unsigned short port = 7700;
    int heartbeat_s = 60;
    int resend_ms = 5000;
    load_stats stats;
    std::mt19937_64 rng{std::random_device{}()};
    std::unordered_map<std::string, std::shared_ptr<press_record>> by_call;  // for bots
    std::vector<std::shared_ptr<press_record>> presses;
    std::vector<std::shared_ptr<sim_device>> devices;
    // Dispatcher instances (--servers): device i starts with servers[i % n] and moves to the next
    // one when its link fails, as a device with a list of server addresses does.
    std::vector<tcp::endpoint> servers;
    std::shared_ptr<asio::ssl::context> tls;  // nullptr: --plain
    std::string tls_name;                     // the name the server's certificate must carry
    std::string tls_name_given;               // --tls-name (bots: default, each console's host)
};

void sim_device::start(clock_type::duration delay) {
    hb_timer_ = std::make_unique<asio::steady_timer>(e_.io);
    retry_timer_ = std::make_unique<asio::steady_timer>(e_.io);
    seq_ = static_cast<std::uint32_t>((wall_ms() / 1000 - 1767225600) * 16);
    retry_timer_->expires_after(delay);
    retry_timer_->async_wait([self = shared_from_this()](boost::system::error_code ec) {
        if (!ec) self->connect();
    });
}

void sim_device::connect() {
    if (connecting_ || online_) return;
    connecting_ = true;
    ++generation_;
    link_ = std::make_shared<link_io>(e_.io);
    auto* sock = &link_->sock;
    boost::system::error_code ec;
    sock->open(tcp::v4(), ec);
    // Several loopback source addresses, so that 19,000 connections never run out of ports.
    if (!source_ip_.empty()) sock->bind(tcp::endpoint(asio::ip::make_address(source_ip_), 0), ec);
    dec_ = protocol::frame_decoder(65536);
    outq_.clear();
    writing_ = false;
    connect_started_ = clock_type::now();
    sock->async_connect(
        e_.servers[server_ % e_.servers.size()],
        [self = shared_from_this(), gen = generation_, link = link_](boost::system::error_code ec) {
            if (gen != self->generation_) return;
            if (ec) {
                self->drop("connect");
                return;
            }
            boost::system::error_code ignored;
            link->sock.set_option(tcp::no_delay(true), ignored);
            if (!self->e_.tls) {
                self->read();
                return;
            }
            link->tls.emplace(link->sock, *self->e_.tls);
            SSL_set_tlsext_host_name(link->tls->native_handle(), self->e_.tls_name.c_str());
            link->tls->set_verify_callback(asio::ssl::host_name_verification(self->e_.tls_name));
            link->tls->async_handshake(asio::ssl::stream_base::client,
                                       [self, gen, link](boost::system::error_code ec) {
                                           if (gen != self->generation_) return;
                                           if (ec) {
                                               ++self->e_.stats.tls_failures;
                                               self->drop("tls");
                                               return;
                                           }
                                           self->read();
                                       });
        });
}

void sim_device::drop(const char* why) {
    // A failed link (not a churn bounce we caused): try the next server address.
    if (std::string_view(why) != "churn") ++server_;
    if (online_) ++e_.stats.disconnects;
    online_ = false;
    connecting_ = false;
    ++generation_;
    boost::system::error_code ec;
    if (link_) link_->sock.close(ec);
    hb_timer_->cancel();
    hb_sent_.clear();
    if (stop_requested) return;
    // Reconnect with backoff and jitter; pending alarms are re-sent after the handshake.
    std::uniform_int_distribution<int> jitter(backoff_ms_ / 2, backoff_ms_ * 3 / 2);
    retry_timer_->expires_after(std::chrono::milliseconds(jitter(e_.rng)));
    backoff_ms_ = std::min(backoff_ms_ * 2, 30000);
    retry_timer_->async_wait([self = shared_from_this()](boost::system::error_code ec) {
        if (!ec) self->connect();
    });
}

void sim_device::read() {
    auto space = dec_.prepare(2048);
    auto on_read = [self = shared_from_this(), gen = generation_, link = link_](
                       boost::system::error_code ec, std::size_t n) {
        if (gen != self->generation_) return;
        if (ec) {
            self->drop("read");
            return;
        }
        self->dec_.commit(n);
        for (;;) {
            auto r = self->dec_.next();
            if (r.st != protocol::frame_decoder::status::frame) break;
            dv::ServerMessage m;
            if (m.ParseFromArray(r.body.data(), static_cast<int>(r.body.size()))) self->on_frame(m);
            if (gen != self->generation_) return;
        }
        if (self->slow_pause_.count() == 0) {
            self->read();
            return;
        }
        auto t = std::make_shared<asio::steady_timer>(self->e_.io, self->slow_pause_);
        t->async_wait([self, t, gen](boost::system::error_code ec) {
            if (!ec && gen == self->generation_) self->read();
        });
    };
    if (link_->tls)
        link_->tls->async_read_some(asio::buffer(space.data(), space.size()), std::move(on_read));
    else
        link_->sock.async_read_some(asio::buffer(space.data(), space.size()), std::move(on_read));
}

void sim_device::send(const dv::DeviceMessage& m) {
    outq_.push_back(protocol::encode_frame(m));
    write();
}

void sim_device::write() {
    if (writing_ || outq_.empty() || !link_ || (e_.tls && !link_->tls)) return;
    writing_ = true;
    auto on_written = [self = shared_from_this(), gen = generation_, link = link_](
                          boost::system::error_code ec, std::size_t) {
        if (gen != self->generation_) return;
        self->writing_ = false;
        if (ec) {
            self->drop("write");
            return;
        }
        self->outq_.pop_front();
        self->write();
    };
    if (link_->tls)
        asio::async_write(*link_->tls, asio::buffer(outq_.front()), std::move(on_written));
    else
        asio::async_write(link_->sock, asio::buffer(outq_.front()), std::move(on_written));
}

void sim_device::heartbeat() {
    hb_timer_->expires_after(std::chrono::seconds(e_.heartbeat_s));
    hb_timer_->async_wait(
        [self = shared_from_this(), gen = generation_](boost::system::error_code ec) {
            if (ec || gen != self->generation_ || !self->online_) return;
            dv::DeviceMessage m;
            m.mutable_heartbeat()->set_battery_percent(90);
            m.mutable_heartbeat()->set_has_battery(true);
            self->hb_sent_.push_back(clock_type::now());
            self->send(m);
            ++self->e_.stats.heartbeats;
            self->heartbeat();
        });
}

void sim_device::send_alarm(press_record& p) {
    dv::DeviceMessage m;
    m.mutable_alarm()->set_sequence(p.seq);
    m.mutable_alarm()->set_type(p.type);
    m.mutable_alarm()->set_device_time_ms(p.press_time_ms);
    m.mutable_alarm()->set_battery_percent(80);
    m.mutable_alarm()->set_has_battery(true);
    if (p.sends++ > 0) ++e_.stats.resent;
    ++e_.stats.sent;
    send(m);
}

void sim_device::press(std::shared_ptr<press_record> p) {
    pending_[p->seq] = p;
    if (online_) send_alarm(*p);
    // No ack in time: re-send the same alarm (same sequence), as the protocol says.
    // The press owns its re-send closure, which refers back to the press and the device only
    // weakly: a closure holding itself (or its owner) would never be freed.
    auto t = std::make_shared<asio::steady_timer>(e_.io, std::chrono::milliseconds(e_.resend_ms));
    p->resend = std::make_shared<std::function<void(boost::system::error_code)>>();
    *p->resend = [device = weak_from_this(), press = std::weak_ptr<press_record>(p),
                  t](boost::system::error_code ec) {
        auto self = device.lock();
        auto p = press.lock();
        if (ec || !self || !p || p->acked || stop_requested) return;
        if (self->online_) self->send_alarm(*p);
        t->expires_after(std::chrono::milliseconds(self->e_.resend_ms));
        t->async_wait(*p->resend);
    };
    t->async_wait(*p->resend);
}

void sim_device::on_frame(const dv::ServerMessage& m) {
    switch (m.body_case()) {
        case dv::ServerMessage::kChallenge: {
            dv::DeviceMessage h;
            h.mutable_hello()->set_device_id(entry_.device_id);
            h.mutable_hello()->set_protocol_version(1);
            h.mutable_hello()->set_hmac(
                protocol::hmac_sha256(entry_.secret, m.challenge().nonce()));
            send(h);
            break;
        }
        case dv::ServerMessage::kWelcome:
            online_ = true;
            connecting_ = false;
            backoff_ms_ = 500;
            ++e_.stats.connected;
            e_.stats.connect.record(micros_since(connect_started_));
            heartbeat();
            for (auto& [seq, p] : pending_) send_alarm(*p);
            break;
        case dv::ServerMessage::kRejected:
            ++e_.stats.rejected;
            drop("rejected");
            break;
        case dv::ServerMessage::kAlarmAck: {
            auto it = pending_.find(m.alarm_ack().sequence());
            if (it == pending_.end()) break;  // a late duplicate ack
            auto p = it->second;
            pending_.erase(it);
            p->call_ids.insert(m.alarm_ack().call_id());
            if (!p->acked) {
                p->acked = true;
                ++e_.stats.acked;
                e_.stats.ack.record(micros_since(p->intended));
                e_.by_call[m.alarm_ack().call_id()] = p;
                by_call_[m.alarm_ack().call_id()] = p;
            }
            break;
        }
        case dv::ServerMessage::kAlarmNack:
            ++e_.stats.nacked;
            break;
        case dv::ServerMessage::kHeartbeatAck:
            if (!hb_sent_.empty()) {
                e_.stats.heartbeat.record(micros_since(hb_sent_.front()));
                hb_sent_.pop_front();
            }
            break;
        case dv::ServerMessage::kCallUpdate: {
            auto it = by_call_.find(m.call_update().call_id());
            if (it == by_call_.end()) break;
            auto& p = *it->second;
            if (m.call_update().state() == dv::OPERATOR_ASSIGNED && !p.assigned) {
                p.assigned = true;
                e_.stats.assigned.record(micros_since(p.intended));
            }
            if (m.call_update().state() == dv::CLOSED) by_call_.erase(it);
            break;
        }
        case dv::ServerMessage::kError:
            ++e_.stats.errors;
            drop("error");
            break;
        default:
            break;
    }
}

void print_histogram(const char* name, const latency_histogram& h) {
    if (h.count() == 0) {
        std::printf("  %-22s %10s\n", name, "-");
        return;
    }
    std::printf("  %-22s %10llu %9.2f %9.2f %9.2f %9.2f %9.2f %10.2f\n", name,
                static_cast<unsigned long long>(h.count()), h.percentile(50) / 1000.0,
                h.percentile(90) / 1000.0, h.percentile(99) / 1000.0, h.percentile(99.9) / 1000.0,
                h.max() / 1000.0, h.mean() / 1000.0);
}

std::string json_histogram(const latency_histogram& h) {
    char buf[512];
    std::snprintf(buf, sizeof buf,
                  "{\"count\":%llu,\"p50_ms\":%.3f,\"p90_ms\":%.3f,\"p99_ms\":%.3f,\"p999_ms\":%."
                  "3f,\"max_ms\":%.3f,"
                  "\"mean_ms\":%.3f}",
                  static_cast<unsigned long long>(h.count()), h.percentile(50) / 1000.0,
                  h.percentile(90) / 1000.0, h.percentile(99) / 1000.0, h.percentile(99.9) / 1000.0,
                  h.max() / 1000.0, h.mean() / 1000.0);
    return buf;
}

struct bot_config {
    bool never_accept = false;
    double accept_delay = 2, close_delay = 3;
};

// One bot operator: takes what it is offered after a random delay around accept_delay, closes it
// after one around close_delay, and sets itself available again if the server sets it away.
class bot {
  public:
    bot(engine& e, const bot_config& cfg, operator_entry op,
        const std::vector<std::pair<std::string, unsigned short>>& consoles, std::size_t first)
        : e_(e), cfg_(cfg), op_(std::move(op)), consoles_(consoles), next_(first) {}

    bool logged_in() const { return link_ && !link_->closed() && logged_in_; }
    // Connects and logs in (blocking up to a few seconds; other links keep running meanwhile).
    void log_in() {
        const auto& [host, port] = consoles_[next_ % consoles_.size()];
        link_ = std::make_unique<console_link>(e_.io);
        link_->set_offer_ids_only(true);
        if (e_.tls) link_->use_tls(e_.tls, e_.tls_name_given);
        logged_in_ = false;
        ++generation_;
        if (link_->connect(host, port, 3s)) {
            auto r = link_->login(op_.operator_id, op_.password, 10s);
            logged_in_ = r && r->has_login_ok();
        }
        if (!logged_in_) {
            link_->close();
            ++next_;  // that instance is not answering: try the next one
            backoff_ = std::min(backoff_ * 2, 4000);
            retry_at_ = clock_type::now() + std::chrono::milliseconds(backoff_);
            return;
        }
        backoff_ = 250;
        link_->set_event_handler(
            [this, gen = generation_](const cv::ConsoleEvent& ev) { on_event(gen, ev); });
    }
    // Called from the main loop: a console that dropped logs in again after a backoff.
    void tend() {
        if (logged_in()) return;
        if (link_ && logged_in_) {  // it was up and dropped
            logged_in_ = false;
            ++drops;
            ++next_;
            retry_at_ = clock_type::now() + std::chrono::milliseconds(backoff_);
            return;
        }
        if (clock_type::now() < retry_at_) return;
        log_in();
        if (logged_in_) ++relogins;
    }
    // The connection vanishes without a logout (the operator keeps held calls for the grace).
    void drop() {
        if (link_) link_->close();
    }
    std::uint64_t drops = 0, relogins = 0;

  private:
    void later(double mean_s, std::function<void(console_link&)> act) {
        auto t = std::make_shared<asio::steady_timer>(e_.io);
        std::uniform_real_distribution<double> d(mean_s * 0.5, mean_s * 1.5);
        t->expires_after(std::chrono::milliseconds(static_cast<int>(d(e_.rng) * 1000)));
        // The bot may be gone when the timer fires (bots are destroyed one by one at exit while
        // the io still runs): the weak token tells.
        t->async_wait([this, t, gen = generation_, act,
                       alive = std::weak_ptr<char>(alive_)](boost::system::error_code ec) {
            if (ec || alive.expired() || gen != generation_ || !logged_in()) return;
            act(*link_);
        });
    }
    std::shared_ptr<char> alive_ = std::make_shared<char>();
    void on_event(int gen, const cv::ConsoleEvent& ev) {
        if (gen != generation_) return;
        if (ev.has_offer()) {
            ++e_.stats.offers_seen;
            auto it = e_.by_call.find(ev.offer().call().id());
            if (it != e_.by_call.end() && !it->second->offered) {
                it->second->offered = true;
                e_.stats.offered.record(micros_since(it->second->intended));
            }
            if (cfg_.never_accept) return;
            std::string id = ev.offer().call().id();
            later(cfg_.accept_delay, [id](console_link& l) {
                cv::ConsoleRequest req;
                req.mutable_accept()->set_call_id(id);
                l.send(req);
            });
        } else if (ev.has_accepted() && !cfg_.never_accept) {
            // Also sent at login for a call this operator still holds (a reconnect).
            std::string id = ev.accepted().call().id();
            later(cfg_.close_delay, [id](console_link& l) {
                cv::ConsoleRequest req;
                req.mutable_close()->set_call_id(id);
                req.mutable_close()->set_outcome("resolved_by_phone");
                l.send(req);
            });
        } else if (ev.has_status_changed() &&
                   ev.status_changed().operator_id() == op_.operator_id &&
                   ev.status_changed().status() == "away" && !cfg_.never_accept) {
            cv::ConsoleRequest req;
            req.mutable_set_status()->set_status("available");
            link_->send(req);
        }
    }

    engine& e_;
    const bot_config& cfg_;
    operator_entry op_;
    const std::vector<std::pair<std::string, unsigned short>>& consoles_;
    std::size_t next_;
    std::unique_ptr<console_link> link_;
    bool logged_in_ = false;
    int generation_ = 0;
    int backoff_ = 250;
    clock_type::time_point retry_at_{};
};

// "host:port,host:port" (a bare port means 127.0.0.1).
std::vector<std::pair<std::string, unsigned short>> parse_addresses(const std::string& list) {
    std::vector<std::pair<std::string, unsigned short>> out;
    std::stringstream ss(list);
    std::string item;
    while (std::getline(ss, item, ',')) {
        if (item.empty()) continue;
        auto colon = item.rfind(':');
        std::string host = colon == std::string::npos ? "127.0.0.1" : item.substr(0, colon);
        int port = std::stoi(colon == std::string::npos ? item : item.substr(colon + 1));
        if (port <= 0 || port > 65535) throw std::invalid_argument("bad port in " + item);
        out.emplace_back(host, static_cast<unsigned short>(port));
    }
    return out;
}

redisContext* connect_redis(const std::string& uri) {
    if (uri.empty()) return nullptr;
    timeval tv{5, 0};
    if (uri[0] == '/') return redisConnectUnixWithTimeout(uri.c_str(), tv);
    std::string rest = uri.rfind("redis://", 0) == 0 ? uri.substr(8) : uri;
    auto colon = rest.rfind(':');
    std::string host = colon == std::string::npos ? rest : rest.substr(0, colon);
    int port = colon == std::string::npos ? 6379 : std::stoi(rest.substr(colon + 1));
    return redisConnectWithTimeout(host.c_str(), port, tv);
}

}  // namespace

int cmd_load(int argc, char** argv) {
    engine e;
    std::string devices_file, operators_file, redis_uri, types_arg;
    int devices_n = 1000, shard = 0, shards = 1, source_ips = 8, duration_s = 30, surge = 0,
        bots = 0;
    double connect_rate = 2000, alarm_rate = 10, surge_window_s = 1, accept_delay = 2,
           close_delay = 3;
    bool json = false, never_accept = false;
    double churn_per_s = 0, slow_fraction = 0;
    int slow_pause_ms = 2000;
    int settle_s = 30;
    double settle_s_used = 0;
    std::string servers_arg, consoles_arg;
    double drop_consoles_s = 0;
    unsigned short http_port = 8080;
    po::options_description desc(
        "device-sim load: many devices (and bot operators) at once; open-loop latency measurement");
    desc.add_options()("help,h", "help")("host", po::value(&e.host)->default_value("127.0.0.1"),
                                         "dispatcher host")(
        "device-port", po::value(&e.port)->default_value(7700), "dispatcher device port")(
        "http-port", po::value(&http_port)->default_value(8080), "dispatcher HTTP port (bots)")(
        "servers", po::value(&servers_arg),
        "several dispatcher instances' device addresses, host:port,host:port (instead of "
        "--host/--device-port); a device whose link fails moves to the next")(
        "consoles", po::value(&consoles_arg),
        "several instances' HTTP addresses for the bots, host:port,... (instead of --http-port)")(
        "drop-consoles", po::value(&drop_consoles_s)->default_value(0),
        "every this many seconds, every bot's console connection vanishes (no logout); they "
        "log in again")(
        "devices-file", po::value(&devices_file)->default_value("sim-data/devices.csv"),
        "from `device-sim provision`")("devices", po::value(&devices_n)->default_value(1000),
                                       "devices to run in this process (<= 19000)")(
        "shard", po::value(&shard)->default_value(0),
        "this process's shard (0-based): devices i with i % shards == shard")(
        "shards", po::value(&shards)->default_value(1), "number of processes sharing the devices")(
        "source-ips", po::value(&source_ips)->default_value(8),
        "loopback source addresses 127.0.0.2.. to spread connections over (0: none)")(
        "connect-rate", po::value(&connect_rate)->default_value(2000),
        "connections opened per second (storm, with jitter)")(
        "heartbeat", po::value(&e.heartbeat_s)->default_value(60), "heartbeat interval in seconds")(
        "alarm-rate", po::value(&alarm_rate)->default_value(10),
        "alarms per second, Poisson, across the devices")(
        "surge", po::value(&surge)->default_value(0),
        "instead of a steady rate: this many presses within --surge-window")(
        "surge-window", po::value(&surge_window_s)->default_value(1),
        "seconds over which the surge presses fall")(
        "types", po::value(&types_arg)->default_value("sos"),
        "alarm types mixed evenly: e.g. sos,fall,low_battery,tamper")(
        "duration", po::value(&duration_s)->default_value(30),
        "seconds of alarms after all devices are connected")(
        "resend-ms", po::value(&e.resend_ms)->default_value(5000),
        "re-send an unacked alarm after this long")(
        "churn", po::value(&churn_per_s)->default_value(0),
        "connections dropped per second (they reconnect with backoff)")(
        "slow", po::value(&slow_fraction)->default_value(0),
        "fraction of devices that read slowly (0..1)")(
        "slow-pause-ms", po::value(&slow_pause_ms)->default_value(2000),
        "how long a slow device waits between reads")(
        "bots", po::value(&bots)->default_value(0),
        "bot operators to log in (first N of --operators-file, one per station)")(
        "operators-file", po::value(&operators_file)->default_value("sim-data/operators.csv"),
        "operator accounts")("accept-delay", po::value(&accept_delay)->default_value(2),
                             "bots take an offer after this many seconds (mean)")(
        "close-delay", po::value(&close_delay)->default_value(3),
        "bots close after this many seconds (mean)")(
        "never-accept", po::bool_switch(&never_accept),
        "bots only watch offers (press->offered without load from calls)")(
        "redis", po::value(&redis_uri),
        "Redis to check lost/duplicated against at the end (socket path or redis://host:port)")(
        "settle", po::value(&settle_s)->default_value(30),
        "seconds to let routing catch up before checking lost")(
        "json", po::bool_switch(&json), "print the results as one JSON object");
    device_tls tls;
    bool plain = false;
    add_tls_options(desc, tls, plain);
    po::variables_map vm;
    if (auto stop = parse_options(argc, argv, desc, vm)) return *stop;
    tls.enabled = !plain;
    if (!plain) {
        std::string tls_error;
        e.tls = make_client_context(tls, tls_error);
        if (!e.tls) {
            std::cerr << "device-sim: " << tls_error << "\n";
            return 2;
        }
        // One name for every device: a certificate for "localhost" covers loopback runs.
        e.tls_name = tls.server_name.empty() ? (e.host == "127.0.0.1" ? "localhost" : e.host)
                                             : tls.server_name;
        e.tls_name_given = tls.server_name;
    }

    std::vector<dv::AlarmType> types;
    {
        std::stringstream ss(types_arg);
        std::string t;
        while (std::getline(ss, t, ',')) {
            auto type = parse_alarm_type(t);
            if (!type) {
                std::cerr << "device-sim: unknown alarm type " << t << "\n";
                return 2;
            }
            types.push_back(*type);
        }
    }
    auto all = read_devices(devices_file);
    std::vector<device_entry> mine;
    for (std::size_t i = 0; i < all.size() && static_cast<int>(mine.size()) < devices_n; ++i) {
        if (static_cast<int>(i % static_cast<std::size_t>(shards)) == shard) mine.push_back(all[i]);
    }
    if (mine.empty()) {
        std::cerr << "device-sim: no devices (run provision with enough --residents)\n";
        return 2;
    }
    std::signal(SIGINT, [](int) { stop_requested = 1; });
    std::signal(SIGTERM, [](int) { stop_requested = 1; });
    std::vector<std::pair<std::string, unsigned short>> device_addrs, consoles;
    try {
        device_addrs = servers_arg.empty() ? parse_addresses(e.host + ":" + std::to_string(e.port))
                                           : parse_addresses(servers_arg);
        consoles = consoles_arg.empty() ? parse_addresses(e.host + ":" + std::to_string(http_port))
                                        : parse_addresses(consoles_arg);
    } catch (const std::exception& ex) {
        std::cerr << "device-sim: --servers/--consoles: " << ex.what() << "\n";
        return 2;
    }
    if (device_addrs.empty() || consoles.empty()) {
        std::cerr << "device-sim: no server address\n";
        return 2;
    }
    tcp::resolver resolver(e.io);
    for (const auto& [host, port] : device_addrs)
        e.servers.push_back(*resolver.resolve(host, std::to_string(port)).begin());

    // Bot operators: same process, events timestamped as they arrive. A bot whose console drops
    // (its dispatcher died, or --drop-consoles) logs in again, at the next console address.
    std::vector<std::unique_ptr<bot>> bot_list;
    bot_config bcfg{never_accept, accept_delay, close_delay};
    if (bots > 0) {
        auto ops = read_operators(operators_file);
        std::set<std::string> stations_taken;
        for (const auto& o : ops) {
            if (static_cast<int>(bot_list.size()) >= bots) break;
            if (!stations_taken.insert(o.station_id).second) continue;
            auto b = std::make_unique<bot>(e, bcfg, o, consoles, bot_list.size() % consoles.size());
            b->log_in();
            bot_list.push_back(std::move(b));
        }
        std::size_t in = 0;
        for (const auto& b : bot_list) in += b->logged_in();
        std::fprintf(stderr, "%zu of %zu bot operator(s) logged in\n", in, bot_list.size());
    }
    auto last_console_drop = clock_type::now();

    // Calls created from here on are this run's: at the end they are checked for duplicates.
    long long first_call = -1;
    if (redisContext* rc0 = connect_redis(redis_uri); rc0) {
        if (!rc0->err) {
            auto* r = static_cast<redisReply*>(redisCommand(rc0, "GET anx:call:next"));
            if (r) {
                first_call = r->type == REDIS_REPLY_STRING ? std::stoll(r->str) : 0;
                freeReplyObject(r);
            }
        }
        redisFree(rc0);
    }

    // Connection storm: devices start at connect_rate per second, with jitter.
    const auto t_start = clock_type::now();
    std::uniform_real_distribution<double> jitter(0.0, 1.0);
    for (std::size_t i = 0; i < mine.size(); ++i) {
        std::string src =
            source_ips > 0
                ? "127.0.0." + std::to_string(2 + i % static_cast<std::size_t>(source_ips))
                : "";
        auto d = std::make_shared<sim_device>(e, mine[i], src, i % e.servers.size());
        if (slow_fraction > 0 && jitter(e.rng) < slow_fraction)
            d->set_slow(std::chrono::milliseconds(slow_pause_ms));
        auto at =
            std::chrono::duration<double>((static_cast<double>(i) + jitter(e.rng)) / connect_rate);
        d->start(std::chrono::duration_cast<clock_type::duration>(at));
        e.devices.push_back(d);
    }
    // Wait until (almost) every device is online.
    auto connect_deadline =
        clock_type::now() + std::chrono::seconds(30) +
        std::chrono::seconds(static_cast<int>(static_cast<double>(mine.size()) / connect_rate));
    std::size_t online = 0;
    while (!stop_requested && clock_type::now() < connect_deadline) {
        e.io.run_for(100ms);
        online = 0;
        for (const auto& d : e.devices) online += d->online();
        if (online == e.devices.size()) break;
    }
    const double connect_s = std::chrono::duration<double>(clock_type::now() - t_start).count();
    std::fprintf(stderr, "%zu/%zu devices online after %.1f s\n", online, e.devices.size(),
                 connect_s);

    // Alarms: open-loop. Each press has an intended time; it is sent at that time whatever the
    // server is doing, and latencies are measured from it.
    std::vector<clock_type::time_point> schedule;
    const auto t_alarms = clock_type::now() + 200ms;
    if (surge > 0) {
        for (int i = 0; i < surge; ++i) {
            schedule.push_back(t_alarms +
                               std::chrono::duration_cast<clock_type::duration>(
                                   std::chrono::duration<double>(jitter(e.rng) * surge_window_s)));
        }
        std::sort(schedule.begin(), schedule.end());
    } else if (alarm_rate > 0) {
        std::exponential_distribution<double> gap(alarm_rate);
        double t = 0;
        while ((t += gap(e.rng)) < duration_s) {
            schedule.push_back(t_alarms + std::chrono::duration_cast<clock_type::duration>(
                                              std::chrono::duration<double>(t)));
        }
    }
    std::size_t next = 0;
    std::uniform_int_distribution<std::size_t> pick(0, e.devices.size() - 1);
    auto last_progress = clock_type::now();
    auto last_churn = clock_type::now();
    double churn_owed = 0;
    // With no alarms (a connections/heartbeat run), run for --duration anyway.
    const auto end_sends =
        schedule.empty() ? t_alarms + std::chrono::seconds(duration_s) : schedule.back();
    const auto drain_until = [&] {
        return end_sends + std::chrono::seconds(10) +
               std::chrono::seconds(
                   bots > 0 && !never_accept ? static_cast<int>(accept_delay * 2 + 2) : 0);
    };
    while (!stop_requested) {
        auto now = clock_type::now();
        while (next < schedule.size() && schedule[next] <= now) {
            auto& d = e.devices[pick(e.rng)];
            auto p = std::make_shared<press_record>();
            p->device = d->id();
            p->seq = d->next_seq();
            p->type = types[next % types.size()];
            p->intended = schedule[next];
            p->press_time_ms = wall_ms();
            e.presses.push_back(p);
            ++e.stats.presses;
            d->press(p);
            ++next;
        }
        for (auto& b : bot_list) b->tend();
        if (drop_consoles_s > 0 && now < end_sends &&
            now - last_console_drop > std::chrono::duration<double>(drop_consoles_s)) {
            last_console_drop = now;
            std::fprintf(stderr, "  dropping %zu bot console connection(s)\n", bot_list.size());
            for (auto& b : bot_list) b->drop();
        }
        if (churn_per_s > 0 && now < end_sends) {
            churn_owed += churn_per_s * std::chrono::duration<double>(now - last_churn).count();
            last_churn = now;
            for (; churn_owed >= 1; churn_owed -= 1) e.devices[pick(e.rng)]->bounce();
        }
        if (now - last_progress > 1s && !json) {
            last_progress = now;
            std::fprintf(stderr,
                         "  t=%5.1fs presses %llu acked %llu nacked %llu resent %llu offered %llu "
                         "assigned %llu hb %llu online %zu\n",
                         std::chrono::duration<double>(now - t_alarms).count(),
                         static_cast<unsigned long long>(e.stats.presses),
                         static_cast<unsigned long long>(e.stats.acked),
                         static_cast<unsigned long long>(e.stats.nacked),
                         static_cast<unsigned long long>(e.stats.resent),
                         static_cast<unsigned long long>(e.stats.offered.count()),
                         static_cast<unsigned long long>(e.stats.assigned.count()),
                         static_cast<unsigned long long>(e.stats.heartbeat.count()), online);
        }
        if (next >= schedule.size() && now >= end_sends) {
            bool all_acked = e.stats.acked == e.stats.presses;
            bool all_offered = bots == 0 || e.stats.offered.count() >= e.stats.acked;
            if ((all_acked && all_offered && (never_accept || bots == 0)) || now > drain_until())
                break;
        }
        auto wake = next < schedule.size() ? std::min(schedule[next], now + 50ms) : now + 50ms;
        e.io.run_until(wake);
        e.io.restart();
    }
    const double send_window_s =
        std::max(1e-3, std::chrono::duration<double>(end_sends - t_alarms).count());

    // Lost / duplicated, against Redis.
    long long lost = -1, duplicated = 0, checked = 0, unacked = 0, unrouted = 0;
    latency_histogram routed_emergency, routed_technical;
    for (const auto& p : e.presses) {
        if (!p->acked) ++unacked;
        if (p->call_ids.size() > 1) ++duplicated;
    }
    // Routing runs behind the acks: give it up to --settle seconds before calling anything lost.
    const auto settle_until = clock_type::now() + std::chrono::seconds(settle_s);
    redisContext* rc = connect_redis(redis_uri);
    while (rc && !rc->err) {
        lost = 0;
        unrouted = 0;
        routed_emergency = latency_histogram();
        routed_technical = latency_histogram();
        const auto steady_now = clock_type::now();
        const auto wall_now_ms = wall_ms();
        long long dup_redis = 0;
        checked = 0;
        for (const auto& p : e.presses) {
            if (!p->acked) continue;
            const auto& call = *p->call_ids.begin();
            redisAppendCommand(rc, "HMGET anx:call:%s state tiers cc routed_ms", call.c_str());
            redisAppendCommand(rc, "GET anx:dedupe:%s:%u", p->device.c_str(), p->seq);
        }
        for (const auto& p : e.presses) {
            if (!p->acked) continue;
            redisReply* r1 = nullptr;
            redisReply* r2 = nullptr;
            redisGetReply(rc, reinterpret_cast<void**>(&r1));
            redisGetReply(rc, reinterpret_cast<void**>(&r2));
            ++checked;
            // Lost: no call in Redis for an acked press. Unrouted: stored, but not yet offered to a
            // station or the command centre when the settle time ran out (a backlog, not a loss).
            bool stored = r1 && r1->type == REDIS_REPLY_ARRAY && r1->elements == 4 &&
                          r1->element[0]->type == REDIS_REPLY_STRING;
            if (!stored)
                ++lost;
            else if (std::string(r1->element[0]->str) == "received")
                ++unrouted;
            else if (r1->element[3]->type == REDIS_REPLY_STRING) {
                // press -> first offered (station or command centre), by priority class: in a
                // surge, emergencies should get there before technical alarms.
                auto routed_wall = std::stoll(r1->element[3]->str);
                auto intended_wall =
                    wall_now_ms -
                    std::chrono::duration_cast<std::chrono::milliseconds>(steady_now - p->intended)
                        .count();
                bool technical = p->type == dv::LOW_BATTERY || p->type == dv::TAMPER ||
                                 p->type == dv::POWER_LOSS;
                bool emergency =
                    p->type == dv::SOS || p->type == dv::FALL || p->type == dv::MEDICAL;
                if (emergency) routed_emergency.record((routed_wall - intended_wall) * 1000);
                if (technical) routed_technical.record((routed_wall - intended_wall) * 1000);
            }
            if (r2 && r2->type == REDIS_REPLY_STRING &&
                std::string(r2->str) != *p->call_ids.begin())
                ++dup_redis;
            if (r1) freeReplyObject(r1);
            if (r2) freeReplyObject(r2);
        }
        if ((lost == 0 && unrouted == 0 && dup_redis == 0) || clock_type::now() > settle_until) {
            duplicated += dup_redis;
            settle_s_used = std::chrono::duration<double>(
                                clock_type::now() - (settle_until - std::chrono::seconds(settle_s)))
                                .count();
            break;
        }
        e.io.run_for(1s);  // keep the devices alive meanwhile
        e.io.restart();
    }
    // Every call created during the run, straight from Redis: two calls for one (device,
    // sequence) is a duplicate whoever acked what; a call still "received" was never offered.
    long long created = 0, never_offered = 0, still_open = 0, dup_calls = 0;
    if (rc && !rc->err && first_call >= 0) {
        auto* r = static_cast<redisReply*>(redisCommand(rc, "GET anx:call:next"));
        long long last_call = r && r->type == REDIS_REPLY_STRING ? std::stoll(r->str) : first_call;
        if (r) freeReplyObject(r);
        std::map<std::string, int> per_press;
        for (long long n = first_call + 1; n <= last_call; ++n) {
            char id[32];
            std::snprintf(id, sizeof id, "C%07lld", n);
            redisAppendCommand(rc, "HMGET anx:call:%s device seq state", id);
        }
        for (long long n = first_call + 1; n <= last_call; ++n) {
            redisReply* h = nullptr;
            redisGetReply(rc, reinterpret_cast<void**>(&h));
            if (h && h->type == REDIS_REPLY_ARRAY && h->elements == 3 &&
                h->element[0]->type == REDIS_REPLY_STRING) {
                ++created;
                std::string state =
                    h->element[2]->type == REDIS_REPLY_STRING ? h->element[2]->str : "";
                if (state == "received") ++never_offered;
                if (state != "closed") ++still_open;
                if (++per_press[std::string(h->element[0]->str) + "/" +
                                (h->element[1]->type == REDIS_REPLY_STRING ? h->element[1]->str
                                                                           : "")] == 2)
                    ++dup_calls;
            }
            if (h) freeReplyObject(h);
        }
        duplicated = std::max(duplicated, dup_calls);
    }
    if (rc) redisFree(rc);

    std::uint64_t console_drops = 0, console_relogins = 0;
    for (const auto& b : bot_list) {
        console_drops += b->drops;
        console_relogins += b->relogins;
    }
    const auto& s = e.stats;
    if (json) {
        std::printf(
            "{\"devices\":%zu,\"online\":%zu,\"connect_s\":%.2f,\"presses\":%llu,\"acked\":%llu,"
            "\"nacked\":%llu,"
            "\"resent\":%llu,\"errors\":%llu,\"disconnects\":%llu,\"unacked\":%lld,\"lost\":%lld,"
            "\"duplicated\":%lld,\"unrouted\":%lld,\"never_offered\":%lld,\"calls_created\":%lld,"
            "\"calls_open\":%lld,\"console_drops\":%llu,\"console_relogins\":%llu,\"offers_seen\":%"
            "llu,"
            "\"checked\":%lld,"
            "\"settled_s\":%.1f,\"send_"
            "window_s\":%.3f,\"ack_rate\":%.1f,"
            "\"ack\":%s,\"offered\":%s,\"assigned\":%s,\"heartbeat\":%s,\"connect\":%s,\"routed_"
            "emergency\":%s,\"routed_technical\":%s}\n",
            e.devices.size(), online, connect_s, static_cast<unsigned long long>(s.presses),
            static_cast<unsigned long long>(s.acked), static_cast<unsigned long long>(s.nacked),
            static_cast<unsigned long long>(s.resent), static_cast<unsigned long long>(s.errors),
            static_cast<unsigned long long>(s.disconnects), unacked, lost, duplicated, unrouted,
            never_offered, created, still_open, static_cast<unsigned long long>(console_drops),
            static_cast<unsigned long long>(console_relogins),
            static_cast<unsigned long long>(s.offers_seen), checked, settle_s_used, send_window_s,
            static_cast<double>(s.acked) / send_window_s, json_histogram(s.ack).c_str(),
            json_histogram(s.offered).c_str(), json_histogram(s.assigned).c_str(),
            json_histogram(s.heartbeat).c_str(), json_histogram(s.connect).c_str(),
            json_histogram(routed_emergency).c_str(), json_histogram(routed_technical).c_str());
    } else {
        std::printf(
            "devices %zu (online %zu, connected in %.1f s), presses %llu over %.1f s, acked %llu, "
            "nacked %llu, "
            "resent %llu, errors %llu, disconnects %llu\n",
            e.devices.size(), online, connect_s, static_cast<unsigned long long>(s.presses),
            send_window_s, static_cast<unsigned long long>(s.acked),
            static_cast<unsigned long long>(s.nacked), static_cast<unsigned long long>(s.resent),
            static_cast<unsigned long long>(s.errors),
            static_cast<unsigned long long>(s.disconnects));
        std::printf("  %-22s %10s %9s %9s %9s %9s %9s %10s\n", "latency (ms)", "count", "p50",
                    "p90", "p99", "p99.9", "max", "mean");
        print_histogram("press -> ack", s.ack);
        print_histogram("press -> offered", s.offered);
        print_histogram("press -> assigned", s.assigned);
        print_histogram("heartbeat -> ack", s.heartbeat);
        print_histogram("connect -> welcome", s.connect);
        print_histogram("press -> routed (emerg.)", routed_emergency);
        print_histogram("press -> routed (tech.)", routed_technical);
        std::printf(
            "unacked %lld, lost %s, duplicated %lld, not yet routed %lld (checked %lld acked "
            "presses against "
            "Redis %.1f s after the last press)\n",
            unacked, lost < 0 ? "not checked (no --redis)" : std::to_string(lost).c_str(),
            duplicated, unrouted, checked, settle_s_used);
        if (first_call >= 0)
            std::printf(
                "calls created in Redis during the run %lld: never offered %lld, still open "
                "%lld; bot consoles dropped %llu, logged in again %llu\n",
                created, never_offered, still_open, static_cast<unsigned long long>(console_drops),
                static_cast<unsigned long long>(console_relogins));
    }
    // The results are out even if the process ends abnormally after this (a sanitizer's exit).
    std::fflush(stdout);
    stop_requested = 1;
    return (lost > 0 || duplicated > 0 || never_offered > 0) ? 1 : 0;
}

}  // namespace anxin::sim
