// What a console may do, and what an attacker at the console port cannot: write into calls that
// are not theirs, grow a call record without bound, create junk keys with made-up ids, forge log
// lines, hold unauthenticated WebSockets open, and guess passwords fast enough to matter or to
// slow down everyone else (the guessing test prints figures to quote).

#include "test_cluster.hpp"

#include <gtest/gtest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/websocket.hpp>

#include <unistd.h>
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace dv = anxin::device::v1;
namespace cv = anxin::console::v1;
using anxin::test::make_alarm;
using anxin::test::offer_of;
using anxin::test::wait_for;
using asio::ip::tcp;

namespace {

using clock_type = std::chrono::steady_clock;
constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);

double ms_since(clock_type::time_point t) {
    return std::chrono::duration<double, std::milli>(clock_type::now() - t).count();
}

double percentile(std::vector<double> v, double p) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    auto i = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
    return v[std::min(i, v.size() - 1)];
}

// The dispatcher's CPU time so far (user + system), in seconds.
double cpu_seconds(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto close_paren = stat.rfind(')');
    if (close_paren == std::string::npos) return 0;
    std::istringstream rest(stat.substr(close_paren + 2));
    std::string field;
    unsigned long long utime = 0, stime = 0;
    // Fields 3.. after the command: utime is field 14, stime 15.
    for (int i = 3; i <= 15 && rest >> field; ++i) {
        if (i == 14) utime = std::stoull(field);
        if (i == 15) stime = std::stoull(field);
    }
    return double(utime + stime) / double(sysconf(_SC_CLK_TCK));
}

std::vector<std::string> all_keys(anxin::test::redis_server& redis) {
    std::vector<std::string> out;
    auto* r = static_cast<redisReply*>(redisCommand(redis.client(), "KEYS *"));
    if (r && r->type == REDIS_REPLY_ARRAY) {
        for (std::size_t i = 0; i < r->elements; ++i)
            out.emplace_back(r->element[i]->str, r->element[i]->len);
    }
    if (r) freeReplyObject(r);
    std::sort(out.begin(), out.end());
    return out;
}

class ConsoleSecurity : public anxin::test::cluster_test {
  protected:
    std::string press(anxin::sim::device_link& dev, std::uint32_t seq) {
        if (!dev.send(make_alarm(seq))) return {};
        auto ack = wait_for(dev, [](const dv::ServerMessage& m) { return m.has_alarm_ack(); });
        return ack ? ack->alarm_ack().call_id() : std::string();
    }
    // Sends req (with a fresh req id) and waits for the event answering it.
    std::optional<cv::ConsoleEvent> ask(anxin::sim::console_link& link, cv::ConsoleRequest req) {
        req.set_req("q" + std::to_string(++seq_));
        if (!link.send(req)) return std::nullopt;
        const auto id = req.req();
        return wait_for(link, [&](const cv::ConsoleEvent& e) { return e.req() == id; });
    }
    static cv::ConsoleRequest note(const std::string& call, const std::string& text) {
        cv::ConsoleRequest r;
        r.mutable_add_note()->set_call_id(call);
        r.mutable_add_note()->set_text(text);
        return r;
    }
    static cv::ConsoleRequest accept(const std::string& call) {
        cv::ConsoleRequest r;
        r.mutable_accept()->set_call_id(call);
        return r;
    }
    static cv::ConsoleRequest close(const std::string& call, const std::string& text = {}) {
        cv::ConsoleRequest r;
        r.mutable_close()->set_call_id(call);
        r.mutable_close()->set_outcome("resolved_by_phone");
        r.mutable_close()->set_note(text);
        return r;
    }
    static cv::ConsoleRequest transfer(const std::string& call, const std::string& station,
                                       const std::string& text = {}) {
        cv::ConsoleRequest r;
        r.mutable_transfer()->set_call_id(call);
        r.mutable_transfer()->set_station_id(station);
        r.mutable_transfer()->set_note(text);
        return r;
    }
    static std::string code_of(const std::optional<cv::ConsoleEvent>& e) {
        if (!e) return "(no answer)";
        return e->has_error() ? e->error().code() : "(ok)";
    }
    int seq_ = 0;
};

