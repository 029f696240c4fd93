// The HTTP port as an attacker meets it: HTTPS only (plaintext redirected), nothing read before
// authorisation (a stranger's large bodies never reach memory), /metrics behind a token or on its
// own address, reports and searches read a page at a time.

#include "test_cluster.hpp"

#include "admin.pb.h"

#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <set>
#include <thread>

namespace asio = boost::asio;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

class Https : public anxin::test::cluster_test {};

// Connects a plain TCP socket to 127.0.0.1:port.
asio::ip::tcp::socket tcp_to(asio::io_context& io, unsigned short port) {
    asio::ip::tcp::socket s(io);
    s.connect({asio::ip::make_address("127.0.0.1"), port});
    return s;
}

// Everything the peer sends until it closes (or 10 s pass).
std::string read_all(asio::ip::tcp::socket& s) {
    std::string out;
    char buf[4096];
    const auto until = std::chrono::steady_clock::now() + 10s;
    s.non_blocking(true);
    while (std::chrono::steady_clock::now() < until) {
        boost::system::error_code ec;
        auto n = s.read_some(asio::buffer(buf), ec);
        if (ec == asio::error::would_block) {
            std::this_thread::sleep_for(5ms);
            continue;
        }
        if (ec) break;
        out.append(buf, n);
    }
    return out;
}

TEST_F(Https, ServesTheApiAndConsoleOverTlsWithHstsAndRedirectsPlaintext) {
    start_cluster();
    auto& d = c->dispatcher();
    // HTTPS, verified against the generated CA, with HSTS.
    auto r = d.https("GET", "/healthz");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_NE(r.header("strict-transport-security").find("max-age="), std::string::npos)
        << r.headers;
    auto page = d.https("GET", "/");
    ASSERT_EQ(page.status, 200);
    const auto csp = page.header("content-security-policy");
    EXPECT_NE(csp.find("connect-src 'self';"), std::string::npos) << csp;
    EXPECT_EQ(csp.find("ws:"), std::string::npos) << csp;
    EXPECT_EQ(csp.find("http:"), std::string::npos) << csp;
    // A console over WSS (the harness's consoles all are).
    auto op = c->console("op-a1");
    ASSERT_TRUE(op);

    // Plaintext on the HTTPS port: a GET is redirected to https://, a POST is refused, and
    // neither is served.
    auto plain = anxin::sim::http_request("127.0.0.1", d.http_port(), "GET", "/index.html", "", "");
    EXPECT_EQ(plain.status, 301);
    EXPECT_EQ(plain.header("location"), "https://127.0.0.1/index.html");
    auto post = anxin::sim::http_request("127.0.0.1", d.http_port(), "POST", "/api/provision",
                                         anxin::test::district_json(), c->admin_token());
    EXPECT_EQ(post.status, 400);
    EXPECT_NE(post.body.find("https_required"), std::string::npos) << post.body;
    // The same port and path work over plaintext only where asked for (--plain-http-port).
    EXPECT_EQ(anxin::sim::http_request("127.0.0.1", d.plain_http_port(), "GET", "/healthz", "", "")
                  .status,
              200);
    auto m = d.https("GET", "/metrics", "", c->admin_token());
    EXPECT_NE(m.body.find("anxin_http_plain_redirected_total 2"), std::string::npos) << m.body;
}

