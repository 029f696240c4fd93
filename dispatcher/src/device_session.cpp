#include "anxin/dispatcher/device_session.hpp"
#include "anxin/dispatcher/device_stream.hpp"

#include "anxin/dispatcher/wall_clock.hpp"

#include "console.pb.h"
#include "device.pb.h"

#include "anxin/dispatcher/call_policy.hpp"
#include "anxin/dispatcher/call_router.hpp"
#include "anxin/dispatcher/call_state.hpp"
#include "anxin/dispatcher/call_store.hpp"
#include "anxin/dispatcher/connection_gate.hpp"
#include "anxin/dispatcher/directory.hpp"
#include "anxin/dispatcher/log_safe.hpp"
#include "anxin/dispatcher/metrics.hpp"
#include "anxin/dispatcher/press_identity.hpp"
#include "anxin/protocol/device_auth.hpp"

#include <spdlog/spdlog.h>
#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <span>
#include <utility>

namespace asio = boost::asio;
namespace dv = anxin::device::v1;
using asio::ip::tcp;
using namespace std::chrono_literals;

namespace anxin::dispatcher {

namespace {

constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);
constexpr int max_alarms_in_flight = 32;

}  // namespace

device_session::device_session(std::unique_ptr<device_stream> stream, server_context& ctx)
    : stream_(std::move(stream)),
      ctx_(ctx),
      wake_writer_(stream_->get_executor()),
      deadline_(stream_->get_executor()),
      accepted_at_(std::chrono::steady_clock::now()),
      last_read_(accepted_at_) {
    boost::system::error_code ec;
    auto ep = stream_->socket().remote_endpoint(ec);
    peer_ = ec ? "?" : ep.address().to_string() + ":" + std::to_string(ep.port());
    ++ctx_.stats.device_connections;
}

device_session::~device_session() {
    leave_pending();
    --ctx_.stats.device_connections;
    if (authenticated_) --ctx_.stats.devices_authenticated;
}

void device_session::leave_pending() {
    if (pending_id_ == 0 || !ctx_.device_gate) return;
    ctx_.device_gate->release(std::exchange(pending_id_, 0), authenticated_);
    ctx_.stats.pending_devices = static_cast<std::int64_t>(ctx_.device_gate->pending());
}

void device_session::start() {
    if (ctx_.device_gate) {
        // Until it has proved who it is, this connection may be shed to make room for a newer
        // one (the oldest pending goes first: a trickling stranger, not a button mid-handshake).
        const auto shed_before = ctx_.device_gate->shed();
        boost::system::error_code ec;
        auto ep = stream_->socket().remote_endpoint(ec);
        pending_id_ = ctx_.device_gate->admit(
            ec ? std::string("?") : ep.address().to_string(), [weak = weak_from_this()] {
                if (auto s = weak.lock()) {
                    spdlog::debug("device connection {}: shed while still in its handshake",
                                  s->peer_);
                    s->pending_id_ = 0;
                    s->close();
                }
            });
        ctx_.stats.device_handshakes_shed += ctx_.device_gate->shed() - shed_before;
        ctx_.stats.pending_devices = static_cast<std::int64_t>(ctx_.device_gate->pending());
        if (pending_id_ == 0) {
            // Refused: every pending handshake is young, real work in progress. The device
            // retries with backoff (protocol/README.md section 7).
            ++ctx_.stats.device_handshakes_refused;
            closed_ = true;
            stream_->close();
            return;
        }
    }
    wake_writer_.expires_at(std::chrono::steady_clock::time_point::max());
    boost::system::error_code ec;
    stream_->socket().set_option(tcp::no_delay(true), ec);
    // Linux's default keepalive is 7200 s, far too long to notice a dead button on its own;
    // the idle deadline below is what actually catches silence, keepalive only reaps dead peers.
    stream_->socket().set_option(asio::socket_base::keep_alive(true), ec);

    auto self = shared_from_this();
    // The handshake deadline (from accept) covers the TLS handshake as well.
    asio::co_spawn(
        stream_->get_executor(), [self] { return self->watchdog(); }, asio::detached);
    if (stream_->is_tls()) {
        asio::co_spawn(
            stream_->get_executor(), [self] { return self->tls_then_serve(); }, asio::detached);
    } else {
        serve();
    }
}