TEST_F(ConsoleSecurity, OnlyThoseWithAPartInACallMayWriteIntoIt) {
    start_cluster();
    auto a1 = c->console("op-a1");
    auto a2 = c->console("op-a2");
    auto b1 = c->console("op-b1");  // another station
    auto sup = c->console("sup-1");
    ASSERT_TRUE(a1 && a2 && b1 && sup);
    auto dev = c->device("dev-1");
    ASSERT_TRUE(dev);
    const auto call = press(*dev, 1);
    ASSERT_FALSE(call.empty());
    ASSERT_TRUE(wait_for(*a1, offer_of(call)));
    const auto history_key = "anx:call:" + call + ":history";
    const auto notes_key = "anx:call:" + call + ":notes";

    // On offer at st-a: an operator it is offered to may note it; st-b's operator may not.
    EXPECT_EQ(code_of(ask(*a2, note(call, "offered operator: phoning"))), "(ok)");
    auto history = c->redis().list(history_key).size();
    EXPECT_EQ(code_of(ask(*b1, note(call, "not mine"))), "forbidden");
    EXPECT_EQ(code_of(ask(*b1, accept(call))), "not_offered");
    EXPECT_EQ(c->redis().list(history_key).size(), history);

    ASSERT_TRUE(ask(*a1, accept(call)));
    EXPECT_EQ(c->redis().hget("anx:call:" + call, "operator"), "op-a1");
    history = c->redis().list(history_key).size();
    const auto notes = c->redis().list(notes_key).size();
    // Held by op-a1: nobody else at the station or elsewhere may note, close or transfer it.
    for (auto* other : {b1.get(), a2.get()}) {
        EXPECT_EQ(code_of(ask(*other, note(call, "forged note"))), "forbidden");
        EXPECT_EQ(code_of(ask(*other, close(call, "forged close"))), "not_yours");
        EXPECT_EQ(code_of(ask(*other, transfer(call, "st-b", "forged transfer"))), "not_yours");
        EXPECT_EQ(code_of(ask(*other, accept(call))), "already_taken");
    }
    EXPECT_EQ(c->redis().list(history_key).size(), history) << "a refused action wrote history";
    EXPECT_EQ(c->redis().list(notes_key).size(), notes);
    EXPECT_EQ(c->redis().hget("anx:call:" + call, "state"), "accepted");
    for (const auto& h : c->redis().list(history_key))
        EXPECT_EQ(h.find("forged"), std::string::npos);

    // The holder and a supervisor may.
    EXPECT_EQ(code_of(ask(*a1, note(call, "holder's note"))), "(ok)");
    EXPECT_EQ(code_of(ask(*sup, note(call, "supervisor's note"))), "(ok)");
    EXPECT_EQ(c->redis().list(notes_key).size(), notes + 2);
    EXPECT_EQ(code_of(ask(*a1, close(call, "closing note"))), "(ok)");
    // After the close, the operator who closed it may still add a follow-up; others may not.
    EXPECT_EQ(code_of(ask(*a1, note(call, "ambulance arrived"))), "(ok)");
    EXPECT_EQ(code_of(ask(*b1, note(call, "late forged note"))), "forbidden");
}

