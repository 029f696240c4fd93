// device-sim operators: bot operators who take offered calls after a delay and close them after
// another. device-sim console: one person operating a console from the terminal.

#include "commands.hpp"
#include "options.hpp"
#include "sim_files.hpp"

#include "anxin/sim/console_link.hpp"
#include "anxin/sim/device_link.hpp"

#include <boost/program_options.hpp>

#include <poll.h>
#include <unistd.h>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <sstream>

namespace po = boost::program_options;
namespace cv = anxin::console::v1;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

namespace anxin::sim {

namespace {

volatile std::sig_atomic_t stop_requested = 0;

void log_line(const std::string& s) {
    auto t = std::time(nullptr);
    char ts[16];
    std::strftime(ts, sizeof ts, "%H:%M:%S", std::localtime(&t));
    std::printf("%s  %s\n", ts, s.c_str());
    std::fflush(stdout);
}

struct bot {
    operator_entry account;
    std::unique_ptr<console_link> link;
    struct pending {
        clock_type::time_point at;
        bool close;  // false: accept
        std::string call_id;
    };
    std::vector<pending> todo;
    bool busy = false;  // one call at a time
};

}  // namespace

int cmd_operators(int argc, char** argv) {
    std::string host, operators_file, stations_arg, outcome;
    unsigned short http_port = 8080;
    double accept_delay = 2, close_delay = 5;
    int per_station = 1, duration_s = 0;
    bool never_accept = false;
    po::options_description desc("device-sim operators: bot operators that take and close calls");
    desc.add_options()("help,h", "help")("host", po::value(&host)->default_value("127.0.0.1"),
                                         "dispatcher host")(
        "http-port", po::value(&http_port)->default_value(8080), "dispatcher HTTPS port")(
        "operators-file", po::value(&operators_file)->default_value("sim-data/operators.csv"),
        "from `device-sim provision`")(
        "stations", po::value(&stations_arg)->default_value("all"),
        "comma-separated station ids (cc: the command centre's supervisors), or all")(
        "never-accept", po::bool_switch(&never_accept),
        "log in and let every offer time out (to watch escalation)")(
        "per-station", po::value(&per_station)->default_value(1),
        "operators to log in per station")("accept-delay",
                                           po::value(&accept_delay)->default_value(2),
                                           "mean seconds before taking an offer (±50%)")(
        "close-delay", po::value(&close_delay)->default_value(5),
        "mean seconds on a call before closing it (±50%)")(
        "outcome", po::value(&outcome)->default_value("resolved_by_phone"),
        "outcome to close with")("duration", po::value(&duration_s)->default_value(0),
                                 "stop after this many seconds (0: until Ctrl-C)");
    device_tls tls;
    bool plain = false;
    add_https_options(desc, tls, plain);
    po::variables_map vm;
    if (auto stop = parse_options(argc, argv, desc, vm)) return *stop;
    auto https = https_context(tls, plain);
    if (!plain && !https) return 2;
    std::set<std::string> wanted;
    if (stations_arg != "all") {
        std::stringstream ss(stations_arg);
        std::string s;
        while (std::getline(ss, s, ',')) wanted.insert(s);
    }
    // Before the bots: their console_links use it in their destructors.
    boost::asio::io_context io;
    std::map<std::string, int> count;
    std::vector<bot> bots;
    for (auto& o : read_operators(operators_file)) {
        if (!wanted.empty() && !wanted.contains(o.station_id)) continue;
        if (count[o.station_id]++ >= per_station) continue;
        bots.push_back(bot{o, nullptr, {}, false});
    }
    if (bots.empty()) {
        std::cerr << "device-sim: no operators selected from " << operators_file << "\n";
        return 2;
    }
    std::signal(SIGINT, [](int) { stop_requested = 1; });
    std::signal(SIGTERM, [](int) { stop_requested = 1; });

    std::mt19937_64 rng(std::random_device{}());
    auto jittered = [&](double mean) {
        std::uniform_real_distribution<double> u(0.5 * mean, 1.5 * mean);
        return std::chrono::duration_cast<clock_type::duration>(
            std::chrono::duration<double>(u(rng)));
    };
    int logged_in = 0;
    for (auto& b : bots) {
        b.link = std::make_unique<console_link>(io);
        if (https) b.link->use_tls(https, tls.server_name);
        if (!b.link->connect(host, http_port, 5s)) {
            std::cerr << "device-sim: " << b.account.operator_id
                      << ": connect failed: " << b.link->error() << "\n";
            return 1;
        }
        auto r = b.link->login(b.account.operator_id, b.account.password, 30s);
        if (!r || !r->has_login_ok()) {
            std::cerr << "device-sim: " << b.account.operator_id
                      << ": login failed: " << (r ? r->error().message() : b.link->error()) << "\n";
            return 1;
        }
        ++logged_in;
    }
    log_line(std::to_string(logged_in) + " bot operator(s) logged in; accept after ~" +
             std::to_string(accept_delay) + " s, close after ~" + std::to_string(close_delay) +
             " s");

    const auto end = duration_s > 0 ? clock_type::now() + std::chrono::seconds(duration_s)
                                    : clock_type::time_point::max();
    std::uint64_t accepted = 0, closed = 0;
    while (!stop_requested && clock_type::now() < end) {
        io.restart();
        io.run_for(20ms);
        auto now = clock_type::now();
        for (auto& b : bots) {
            while (auto ev = b.link->poll()) {
                const auto& op = b.account.operator_id;
                if (ev->has_offer()) {
                    const auto& c = ev->offer().call();
                    log_line(op + ": offer " + c.id() + " " + c.alarm_type() + " for " +
                             ev->offer().resident().name() + " (" +
                             std::to_string(c.distance_km()).substr(0, 4) + " km)");
                    if (!b.busy && !never_accept) {
                        b.busy = true;
                        b.todo.push_back({now + jittered(accept_delay), false, c.id()});
                    }
                } else if (ev->has_accepted()) {
                    ++accepted;
                    log_line(op + ": took " + ev->accepted().call().id());
                    b.todo.push_back(
                        {now + jittered(close_delay), true, ev->accepted().call().id()});
                    b.busy = true;
                } else if (ev->has_withdrawn()) {
                    log_line(op + ": " + ev->withdrawn().call_id() + " withdrawn (" +
                             ev->withdrawn().reason() + ")");
                    std::erase_if(b.todo, [&](const bot::pending& p) {
                        return !p.close && p.call_id == ev->withdrawn().call_id();
                    });
                    if (b.todo.empty()) b.busy = false;
                } else if (ev->has_closed()) {
                    ++closed;
                    log_line(op + ": closed " + ev->closed().call_id() + " (" +
                             ev->closed().outcome() + ")");
                    b.busy = false;
                } else if (ev->has_cancelled()) {
                    log_line(op + ": resident cancelled " + ev->cancelled().call_id());
                } else if (ev->has_status_changed() && ev->status_changed().operator_id() == op &&
                           ev->status_changed().status() == "away" && !never_accept) {
                    // Set away for missed offers: a person would notice and come back.
                    log_line(op + ": set away (" + ev->status_changed().reason() +
                             "); back in 5 s");
                    b.todo.push_back({now + std::chrono::seconds(5), false, "@available"});
                } else if (ev->has_error()) {
                    log_line(op + ": error " + ev->error().code() + ": " + ev->error().message());
                    if (ev->error().code() == "already_taken" ||
                        ev->error().code() == "not_offered")
                        b.busy = false;
                }
            }
            if (b.link->closed()) {
                std::cerr << "device-sim: " << b.account.operator_id
                          << ": connection lost: " << b.link->error() << "\n";
                return 1;
            }
            for (auto it = b.todo.begin(); it != b.todo.end();) {
                if (it->at > now) {
                    ++it;
                    continue;
                }
                cv::ConsoleRequest req;
                if (it->call_id == "@available") {
                    req.mutable_set_status()->set_status("available");
                } else if (it->close) {
                    req.mutable_close()->set_call_id(it->call_id);
                    req.mutable_close()->set_outcome(outcome);
                    req.mutable_close()->set_note("bot " + b.account.operator_id +
                                                  " phoned the resident");
                } else {
                    req.mutable_accept()->set_call_id(it->call_id);
                }
                b.link->send(req);
                it = b.todo.erase(it);
            }
        }
    }
    log_line("stopping: " + std::to_string(accepted) + " calls taken, " + std::to_string(closed) +
             " closed");
    return 0;
}

int cmd_console(int argc, char** argv) {
    std::string host, op, password;
    unsigned short http_port = 8080;
    po::options_description desc(
        "device-sim console: operate a console from the terminal.\n"
        "Commands: accept <call>, close <call> <outcome> [note...], note <call> <text...>, ping, "
        "quit");
    desc.add_options()("help,h", "help")("host", po::value(&host)->default_value("127.0.0.1"),
                                         "dispatcher host")(
        "http-port", po::value(&http_port)->default_value(8080), "dispatcher HTTPS port")(
        "operator", po::value(&op)->required(), "operator id")(
        "password", po::value(&password)->required(), "password");
    device_tls tls;
    bool plain = false;
    add_https_options(desc, tls, plain);
    po::variables_map vm;
    if (auto stop = parse_options(argc, argv, desc, vm)) return *stop;
    auto https = https_context(tls, plain);
    if (!plain && !https) return 2;
    boost::asio::io_context io;
    console_link link(io);
    if (https) link.use_tls(https, tls.server_name);
    if (!link.connect(host, http_port, 5s)) {
        std::cerr << "connect failed: " << link.error() << "\n";
        return 1;
    }
    auto r = link.login(op, password, 30s);
    if (!r || !r->has_login_ok()) {
        std::cerr << "login failed: " << (r ? r->error().message() : link.error()) << "\n";
        return 1;
    }
    log_line(
        "logged in as " + r->login_ok().name() + " at " + r->login_ok().station_name() +
        ". Commands: accept <call> | close <call> <outcome> [note] | note <call> <text> | quit");
    log_line(
        "outcomes: resolved_by_phone staff_visited ambulance_called family_contacted false_alarm "
        "technical");
    for (;;) {
        while (auto ev = link.poll()) {
            if (ev->has_offer()) {
                const auto& c = ev->offer().call();
                const auto& res = ev->offer().resident();
                char d[32];
                std::snprintf(d, sizeof d, "%.2f", c.distance_km());
                log_line("*** OFFER " + c.id() + " [" + c.alarm_type() + "] " + res.name() + ", " +
                         res.address() + ", tel " + res.phone() + ", " + d + " km  -> accept " +
                         c.id());
            } else {
                log_line(to_json(*ev));
            }
        }
        if (link.closed()) {
            log_line("connection lost: " + link.error());
            return 1;
        }
        pollfd p{STDIN_FILENO, POLLIN, 0};
        if (::poll(&p, 1, 50) <= 0) {
            io.restart();
            io.run_for(20ms);
            continue;
        }
        std::string line;
        if (!std::getline(std::cin, line)) return 0;
        std::stringstream ss(line);
        std::string verb, call, rest;
        ss >> verb >> call;
        std::getline(ss, rest);
        if (!rest.empty() && rest[0] == ' ') rest.erase(0, 1);
        cv::ConsoleRequest req;
        if (verb == "quit" || verb == "exit") return 0;
        if (verb == "accept") {
            req.mutable_accept()->set_call_id(call);
        } else if (verb == "close") {
            std::stringstream rs(rest);
            std::string outcome, note;
            rs >> outcome;
            std::getline(rs, note);
            req.mutable_close()->set_call_id(call);
            req.mutable_close()->set_outcome(outcome);
            req.mutable_close()->set_note(note);
        } else if (verb == "note") {
            req.mutable_add_note()->set_call_id(call);
            req.mutable_add_note()->set_text(rest);
        } else if (verb == "ping") {
            req.mutable_ping();
        } else if (!verb.empty()) {
            log_line("unknown command: " + verb);
            continue;
        } else {
            continue;
        }
        link.send(req);
    }
}

}  // namespace anxin::sim