asio::awaitable<void> device_session::tls_then_serve() {
    auto self = shared_from_this();
    auto ec = co_await stream_->handshake();
    if (closed_) co_return;
    if (ec) {
        ++ctx_.stats.device_tls_failures;
        spdlog::debug("device connection {}: TLS handshake failed: {}", peer_, ec.message());
        close();
        co_return;
    }
    serve();
}

void device_session::serve() {
    nonce_ = protocol::random_bytes(protocol::nonce_bytes);
    dv::ServerMessage m;
    m.mutable_challenge()->set_nonce(nonce_);
    m.mutable_challenge()->set_protocol_version(1);
    send(m);
    auto self = shared_from_this();
    asio::co_spawn(
        stream_->get_executor(), [self] { return self->reader(); }, asio::detached);
    asio::co_spawn(
        stream_->get_executor(), [self] { return self->writer(); }, asio::detached);
}

void device_session::close() {
    if (closed_) return;
    closed_ = true;
    stream_->close();
    wake_writer_.cancel();
    deadline_.cancel();
    leave_pending();
    if (authenticated_) ctx_.registry.remove_device(device_id_, this);
}

void device_session::deliver(std::string frame) {
    if (closed_ || close_after_flush_) return;
    if (queue_.size() >= ctx_.settings.max_queued_frames) {
        spdlog::warn("device {} ({}): not reading; {} frames queued, closing", log_safe(device_id_),
                     peer_, queue_.size());
        close();
        return;
    }
    queue_.push_back(std::move(frame));
    wake_writer_.cancel_one();
}

void device_session::send(const dv::ServerMessage& msg) {
    deliver(protocol::encode_frame(msg));
}

void device_session::send_and_close(const dv::ServerMessage& msg) {
    send(msg);
    close_after_flush_ = true;
}

void device_session::protocol_error(int code, const std::string& detail) {
    ++ctx_.stats.device_protocol_errors;
    spdlog::info("device {} ({}): protocol error: {}",
                 device_id_.empty() ? "-" : log_safe(device_id_), peer_, log_safe(detail, 200));
    dv::ServerMessage m;
    m.mutable_error()->set_code(static_cast<dv::ErrorCode>(code));
    m.mutable_error()->set_detail(detail);
    send_and_close(m);
}