// The attack from the issue: connections without a token each sending a 64 MiB body. Each is
// answered 401 from its headers and closed; the dispatcher's memory does not grow with the bodies.
TEST_F(Https, ReadsNoBodyBeforeAuthorising) {
    start_cluster();
    auto& d = c->dispatcher();
    const long rss_before = d.rss_kb();
    const auto stations_before = c->redis().integer_command("SCARD anx:stations");
    constexpr int attackers = 16;
    const std::string chunk(1 << 20, 'x');
    std::size_t sent_total = 0;
    int answered_401 = 0;
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<std::thread> threads;
    std::mutex mu;
    for (int i = 0; i < attackers; ++i) {
        threads.emplace_back([&, i] {
            asio::io_context tio;
            auto s = tcp_to(tio, d.plain_http_port());
            const std::string head = "POST " +
                                     std::string(i % 2 ? "/api/provision" : "/api/stations") +
                                     " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                     "Content-Length: 67108863\r\n\r\n";
            boost::system::error_code ec;
            asio::write(s, asio::buffer(head), ec);
            std::size_t sent = 0;
            while (!ec && sent < 67108863 - chunk.size())
                sent += asio::write(s, asio::buffer(chunk), ec);
            // The server answered and closed on us mid-body; its answer is still readable
            // (unless the reset of the close overtook it).
            const std::string reply = read_all(s);
            std::lock_guard lock(mu);
            sent_total += sent;
            if (reply.rfind("HTTP/1.1 401", 0) == 0) ++answered_401;
        });
    }
    // Sample the dispatcher's RSS while the attackers run.
    long rss_peak = rss_before;
    for (int i = 0; i < 50; ++i) {
        rss_peak = std::max(rss_peak, d.rss_kb());
        std::this_thread::sleep_for(20ms);
    }
    for (auto& t : threads) t.join();
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    rss_peak = std::max(rss_peak, d.rss_kb());
    std::printf(
        "[ figures ] %d unauthenticated 64 MiB bodies: dispatcher RSS %ld -> peak %ld KiB "
        "(+%ld KiB); %.1f MiB of body bytes got into the socket before the close, in %.2f s; "
        "%d answered 401\n",
        attackers, rss_before, rss_peak, rss_peak - rss_before, sent_total / 1048576.0, secs,
        answered_401);
    // Before: +456 MB for 8 such connections. Now the bodies are never read: a few MiB at most
    // (socket buffers, the TLS context, the allocator).
    EXPECT_LT(rss_peak - rss_before, 32 * 1024);
    EXPECT_TRUE(d.running());
    // Nothing was provisioned.
    EXPECT_EQ(c->redis().integer_command("SCARD anx:stations"), stations_before);
    // An honest client that sends a modest body with a wrong token reads the 401 (the server
    // drains a little before closing) rather than a reset.
    auto wrong = d.https("POST", "/api/provision", std::string(300'000, ' '), "wrong-token-12345");
    EXPECT_EQ(wrong.status, 401) << wrong.body;
    // A session token that may not provision is refused (403) before its body too.
    anxin::sim::console_link sup(c->io);
    sup.use_tls(d.client_tls());
    ASSERT_TRUE(sup.connect("127.0.0.1", d.http_port(), 5s)) << sup.error();
    auto ok = sup.login("sup-1", anxin::test::operator_password, 10s);
    ASSERT_TRUE(ok && ok->has_login_ok());
    const std::string sup_token = ok->login_ok().session_token();
    auto forbidden = d.https("POST", "/api/provision", std::string(200'000, ' '), sup_token);
    EXPECT_EQ(forbidden.status, 403) << forbidden.body;
    // The admin token on a route that takes no body: over 4 KiB is refused.
    auto too_large = d.https("GET", "/api/stations", std::string(5000, ' '), c->admin_token());
    EXPECT_EQ(too_large.status, 413) << too_large.body;
    // ...and provisioning, which does take a large body, still works.
    EXPECT_EQ(c->http("POST", "/api/provision", anxin::test::district_json()).status, 200);
    auto m = d.https("GET", "/metrics", "", c->admin_token());
    EXPECT_NE(m.body.find("anxin_http_unauthorized_total"), std::string::npos);
    EXPECT_NE(m.body.find("anxin_http_bodies_too_large_total 1"), std::string::npos) << m.body;
}

TEST_F(Https, MetricsNeedATokenOrTheirOwnAddress) {
    const auto token_file =
        fs::path(::testing::TempDir()) / ("anx-metrics-token-" + std::to_string(::getpid()));
    std::ofstream(token_file) << "metrics-token-0123456789abcdef\n";
    const auto metrics_port = std::to_string(anxin::test::free_port());
    start_cluster({"--metrics-token-file", token_file.string(), "--metrics-listen",
                   "127.0.0.1:" + metrics_port});
    auto& d = c->dispatcher();
    EXPECT_EQ(d.https("GET", "/metrics").status, 401);
    EXPECT_EQ(d.https("GET", "/metrics", "", "wrong-token-0123456789").status, 401);
    auto with_admin = d.https("GET", "/metrics", "", c->admin_token());
    EXPECT_EQ(with_admin.status, 200);
    EXPECT_NE(with_admin.body.find("anxin_device_connections"), std::string::npos);
    auto with_metrics = d.https("GET", "/metrics", "", "metrics-token-0123456789abcdef");
    EXPECT_EQ(with_metrics.status, 200);
    // The metrics token reads nothing else.
    EXPECT_EQ(d.https("GET", "/api/stations", "", "metrics-token-0123456789abcdef").status, 403);
    EXPECT_EQ(d.https("GET", "/api/overview", "", "metrics-token-0123456789abcdef").status, 403);
    // The metrics address: /metrics without a token, and nothing but /metrics and /healthz.
    const auto mp = static_cast<unsigned short>(std::stoi(metrics_port));
    auto scraped = anxin::sim::http_request("127.0.0.1", mp, "GET", "/metrics", "", "");
    EXPECT_EQ(scraped.status, 200);
    EXPECT_NE(scraped.body.find("anxin_device_connections"), std::string::npos);
    EXPECT_EQ(
        anxin::sim::http_request("127.0.0.1", mp, "GET", "/api/stations", "", c->admin_token())
            .status,
        404);
    EXPECT_EQ(anxin::sim::http_request("127.0.0.1", mp, "GET", "/", "", "").status, 404);
    fs::remove(token_file);
}

// 2,500 past calls, many received in the same millisecond: the search pages through all of them,
// newest first, each exactly once; the report counts them all.
TEST_F(Https, SearchPagesThroughTheRangeAndReportsCountItAll) {
    start_cluster();
    auto* r = c->redis().client();
    const long long base = 1'700'000'000'000LL;
    constexpr int n = 2500;
    for (int i = 0; i < n; ++i) {
        const long long t = base + (i / 7) * 1000;  // 7 calls per millisecond
        const std::string id = "P" + std::to_string(100000 + i);
        redisAppendCommand(r, "ZADD anx:calls:by_time %lld %s", t, id.c_str());
        redisAppendCommand(r,
                           "HSET anx:call:%s state closed type %s priority 1 station st-a "
                           "resident res-1 received_ms %lld outcome resolved_by_phone",
                           id.c_str(), i % 5 == 0 ? "fall" : "sos", t);
    }
    for (int i = 0; i < 2 * n; ++i) {
        void* reply = nullptr;
        ASSERT_EQ(redisGetReply(r, &reply), REDIS_OK);
        freeReplyObject(reply);
    }
    const std::string range =
        "from=" + std::to_string(base) + "&to=" + std::to_string(base + 1'000'000);
    // Every call, 97 at a time.
    std::vector<std::string> seen;
    std::string cursor;
    int pages = 0;
    do {
        auto page = c->http("GET", "/api/calls?" + range + "&limit=97" +
                                       (cursor.empty() ? "" : "&cursor=" + cursor));
        ASSERT_EQ(page.status, 200) << page.body;
        anxin::admin::v1::CallList list;
        ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(page.body, &list).ok());
        for (const auto& call : list.calls()) seen.push_back(call.id());
        cursor = list.next_cursor();
        ASSERT_LT(++pages, 100);
    } while (!cursor.empty());
    ASSERT_EQ(seen.size(), static_cast<std::size_t>(n));
    EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()).size(), static_cast<std::size_t>(n));
    // Newest first: the last call stored is the first seen.
    EXPECT_EQ(seen.front().substr(0, 5), "P1024");
    // With q: only falls, all of them.
    int falls = 0;
    cursor.clear();
    do {
        auto page = c->http("GET", "/api/calls?" + range + "&q=fall&limit=50" +
                                       (cursor.empty() ? "" : "&cursor=" + cursor));
        ASSERT_EQ(page.status, 200) << page.body;
        anxin::admin::v1::CallList list;
        ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(page.body, &list).ok());
        for (const auto& call : list.calls()) {
            EXPECT_EQ(call.alarm_type(), "fall");
            ++falls;
        }
        cursor = list.next_cursor();
    } while (!cursor.empty());
    EXPECT_EQ(falls, n / 5);
    auto bad = c->http("GET", "/api/calls?" + range + "&cursor=12.x");
    EXPECT_EQ(bad.status, 400);
    EXPECT_NE(bad.body.find("bad_cursor"), std::string::npos);
    auto report = c->http("GET", "/api/reports?" + range);
    ASSERT_EQ(report.status, 200) << report.body;
    EXPECT_NE(report.body.find("\"calls\":2500"), std::string::npos) << report.body.substr(0, 300);
    EXPECT_NE(report.body.find("\"truncated\":false"), std::string::npos);
}

}  // namespace
