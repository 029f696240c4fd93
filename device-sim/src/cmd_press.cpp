// device-sim press: one resident presses the button; every step is printed with its time.

#include "commands.hpp"
#include "options.hpp"
#include "sim_files.hpp"

#include "anxin/sim/device_link.hpp"

#include <boost/program_options.hpp>

#include <cstdio>
#include <iostream>
#include <map>
#include <random>

namespace po = boost::program_options;
namespace dv = anxin::device::v1;
using namespace std::chrono_literals;

namespace anxin::sim {

int cmd_press(int argc, char** argv) {
    std::string host, devices_file, device_id, type_name, secret;
    unsigned short port = 7700;
    int wait_s = 600, cancel_after_s = -1, resend_after_ms = 5000;
    std::uint32_t sequence = 0;
    std::uint64_t sequence_epoch = 0;
    bool no_clock = false, plain = false;
    device_tls tls;
    po::options_description desc("device-sim press: play one resident pressing the call button");
    desc.add_options()("help,h", "help")("host", po::value(&host)->default_value("127.0.0.1"),
                                         "dispatcher host")(
        "device-port", po::value(&port)->default_value(7700), "dispatcher device port")(
        "devices-file", po::value(&devices_file)->default_value("sim-data/devices.csv"),
        "from `device-sim provision`")("device", po::value(&device_id),
                                       "device id (default: a random device from the file)")(
        "secret", po::value(&secret), "device secret (default: from the devices file)")(
        "type", po::value(&type_name)->default_value("sos"),
        "sos, fall, medical, smoke, inactivity, low_battery, tamper, power_loss")(
        "sequence", po::value(&sequence),
        "alarm sequence number (default: seconds since 2026-01-01, always increasing)")(
        "sequence-epoch", po::value(&sequence_epoch)->default_value(0),
        "Hello.sequence_epoch: the device's counter epoch (0: not sent, as older devices)")(
        "no-clock", po::bool_switch(&no_clock),
        "send device_time_ms 0, as a device whose clock is not set")(
        "resend-after-ms", po::value(&resend_after_ms)->default_value(5000),
        "re-send the same alarm if no ack by then")(
        "cancel-after", po::value(&cancel_after_s),
        "press cancel (false alarm) this many seconds after the ack")(
        "wait", po::value(&wait_s)->default_value(600),
        "give up after this many seconds without the call being closed");
    add_tls_options(desc, tls, plain);
    po::variables_map vm;
    if (auto stop = parse_options(argc, argv, desc, vm)) return *stop;
    tls.enabled = !plain;
    std::string tls_error;
    auto tls_ctx = make_client_context(tls, tls_error);
    if (!plain && !tls_ctx) {
        std::cerr << "device-sim: " << tls_error << "\n";
        return 2;
    }
    auto type = parse_alarm_type(type_name);
    if (!type) {
        std::cerr << "device-sim: unknown --type " << type_name << "\n";
        return 2;
    }
    std::string who;
    if (secret.empty()) {
        auto devices = read_devices(devices_file);
        if (devices.empty()) {
            std::cerr << "device-sim: no devices in " << devices_file
                      << " (run `device-sim provision` first)\n";
            return 2;
        }
        const device_entry* d = nullptr;
        if (device_id.empty()) {
            std::random_device rd;
            d = &devices[rd() % devices.size()];
        } else {
            for (const auto& e : devices) {
                if (e.device_id == device_id) d = &e;
            }
            if (!d) {
                std::cerr << "device-sim: device " << device_id << " is not in " << devices_file
                          << "\n";
                return 2;
            }
        }
        device_id = d->device_id;
        secret = d->secret;
        who = " (resident " + d->resident_id + " " + d->name + ")";
    }
    if (!vm.count("sequence")) {
        // A real button keeps its counter in flash; this keeps it increasing across runs.
        sequence = static_cast<std::uint32_t>(wall_ms() / 1000 - 1767225600);
    }

    boost::asio::io_context io;
    device_link link(io);
    const auto t0 = std::chrono::steady_clock::now();
    auto since = [&] {
        return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
            .count();
    };
    auto step = [&](const std::string& what) {
        std::printf("%10.1f ms  %s\n", since(), what.c_str());
        std::fflush(stdout);
    };

    step("device " + device_id + who + " connecting to " + host + ":" + std::to_string(port) +
         (plain ? " (plaintext)" : " (TLS)"));
    link.use_tls(tls_ctx, tls.server_name);
    if (!link.connect(host, port, 5s)) {
        step("FAILED: " + link.error());
        return 1;
    }
    auto w = link.handshake(device_id, secret, 10s, sequence_epoch);
    if (!w || !w->has_welcome()) {
        step(std::string("FAILED: handshake: ") + (w ? w->ShortDebugString() : link.error()));
        return 1;
    }
    step("authenticated (heartbeat every " + std::to_string(w->welcome().heartbeat_interval_s()) +
         " s)");

    dv::DeviceMessage alarm;
    alarm.mutable_alarm()->set_sequence(sequence);
    alarm.mutable_alarm()->set_type(*type);
    alarm.mutable_alarm()->set_battery_percent(87);
    alarm.mutable_alarm()->set_has_battery(true);

    const auto press = std::chrono::steady_clock::now();
    auto since_press = [&] {
        return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - press)
            .count();
    };
    // The press time is fixed now; every re-send below is this same message.
    alarm.mutable_alarm()->set_device_time_ms(no_clock ? 0 : wall_ms());
    link.send(alarm);
    step("PRESS: " + type_name + " alarm sent, sequence " + std::to_string(sequence));