asio::awaitable<void> device_session::reader() {
    auto self = shared_from_this();
    for (;;) {
        auto space = decoder_.prepare(512);
        auto [ec, n] = co_await stream_->read_some(asio::buffer(space.data(), space.size()));
        if (ec) {
            if (ec != asio::error::eof && ec != asio::error::operation_aborted &&
                ec != asio::error::connection_reset) {
                spdlog::debug("device {} ({}): read: {}", log_safe(device_id_), peer_,
                              ec.message());
            }
            close();
            co_return;
        }
        decoder_.commit(n);
        last_read_ = std::chrono::steady_clock::now();
        for (;;) {
            if (closed_ || close_after_flush_) co_return;
            auto r = decoder_.next();
            if (r.st == protocol::frame_decoder::status::need_more) break;
            if (r.st == protocol::frame_decoder::status::error) {
                protocol_error(r.error == protocol::frame_error::too_large ? dv::FRAME_TOO_LARGE
                                                                           : dv::BAD_FRAME,
                               protocol::to_string(r.error));
                co_return;
            }
            dv::DeviceMessage msg;
            if (!msg.ParseFromArray(r.body.data(), static_cast<int>(r.body.size()))) {
                protocol_error(dv::BAD_MESSAGE, "frame body is not a DeviceMessage");
                co_return;
            }
            if (!authenticated_) {
                if (msg.body_case() != dv::DeviceMessage::kHello || hello_seen_) {
                    protocol_error(dv::UNEXPECTED_MESSAGE, "expected Hello");
                    co_return;
                }
                hello_seen_ = true;
                // The handshake completes before anything else is read.
                co_await on_hello(std::move(*msg.mutable_hello()));
                if (!authenticated_) co_return;
                continue;
            }
            switch (msg.body_case()) {
                case dv::DeviceMessage::kAlarm:
                    if (alarms_in_flight_ >= max_alarms_in_flight) {
                        // A button has one or two alarms pending at a time; hundreds mean a broken
                        // or hostile device, which must not flood the store.
                        ++ctx_.stats.alarms_received;
                        ++ctx_.stats.alarms_nacked;
                        dv::ServerMessage m;
                        auto* n = m.mutable_alarm_nack();
                        n->set_sequence(msg.alarm().sequence());
                        n->set_reason(dv::STORE_UNAVAILABLE);
                        n->set_retry_after_ms(
                            static_cast<std::uint32_t>(ctx_.settings.nack_retry_after.count()));
                        n->set_detail("too many alarms in flight on this connection");
                        send(m);
                        break;
                    }
                    // Alarms are stored concurrently: a burst of retries does not queue behind
                    // one slow write.
                    ++alarms_in_flight_;
                    asio::co_spawn(
                        stream_->get_executor(),
                        [self, a = std::move(*msg.mutable_alarm())]() mutable {
                            return self->on_alarm(std::move(a));
                        },
                        asio::detached);
                    break;
                case dv::DeviceMessage::kHeartbeat:
                    on_heartbeat(msg.heartbeat());
                    break;
                case dv::DeviceMessage::kCancel:
                    asio::co_spawn(
                        stream_->get_executor(),
                        [self, c = std::move(*msg.mutable_cancel())]() mutable {
                            return self->on_cancel(std::move(c));
                        },
                        asio::detached);
                    break;
                default:
                    protocol_error(dv::UNEXPECTED_MESSAGE, "unexpected message after handshake");
                    co_return;
            }
        }
    }
}

asio::awaitable<void> device_session::writer() {
    auto self = shared_from_this();
    while (!closed_) {
        if (queue_.empty()) {
            if (close_after_flush_) {
                close();
                co_return;
            }
            boost::system::error_code ec;
            co_await wake_writer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
            continue;
        }
        writing_ = true;
        write_started_ = std::chrono::steady_clock::now();
        // Everything queued goes in one write (an ack and the call's first update are usually
        // queued together): fewer system calls under load. Frames pushed meanwhile keep their
        // place (a deque's push_back leaves existing elements where they are).
        std::array<asio::const_buffer, 16> bufs;
        const std::size_t count = std::min(queue_.size(), bufs.size());
        for (std::size_t i = 0; i < count; ++i) bufs[i] = asio::buffer(queue_[i]);
        auto [ec, n] =
            co_await stream_->write(std::span<const asio::const_buffer>(bufs.data(), count));
        writing_ = false;
        if (ec) {
            close();
            co_return;
        }
        queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(count));
    }
}