TEST_F(ConsoleSecurity, NotesAreCappedPerCallAndInSizeTransferAndCloseNotesToo) {
    start_cluster();
    auto a1 = c->console("op-a1");
    ASSERT_TRUE(a1);
    auto dev = c->device("dev-1");
    const auto call = press(*dev, 1);
    ASSERT_TRUE(wait_for(*a1, offer_of(call)));
    ASSERT_EQ(code_of(ask(*a1, accept(call))), "(ok)");
    const std::string too_long(4001, 'x');
    EXPECT_EQ(code_of(ask(*a1, note(call, too_long))), "note_too_long");
    EXPECT_EQ(code_of(ask(*a1, transfer(call, "st-b", too_long))), "note_too_long");
    EXPECT_EQ(code_of(ask(*a1, close(call, too_long))), "note_too_long");
    EXPECT_EQ(code_of(ask(*a1, note(call, std::string(4000, 'y')))), "(ok)");  // the limit
    for (int i = 1; i < 50; ++i)
        ASSERT_EQ(code_of(ask(*a1, note(call, "note " + std::to_string(i)))), "(ok)") << i;
    EXPECT_EQ(code_of(ask(*a1, note(call, "one too many"))), "too_many_notes");
    // A transfer with a note past the cap is refused whole: the call is still op-a1's.
    EXPECT_EQ(code_of(ask(*a1, transfer(call, "st-b", "handing over"))), "too_many_notes");
    EXPECT_EQ(c->redis().hget("anx:call:" + call, "state"), "accepted");
    EXPECT_EQ(c->redis().hget("anx:call:" + call, "operator"), "op-a1");
    EXPECT_EQ(c->redis().list("anx:call:" + call + ":notes").size(), 50u);
    // A full notes list never stops a close; its note is the last one.
    EXPECT_EQ(code_of(ask(*a1, close(call, "closed: helped up"))), "(ok)");
    auto notes = c->redis().list("anx:call:" + call + ":notes");
    ASSERT_EQ(notes.size(), 51u);
    EXPECT_NE(notes.back().find("closed: helped up"), std::string::npos);
    // The 4,000-byte limit holds in the store too: a transfer note checked in the script.
    auto a2 = c->console("op-a2");
    auto call2 = press(*dev, 2);
    ASSERT_TRUE(wait_for(*a2, offer_of(call2)));
    ASSERT_EQ(code_of(ask(*a2, accept(call2))), "(ok)");
    EXPECT_EQ(code_of(ask(*a2, transfer(call2, "st-b", std::string(4000, 'z')))), "(ok)");
    EXPECT_EQ(c->redis().list("anx:call:" + call2 + ":notes").size(), 1u);
}

TEST_F(ConsoleSecurity, JunkIdsAreRefusedAndCreateNoKeys) {
    start_cluster();
    auto a1 = c->console("op-a1");
    auto sup = c->console("sup-1");
    ASSERT_TRUE(a1 && sup);
    auto dev = c->device("dev-1");
    const auto call = press(*dev, 1);
    ASSERT_FALSE(call.empty());
    ASSERT_TRUE(wait_for(*a1, offer_of(call)));
    const auto before = all_keys(c->redis());
    const std::vector<std::string> junk = {
        "next",       "C1:history",  "",   std::string(10240, 'C'), call + ":history",
        "C0000001\n", "../C0000001", "C12"};
    for (const auto& id : junk) {
        for (auto* link : {a1.get(), sup.get()}) {
            EXPECT_EQ(code_of(ask(*link, note(id, "junk"))), "bad_id") << id.substr(0, 20);
            EXPECT_EQ(code_of(ask(*link, accept(id))), "bad_id") << id.substr(0, 20);
            EXPECT_EQ(code_of(ask(*link, close(id))), "bad_id") << id.substr(0, 20);
            EXPECT_EQ(code_of(ask(*link, transfer(id, "st-b"))), "bad_id") << id.substr(0, 20);
        }
    }
    // A station id is checked too.
    for (const auto& st : {std::string("st-b\nforged"), std::string(), std::string(300, 's')})
        EXPECT_EQ(code_of(ask(*a1, transfer(call, st))), "bad_id");
    const auto after = all_keys(c->redis());
    std::vector<std::string> added;
    std::set_difference(after.begin(), after.end(), before.begin(), before.end(),
                        std::back_inserter(added));
    // The router's own keys may appear at any moment (its stream, its leader lease).
    std::erase_if(added, [](const std::string& k) {
        return k.rfind("anx:alarms:", 0) == 0 || k.rfind("anx:leader:", 0) == 0;
    });
    EXPECT_TRUE(added.empty()) << "new key: " << (added.empty() ? "" : added[0].substr(0, 80));
    for (const auto& k : after) {
        EXPECT_EQ(k.find("next:"), std::string::npos) << k;
        EXPECT_EQ(k.find(":history:"), std::string::npos) << k.substr(0, 80);
        EXPECT_LT(k.size(), 200u) << k.substr(0, 80);
    }
    // The console is still fine.
    EXPECT_EQ(code_of(ask(*a1, note(call, "real note"))), "(ok)");
}