    std::string call_id;
    auto last_send = std::chrono::steady_clock::now();
    auto last_heartbeat = std::chrono::steady_clock::now();
    auto heartbeat_every = std::chrono::seconds(w->welcome().heartbeat_interval_s());
    bool cancelled = false;
    bool offered_once = false;
    std::chrono::steady_clock::time_point acked_at;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(wait_s);
    while (std::chrono::steady_clock::now() < deadline) {
        auto now = std::chrono::steady_clock::now();
        if (call_id.empty() && now - last_send > std::chrono::milliseconds(resend_after_ms)) {
            link.send(alarm);  // same sequence: the server records it once
            last_send = now;
            step("no ack yet: re-sent the same alarm");
        }
        if (now - last_heartbeat > heartbeat_every) {
            dv::DeviceMessage hb;
            hb.mutable_heartbeat()->set_battery_percent(87);
            hb.mutable_heartbeat()->set_has_battery(true);
            link.send(hb);
            last_heartbeat = now;
        }
        if (!call_id.empty() && !cancelled && cancel_after_s >= 0 &&
            now - acked_at > std::chrono::seconds(cancel_after_s)) {
            dv::DeviceMessage c;
            c.mutable_cancel()->set_sequence(sequence + 1);
            c.mutable_cancel()->set_call_id(call_id);
            link.send(c);
            cancelled = true;
            step("resident pressed CANCEL (false alarm)");
        }
        auto m = link.receive(200ms);
        if (!m) {
            if (link.closed()) {
                step("connection closed by server: " + link.error());
                return 1;
            }
            continue;
        }
        char buf[256];
        switch (m->body_case()) {
            case dv::ServerMessage::kAlarmAck:
                if (call_id.empty()) {
                    call_id = m->alarm_ack().call_id();
                    acked_at = std::chrono::steady_clock::now();
                    std::snprintf(buf, sizeof buf, "ACK: call %s stored (press->ack %.1f ms)%s",
                                  call_id.c_str(), since_press(),
                                  m->alarm_ack().duplicate() ? " [duplicate]" : "");
                    step(buf);
                }
                break;
            case dv::ServerMessage::kAlarmNack:
                step("NACK: " + m->alarm_nack().detail() + ", retry after " +
                     std::to_string(m->alarm_nack().retry_after_ms()) + " ms");
                last_send = std::chrono::steady_clock::now() -
                            std::chrono::milliseconds(resend_after_ms) +
                            std::chrono::milliseconds(m->alarm_nack().retry_after_ms());
                break;
            case dv::ServerMessage::kCallUpdate: {
                const auto& u = m->call_update();
                if (u.call_id() != call_id && !call_id.empty()) break;
                switch (u.state()) {
                    case dv::RECEIVED:
                        step("device shows: call received");
                        break;
                    case dv::OFFERED:
                        if (offered_once) {
                            std::snprintf(
                                buf, sizeof buf,
                                "ESCALATED: now also offered at %s (%.1f s after the press)",
                                u.station_name().c_str(), since_press() / 1000);
                        } else {
                            std::snprintf(buf, sizeof buf,
                                          "OFFERED to operators at %s (press->offered %.1f ms)",
                                          u.station_name().c_str(), since_press());
                        }
                        offered_once = true;
                        step(buf);
                        break;
                    case dv::OPERATOR_ASSIGNED:
                        std::snprintf(buf, sizeof buf,
                                      "OPERATOR ASSIGNED: help is coming (press->assigned %.2f s)",
                                      since_press() / 1000);
                        step(buf);
                        break;
                    case dv::CLOSED:
                        std::snprintf(buf, sizeof buf, "CLOSED: outcome %s (press->closed %.2f s)",
                                      u.outcome().c_str(), since_press() / 1000);
                        step(buf);
                        return 0;
                    default:
                        break;
                }
                break;
            }
            case dv::ServerMessage::kCancelAck:
                step(std::string("cancel recorded on call ") + m->cancel_ack().call_id());
                break;
            case dv::ServerMessage::kError:
                step("ERROR from server: " + m->error().detail());
                return 1;
            default:
                break;
        }
    }
    step("gave up waiting after " + std::to_string(wait_s) + " s");
    return 1;
}

}  // namespace anxin::sim