asio::awaitable<void> device_session::watchdog() {
    auto self = shared_from_this();
    const auto& s = ctx_.settings;
    // The interval is per device (known after the handshake); re-read it on each loop.
    auto idle_limit = s.heartbeat_interval * s.supervision.missed_heartbeats + 10s;
    while (!closed_) {
        idle_limit = heartbeat_interval_ * s.supervision.missed_heartbeats + 10s;
        auto now = std::chrono::steady_clock::now();
        // Before Welcome the deadline is absolute from accept: a peer that trickles a byte at a
        // time must not hold its slot (and a file descriptor) for ever.
        auto read_deadline =
            authenticated_
                ? last_read_ +
                      std::chrono::duration_cast<std::chrono::steady_clock::duration>(idle_limit)
                : accepted_at_ + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                     s.handshake_timeout);
        if (now >= read_deadline) {
            if (!authenticated_) {
                ++ctx_.stats.device_auth_failures;
                dv::ServerMessage m;
                m.mutable_rejected()->set_reason(dv::HANDSHAKE_TIMEOUT);
                m.mutable_rejected()->set_detail("no Hello within the handshake timeout");
                send_and_close(m);
            } else {
                spdlog::info("device {} ({}): silent for {} s, closing", log_safe(device_id_),
                             peer_,
                             std::chrono::duration_cast<std::chrono::seconds>(idle_limit).count());
                dv::ServerMessage m;
                m.mutable_error()->set_code(dv::IDLE_TIMEOUT);
                m.mutable_error()->set_detail("no message within 3 heartbeat intervals");
                send_and_close(m);
            }
            // Give the farewell frame a moment, then close regardless.
            deadline_.expires_after(2s);
            boost::system::error_code ec;
            co_await deadline_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
            close();
            co_return;
        }
        if (writing_ && now - write_started_ >= s.write_timeout) {
            spdlog::info("device {} ({}): write stalled for {} s, closing", log_safe(device_id_),
                         peer_, s.write_timeout.count());
            close();
            co_return;
        }
        auto next = read_deadline;
        if (writing_)
            next =
                std::min(next, write_started_ +
                                   std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                       s.write_timeout));
        else
            next = std::min(next,
                            now + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                      s.write_timeout));
        deadline_.expires_at(next);
        boost::system::error_code ec;
        co_await deadline_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
}