TEST_F(ConsoleSecurity, AFailedLoginCannotForgeALogLine) {
    start_cluster();
    auto link = std::make_unique<anxin::sim::console_link>(c->io);
    ASSERT_TRUE(link->connect("127.0.0.1", c->dispatcher().plain_http_port(), 5s));
    const std::string forged =
        "nobody\n[2026-12-02 12:00:00.000] [info] console (10.0.0.1:5555): supervisor sup-1 "
        "logged in at @cc\r\n" +
        std::string(20000, 'A');
    auto r = link->login(forged, "x", 10s);
    ASSERT_TRUE(r && r->has_error());
    EXPECT_EQ(r->error().code(), "bad_credentials");
    // Something to wait for: a real login after it, so its line is in the log too.
    ASSERT_TRUE(c->console("op-a1"));
    std::ifstream in(c->dispatcher().data_dir() / "dispatcher.log");
    std::string line;
    bool saw_failed = false;
    while (std::getline(in, line)) {
        EXPECT_EQ(line.find("supervisor sup-1 logged in"), std::string::npos) << line;
        EXPECT_NE(line.rfind("[2026-12-02 12:00:00.000]", 0), 0u) << line;
        EXPECT_LT(line.size(), 1000u) << line.substr(0, 200);
        if (line.find("failed login for 'nobody\\n[2026") != std::string::npos) {
            saw_failed = true;
            // Cut, with the original length said.
            EXPECT_NE(line.find("(" + std::to_string(forged.size()) + " bytes)"), std::string::npos)
                << line;
        }
    }
    EXPECT_TRUE(saw_failed) << c->dispatcher().log_tail(20);
}

// A WebSocket client the test drives with coroutines on its own io_context: bound to a chosen
// source address, with the close reason visible.
struct raw_console {
    explicit raw_console(asio::io_context& io) : ws(io) {}
    asio::awaitable<bool> connect(tcp::endpoint server, const std::string& source) {
        auto& sock = beast::get_lowest_layer(ws).socket();
        boost::system::error_code ec;
        sock.open(tcp::v4(), ec);
        sock.bind(tcp::endpoint(asio::ip::make_address(source), 0), ec);
        if (ec) co_return false;
        beast::get_lowest_layer(ws).expires_after(10s);
        auto [cec] = co_await beast::get_lowest_layer(ws).async_connect(server, use_nothrow);
        if (cec) co_return false;
        auto [hec] = co_await ws.async_handshake("127.0.0.1", "/console", use_nothrow);
        if (hec) co_return false;
        beast::get_lowest_layer(ws).expires_never();
        co_return true;
    }
    // Sends text and returns the next message; empty when the connection ended.
    asio::awaitable<std::string> round_trip(const std::string& text) {
        auto [wec, wn] = co_await ws.async_write(asio::buffer(text), use_nothrow);
        if (wec) co_return std::string();
        co_return co_await read();
    }
    asio::awaitable<std::string> read() {
        beast::flat_buffer buf;
        auto [ec, n] = co_await ws.async_read(buf, use_nothrow);
        if (ec) {
            error = ec;
            co_return std::string();
        }
        co_return beast::buffers_to_string(buf.data());
    }
    websocket::stream<beast::tcp_stream> ws;
    boost::system::error_code error;
};

std::string error_code_in(const std::string& json) {
    auto p = json.find("\"code\":\"");
    if (p == std::string::npos) return json.find("login_ok") != std::string::npos ? "ok" : "?";
    p += 8;
    return json.substr(p, json.find('"', p) - p);
}