asio::awaitable<void> device_session::on_hello(dv::Hello hello) {
    auto self = shared_from_this();
    auto reject = [this](dv::RejectReason reason, const std::string& detail) {
        ++ctx_.stats.device_auth_failures;
        spdlog::info("device {} ({}): rejected: {}",
                     device_id_.empty() ? "-" : log_safe(device_id_), peer_, log_safe(detail, 200));
        dv::ServerMessage m;
        m.mutable_rejected()->set_reason(reason);
        m.mutable_rejected()->set_detail(detail);
        send_and_close(m);
    };
    if (hello.protocol_version() != 1) {
        reject(dv::UNSUPPORTED_VERSION, "this server speaks protocol version 1");
        co_return;
    }
    device_record rec;
    auto st = co_await ctx_.dir.find_device(hello.device_id(), rec);
    if (closed_) co_return;
    if (st == lookup_status::unavailable) {
        reject(dv::SERVER_UNAVAILABLE, "device directory unavailable, retry later");
        co_return;
    }
    // An unknown id and a wrong secret get the same answer, so that a scanner cannot tell which
    // ids exist; the log and the metrics say which it was.
    if (st == lookup_status::not_found) {
        ++ctx_.stats.device_auth_unknown_ids;
        // (Only well-formed ids are logged: the rest could carry anything, newlines included.)
        spdlog::info("device ({}): unknown device id '{}'", peer_,
                     valid_id(hello.device_id()) ? log_safe(hello.device_id()) : "(malformed)");
        reject(dv::BAD_HMAC, "authentication failed");
        co_return;
    }
    device_id_ = rec.id;
    if (rec.secret_unreadable) {  // logged by the directory, once for all devices
        ++ctx_.stats.device_secrets_unreadable;
        reject(dv::BAD_HMAC, "authentication failed");
        co_return;
    }
    if (!protocol::constant_time_equal(protocol::hmac_sha256(rec.secret, nonce_), hello.hmac())) {
        spdlog::info("device {} ({}): HMAC does not match", log_safe(device_id_), peer_);
        reject(dv::BAD_HMAC, "authentication failed");
        co_return;
    }
    // A client certificate (verified against --tls-client-ca in the TLS handshake) must be this
    // device's own: one device's certificate does not open another's account.
    if (auto cn = stream_->peer_common_name(); !cn.empty() && cn != rec.id) {
        spdlog::warn("device {} ({}): client certificate is for '{}'", log_safe(device_id_), peer_,
                     log_safe(cn));
        reject(dv::BAD_HMAC, "authentication failed");
        co_return;
    }
    if (hello.device_nonce().size() > 64) {
        reject(dv::BAD_HMAC, "authentication failed");
        co_return;
    }
    authenticated_ = true;
    leave_pending();
    ++ctx_.stats.devices_authenticated;
    resident_id_ = rec.resident_id;
    epoch_ = epoch_text(hello.sequence_epoch());
    // Where the resident lives, cached before any alarm: a new call's first step is then decided
    // without waiting for Redis (call_router::route_for_new).
    if (ctx_.router) ctx_.router->prefetch_home(resident_id_);
    if (auto previous = ctx_.registry.add_device(device_id_, weak_from_this())) {
        // A device has one live link: the newest. The old one is usually a half-dead socket.
        if (auto old = std::dynamic_pointer_cast<device_session>(previous);
            old && old.get() != this)
            old->close();
    }
    spdlog::debug("device {} ({}): authenticated", log_safe(device_id_), peer_);
    dv::ServerMessage m;
    heartbeat_interval_ = rec.heartbeat_interval_s > 0
                              ? std::chrono::seconds(rec.heartbeat_interval_s)
                              : ctx_.settings.heartbeat_interval;
    m.mutable_welcome()->set_heartbeat_interval_s(
        static_cast<std::uint32_t>(heartbeat_interval_.count()));
    m.mutable_welcome()->set_server_time_ms(wall_ms());
    if (!hello.device_nonce().empty()) {
        // Proves to the device that this server knows its secret (the plaintext port has no
        // certificate to do that).
        m.mutable_welcome()->set_server_proof(
            protocol::hmac_sha256(rec.secret, "anxin-welcome-v1" + nonce_ + hello.device_nonce()));
    }
    send(m);
    // Bookkeeping and the open calls' state run beside the reader: an alarm sent right after the
    // handshake must not wait behind them (nor, if Redis hangs, behind their timeouts).
    auto me = shared_from_this();
    const bool new_epoch = !epoch_.empty() && epoch_ != rec.epoch;
    asio::co_spawn(
        stream_->get_executor(),
        [me, new_epoch]() -> asio::awaitable<void> {
            if (new_epoch) {
                // A new epoch after another one: the device re-initialised its counter.
                auto previous = co_await me->ctx_.store.note_epoch(me->device_id_, me->epoch_);
                if (previous && !previous->empty()) {
                    ++me->ctx_.stats.device_counter_resets;
                    spdlog::warn("device {}: sequence counter re-initialised (epoch {} -> {})",
                                 log_safe(me->device_id_), log_safe(*previous),
                                 log_safe(me->epoch_));
                }
            }
            co_await me->seen(-1);
            co_await me->push_open_calls();
        },
        asio::detached);
}

asio::awaitable<void> device_session::push_open_calls() {
    // Updates published while the device was away were lost with it; tell it where its calls are.
    auto calls = co_await ctx_.store.device_open_calls(device_id_);
    for (const auto& id : calls) co_await push_call_state(id);
}

asio::awaitable<void> device_session::push_call_state(const std::string& call_id) {
    auto self = shared_from_this();
    anxin::console::v1::Call c;
    if (!co_await ctx_.store.load_console_call(call_id, c)) co_return;
    auto st = parse_call_state(c.state());
    if (!st) co_return;
    dv::ServerMessage m;
    auto* u = m.mutable_call_update();
    u->set_call_id(call_id);
    u->set_state(device_view(*st));
    u->set_server_time_ms(wall_ms());
    u->set_station_name(c.station_name());
    u->set_outcome(c.outcome());
    send(m);
}

asio::awaitable<void> device_session::on_alarm(dv::Alarm alarm) {
    auto self = shared_from_this();
    ++ctx_.stats.alarms_received;
    if (!valid_alarm_type(alarm.type())) {
        --alarms_in_flight_;
        ++ctx_.stats.alarms_nacked;
        dv::ServerMessage m;
        auto* n = m.mutable_alarm_nack();
        n->set_sequence(alarm.sequence());
        n->set_reason(dv::INVALID_ALARM);
        n->set_detail("unknown alarm type " + std::to_string(alarm.type()));
        send(m);
        co_return;
    }
    alarm_input in;
    in.device_id = device_id_;
    in.resident_id = resident_id_;
    in.sequence = std::to_string(alarm.sequence());
    in.epoch = epoch_;
    in.type = std::string(alarm_type_name(alarm.type()));
    in.priority = ctx_.settings.priorities.of(in.type);
    in.device_time_ms = alarm.device_time_ms();
    in.battery_percent =
        alarm.has_battery() ? static_cast<int>(std::min(alarm.battery_percent(), 100u)) : -1;
    // Stored already at its first step when the router can decide it from what it has cached;
    // otherwise queued for the router.
    if (ctx_.router) in.route = ctx_.router->route_for_new(in.resident_id);
    auto r = co_await ctx_.store.ingest(in);
    --alarms_in_flight_;
    dv::ServerMessage m;
    if (r.routed && !r.stored) {
        // Stored and routed, but not confirmed by the replicas (WAIT): the device is nacked and
        // will re-send, yet the call exists: its operators must hear of it now.
        asio::co_spawn(
            stream_->get_executor(),
            [self, in, r]() { return self->ctx_.router->announce_first_step(in, r); },
            asio::detached);
    }
    if (!r.stored) {
        ++ctx_.stats.alarms_nacked;
        spdlog::warn("device {}: alarm seq {} not stored: {}", log_safe(device_id_),
                     alarm.sequence(), log_safe(r.error, 200));
        auto* n = m.mutable_alarm_nack();
        n->set_sequence(alarm.sequence());
        n->set_reason(dv::STORE_UNAVAILABLE);
        n->set_retry_after_ms(static_cast<std::uint32_t>(ctx_.settings.nack_retry_after.count()));
        n->set_detail("store unavailable");
        send(m);
        co_return;
    }
    ++ctx_.stats.alarms_acked;
    if (r.duplicate) ++ctx_.stats.alarms_duplicate;
    if ((in.battery_percent != -1 && in.battery_percent != last_battery_sent_) ||
        std::chrono::steady_clock::now() - last_seen_sent_ > std::chrono::seconds(2)) {
        asio::co_spawn(
            stream_->get_executor(), [self, b = in.battery_percent] { return self->seen(b); },
            asio::detached);
    }
    auto* a = m.mutable_alarm_ack();
    a->set_sequence(alarm.sequence());
    a->set_call_id(r.call_id);
    a->set_duplicate(r.duplicate);
    send(m);
    if (!r.collided_with.empty()) {
        ++ctx_.stats.alarms_sequence_collisions;
        spdlog::warn("device {}: sequence {} re-used (was call {}; {}): new call {}",
                     log_safe(device_id_), alarm.sequence(), log_safe(r.collided_with),
                     log_safe(r.collision_reason, 200), log_safe(r.call_id));
    }
    if (!r.duplicate) {
        spdlog::info("call {}: {} from device {} stored", log_safe(r.call_id), log_safe(in.type),
                     log_safe(device_id_));
        dv::ServerMessage u;
        u.mutable_call_update()->set_call_id(r.call_id);
        u.mutable_call_update()->set_state(dv::RECEIVED);
        u.mutable_call_update()->set_server_time_ms(r.received_ms);
        send(u);
        if (r.routed) co_await ctx_.router->announce_first_step(in, r);
    } else {
        // A device re-sending has missed what happened to its call (maybe all of it, closed
        // included): tell it where the call stands now.
        co_await push_call_state(r.call_id);
    }
}