TEST_F(ConsoleSecurity, AnUnauthenticatedWebSocketIsClosedAfterTenSeconds) {
    start_cluster();
    asio::io_context io;
    const tcp::endpoint server(asio::ip::make_address("127.0.0.1"),
                               c->dispatcher().plain_http_port());
    struct result {
        double closed_after_ms = -1;
        std::string reason;
    };
    std::vector<result> results(5);
    const auto t0 = clock_type::now();
    for (std::size_t i = 0; i < results.size(); ++i) {
        asio::co_spawn(
            io,
            [&, i]() -> asio::awaitable<void> {
                raw_console rc(io);
                if (!co_await rc.connect(server, "127.0.0.1")) co_return;
                auto msg = co_await rc.read();  // nothing is sent to a stranger: waits for close
                if (msg.empty() && rc.error == websocket::error::closed) {
                    results[i].closed_after_ms = ms_since(t0);
                    results[i].reason = std::string(rc.ws.reason().reason.c_str());
                }
            },
            asio::detached);
    }
    // A console that logs in on its connection is not closed.
    auto logged_in = c->console("op-a1");
    ASSERT_TRUE(logged_in);
    io.run_for(15s);
    for (const auto& r : results) {
        EXPECT_GE(r.closed_after_ms, 9500);
        EXPECT_LE(r.closed_after_ms, 12500);
        EXPECT_EQ(r.reason, "no login within 10 s");
    }
    std::printf("unauthenticated WebSockets: 5 of 5 closed after %.0f-%.0f ms, reason '%s'\n",
                results[0].closed_after_ms, results.back().closed_after_ms,
                results[0].reason.c_str());
    cv::ConsoleRequest ping;
    ping.set_req("p");
    ping.mutable_ping();
    ASSERT_TRUE(logged_in->send(ping));
    EXPECT_TRUE(wait_for(*logged_in, [](const cv::ConsoleEvent& e) { return e.has_pong(); }));
    auto metrics = c->http("GET", "/metrics");
    EXPECT_NE(metrics.body.find("anxin_console_login_timeouts_total 5"), std::string::npos);
}