asio::awaitable<void> device_session::on_cancel(dv::Cancel cancel) {
    auto self = shared_from_this();
    auto r = co_await ctx_.store.cancel(device_id_, cancel.call_id(),
                                        ctx_.settings.auto_close_cancelled_priority);
    dv::ServerMessage m;
    if (r.code == "unavailable") {
        auto* n = m.mutable_alarm_nack();
        n->set_sequence(cancel.sequence());
        n->set_reason(dv::STORE_UNAVAILABLE);
        n->set_retry_after_ms(static_cast<std::uint32_t>(ctx_.settings.nack_retry_after.count()));
        n->set_detail("store unavailable");
        send(m);
        co_return;
    }
    auto* ack = m.mutable_cancel_ack();
    ack->set_sequence(cancel.sequence());
    ack->set_found(r.ok());
    if (r.ok()) ack->set_call_id(r.data[0]);
    send(m);
    if (!r.ok()) co_return;
    // data: call, state, operator, cancelled_ms, auto_closed, operators it was on offer to...
    anxin::console::v1::ConsoleEvent ev;
    ev.mutable_cancelled()->set_call_id(r.data[0]);
    ev.mutable_cancelled()->set_cancelled_ms(std::stoll(r.data[3]));
    if (!r.data[2].empty()) ctx_.bus.to_operator(r.data[2], ev);
    const bool auto_closed = r.data[4] == "1";
    if (auto_closed) {
        anxin::console::v1::ConsoleEvent w;
        w.mutable_withdrawn()->set_call_id(r.data[0]);
        w.mutable_withdrawn()->set_reason("cancelled");
        for (std::size_t i = 5; i < r.data.size(); ++i) ctx_.bus.to_operator(r.data[i], w);
    } else {
        // Operators it is on offer to see it marked on their list.
        auto offers = co_await ctx_.store.offered_operators(r.data[0]);
        if (offers) {
            for (const auto& op : *offers) ctx_.bus.to_operator(op, ev);
        }
    }
    spdlog::info("call {}: resident cancelled (device {}){}", log_safe(r.data[0]),
                 log_safe(device_id_), auto_closed ? "; technical alarm closed" : "");
    co_await ctx_.router->call_changed(r.data[0], auto_closed);
}

void device_session::on_heartbeat(const dv::Heartbeat& hb) {
    ++ctx_.stats.heartbeats;
    dv::ServerMessage m;
    m.mutable_heartbeat_ack()->set_server_time_ms(wall_ms());
    send(m);
    int battery = hb.has_battery() ? static_cast<int>(std::min(hb.battery_percent(), 100u)) : -1;
    auto self = shared_from_this();
    asio::co_spawn(
        stream_->get_executor(), [self, battery] { return self->seen(battery); }, asio::detached);
}

asio::awaitable<void> device_session::seen(int battery) {
    auto self = shared_from_this();
    const auto& sup = ctx_.settings.supervision;
    const int interval = static_cast<int>(heartbeat_interval_.count());
    last_seen_sent_ = std::chrono::steady_clock::now();
    if (battery != -1) last_battery_sent_ = battery;
    auto r =
        co_await ctx_.store.device_seen(device_id_, interval, offline_deadline(0, interval, sup),
                                        battery, recovery_period(interval, sup));
    if (!r.ok) co_return;
    if (r.was_offline) {
        spdlog::info("device {}: back online{}", log_safe(device_id_),
                     r.offline_call.empty()
                         ? ""
                         : "; call " + r.offline_call + " resolves if it stays back");
    }
    auto change = battery_transition(r.low_battery_episode, battery, sup);
    if (change == battery_change::none) co_return;
    auto episode =
        co_await ctx_.store.battery_episode(device_id_, change == battery_change::episode_started);
    if (!episode || change != battery_change::episode_started) co_return;
    // One call per episode, however many low readings follow.
    alarm_input in;
    in.device_id = device_id_;
    in.resident_id = resident_id_;
    in.sequence = "battery-" + *episode;
    in.type = "low_battery";
    in.priority = ctx_.settings.priorities.of(in.type);
    in.battery_percent = battery;
    auto stored = co_await ctx_.store.ingest(in);
    if (stored.stored) {
        ++ctx_.stats.low_battery_episodes;
        spdlog::info("device {}: battery {}%; low-battery call {} raised", log_safe(device_id_),
                     battery, log_safe(stored.call_id));
    }
}

}  // namespace anxin::dispatcher