// Real password cost (100,000 PBKDF2 iterations, the default). 64 connections from one address
// guess op-a1's password for 18 s while op-a1 logs in again every second from the station's
// address and a device sends heartbeats. Before this change (quoted in the issue): 72 guesses/s,
// logins 280-710 ms (28-88 ms without the attack), heartbeat p99 4.7 ms (~1 ms), 200 % CPU.
TEST_F(ConsoleSecurity, PasswordGuessingIsSlowAndNeitherLocksOutNorSlowsTheRealOperator) {
    start_cluster({"--pbkdf2-iterations", "100000"});
    const tcp::endpoint server(asio::ip::make_address("127.0.0.1"),
                               c->dispatcher().plain_http_port());
    const pid_t pid = c->dispatcher().pid();

    auto real_login = [&](const std::string& op, const std::string& password) {
        auto link = std::make_unique<anxin::sim::console_link>(c->io);
        if (!link->connect("127.0.0.1", c->dispatcher().plain_http_port(), 5s)) return -1.0;
        const auto t = clock_type::now();
        auto r = link->login(op, password, 10s);
        const double ms = ms_since(t);
        return r && r->has_login_ok() ? ms : (r && r->has_error() ? -ms : -1.0);
    };

    auto metric = [&](const std::string& name) {
        auto body = c->http("GET", "/metrics").body;
        auto p = body.find("\n" + name + " ");
        return p == std::string::npos ? -1.0 : std::stod(body.substr(p + name.size() + 2));
    };

    // Unknown ids cost what known ones do: one connection per attempt (the per-connection pause
    // is the same for both), four each (under the account limit). Every one of them is hashed
    // (the server counts it); the times are printed, not asserted: on a shared machine four
    // samples of ~600 ms differ by more than the tens of ms a skipped hash would save.
    const double hashed0 = metric("anxin_console_login_passwords_hashed_total");
    std::vector<double> known, unknown;
    for (int i = 0; i < 4; ++i) {
        known.push_back(-real_login("op-b1", "wrong-" + std::to_string(i)));
        unknown.push_back(-real_login("op-nobody", "wrong-" + std::to_string(i)));
    }
    std::printf("wrong password: known id %.0f ms, unknown id %.0f ms (medians)\n",
                percentile(known, 0.5), percentile(unknown, 0.5));
    EXPECT_EQ(metric("anxin_console_login_passwords_hashed_total") - hashed0, 8);
    for (double ms : known) EXPECT_GT(ms, 0) << "a wrong password got no error";
    for (double ms : unknown) EXPECT_GT(ms, 0) << "an unknown id got no error";

    // The operator's station has logged in before: its address is trusted for op-a1.
    std::vector<double> baseline_logins;
    for (int i = 0; i < 3; ++i)
        baseline_logins.push_back(real_login("op-a1", anxin::test::operator_password));
    for (double ms : baseline_logins) ASSERT_GT(ms, 0);

    // Heartbeats on a thread of their own: heartbeat -> ack latency.
    std::atomic<bool> stop_hb{false}, attacking{false};
    std::mutex hb_mutex;
    std::vector<double> hb_quiet, hb_attack;
    std::thread hb([&] {
        asio::io_context hio;
        auto dev = c->dispatcher().open_device_link(hio);
        if (!dev) return;
        auto w = dev->handshake("dev-2", anxin::test::secret_of("dev-2"), 5s);
        if (!w || !w->has_welcome()) return;
        while (!stop_hb) {
            dv::DeviceMessage m;
            m.mutable_heartbeat();
            const auto t = clock_type::now();
            if (!dev->send(m)) break;
            auto ack =
                wait_for(*dev, [](const dv::ServerMessage& x) { return x.has_heartbeat_ack(); });
            if (!ack) break;
            const double ms = ms_since(t);
            {
                std::lock_guard lk(hb_mutex);
                (attacking ? hb_attack : hb_quiet).push_back(ms);
            }
            std::this_thread::sleep_for(20ms);
        }
    });
    std::this_thread::sleep_for(6s);

    // The attack: 64 connections from 127.0.0.2.
    struct attack_counts {
        std::atomic<long> checked{0}, rate_limited{0}, busy{0}, other{0}, connections{0};
    } counts;
    asio::io_context aio;
    std::atomic<bool> stop_attack{false};
    for (int i = 0; i < 64; ++i) {
        asio::co_spawn(
            aio,
            [&, i]() -> asio::awaitable<void> {
                for (long n = 0; !stop_attack;) {
                    raw_console rc(aio);
                    if (!co_await rc.connect(server, "127.0.0.2")) {
                        asio::steady_timer t(aio, 50ms);
                        co_await t.async_wait(use_nothrow);
                        continue;
                    }
                    ++counts.connections;
                    while (!stop_attack) {
                        auto reply = co_await rc.round_trip(
                            R"({"req":"g","login":{"operator_id":"op-a1","password":"guess-)" +
                            std::to_string(i) + "-" + std::to_string(++n) + R"("}})");
                        if (reply.empty()) break;
                        auto code = error_code_in(reply);
                        if (code == "bad_credentials" || code == "ok")
                            ++counts.checked;
                        else if (code == "rate_limited")
                            ++counts.rate_limited;
                        else if (code == "busy")
                            ++counts.busy;
                        else
                            ++counts.other;
                    }
                }
            },
            asio::detached);
    }
    const double failures0 = metric("anxin_console_login_failures_total");
    const double cpu0 = cpu_seconds(pid);
    const auto attack_start = clock_type::now();
    attacking = true;
    std::thread attacker([&] { aio.run(); });
    std::vector<double> attack_logins;
    int refused_real_logins = 0;
    while (ms_since(attack_start) < 18000) {
        std::this_thread::sleep_for(1s);
        double ms = real_login("op-a1", anxin::test::operator_password);
        if (ms > 0)
            attack_logins.push_back(ms);
        else
            ++refused_real_logins;
    }
    const double attack_s = ms_since(attack_start) / 1000;
    const double cpu = (cpu_seconds(pid) - cpu0) / attack_s * 100;
    // Every password the server checked for the attacker failed; some of the answers never
    // reached it (its connections were shed at the pending caps first).
    const double checked_by_server = metric("anxin_console_login_failures_total") - failures0;
    stop_attack = true;
    aio.stop();
    attacker.join();
    attacking = false;
    stop_hb = true;
    hb.join();

    // A new address is refused for op-a1 now (the account is locked for strangers)...
    asio::io_context nio;
    std::string from_new_address;
    asio::co_spawn(
        nio,
        [&]() -> asio::awaitable<void> {
            raw_console rc(nio);
            if (!co_await rc.connect(server, "127.0.0.3")) co_return;
            from_new_address = co_await rc.round_trip(
                std::string(R"({"req":"n","login":{"operator_id":"op-a1","password":")") +
                anxin::test::operator_password + R"("}})");
        },
        asio::detached);
    nio.run_for(10s);

    const double guesses_per_s = checked_by_server / attack_s;
    std::string loadavg;
    std::getline(std::ifstream("/proc/loadavg"), loadavg);
    std::printf(
        "guessing attack, 64 connections from one address for %.1f s, PBKDF2 100000 iterations:\n"
        "  passwords checked by the server %.0f (%.2f/s; before: 72/s); answers the attacker "
        "got: bad_credentials %ld, rate_limited %ld, busy %ld, other %ld; connections opened "
        "%ld\n"
        "  real operator's login (trusted address): baseline %.0f-%.0f ms; under attack "
        "median %.0f ms, max %.0f ms, %zu of %zu succeeded (before: 280-710 ms)\n"
        "  heartbeat->ack: quiet p50 %.2f ms p99 %.2f ms (n=%zu); under attack p50 %.2f ms "
        "p99 %.2f ms (n=%zu) (before: p99 4.7 ms)\n"
        "  dispatcher CPU under attack: %.0f %% (before: 200 %%)\n"
        "  op-a1 from a new address meanwhile: %s\n"
        "  machine load average at the end: %s\n",
        attack_s, checked_by_server, guesses_per_s, counts.checked.load(),
        counts.rate_limited.load(), counts.busy.load(), counts.other.load(),
        counts.connections.load(),
        *std::min_element(baseline_logins.begin(), baseline_logins.end()),
        *std::max_element(baseline_logins.begin(), baseline_logins.end()),
        percentile(attack_logins, 0.5), percentile(attack_logins, 1.0), attack_logins.size(),
        attack_logins.size() + refused_real_logins, percentile(hb_quiet, 0.5),
        percentile(hb_quiet, 0.99), hb_quiet.size(), percentile(hb_attack, 0.5),
        percentile(hb_attack, 0.99), hb_attack.size(), cpu, error_code_in(from_new_address).c_str(),
        loadavg.c_str());

    EXPECT_GE(checked_by_server, 1);  // the limits were reached by real checks
    EXPECT_LE(guesses_per_s, 2.0);
    EXPECT_GT(counts.rate_limited + counts.busy, 0);
    EXPECT_EQ(refused_real_logins, 0) << "the real operator was locked out";
    EXPECT_GE(attack_logins.size(), 10u);
    EXPECT_LT(percentile(attack_logins, 1.0), 2000) << "real logins slowed down";
    EXPECT_GT(hb_attack.size(), 100u);
    // Generous, for a shared machine: the attack must not be what slows heartbeats.
    EXPECT_LT(percentile(hb_attack, 0.99), std::max(50.0, 4 * percentile(hb_quiet, 0.99)))
        << "heartbeats slowed down";
    EXPECT_LT(cpu, 150);
    EXPECT_EQ(error_code_in(from_new_address), "rate_limited") << from_new_address;
    EXPECT_NE(from_new_address.find("retry_after_ms"), std::string::npos) << from_new_address;
    auto metrics = c->http("GET", "/metrics");
    EXPECT_NE(metrics.body.find("anxin_console_logins_rate_limited_total"), std::string::npos);
}

}  // namespace
