// The console feed in a backlog (issue 14): a real dispatcher and Redis, a couple of hundred
// calls waiting at one station. Operators are sent offers for the 20 most urgent only, with a
// `queue` count of all of them; when a shown offer is taken the next one comes, a held one that
// leaves is never mentioned; frames stay at ~10 a second per console; a supervisor watching
// every call (all_calls) gets its call_changed events coalesced in batches.

#include "test_cluster.hpp"

#include "anxin/sim/console_link.hpp"

#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/websocket.hpp>

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>
#include <tuple>

using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace dv = anxin::device::v1;
namespace cv = anxin::console::v1;
using anxin::test::make_alarm;
using anxin::test::wait_for;
using clock_type = std::chrono::steady_clock;

namespace {

// A console on a bare WebSocket, to see the frames themselves (console_link unpacks batches).
struct raw_feed {
    struct frame {
        clock_type::time_point at;
        std::string text;
    };
    asio::io_context io;
    websocket::stream<beast::tcp_stream> ws{io};
    beast::flat_buffer buf;
    std::vector<frame> frames;
    bool reading = false;

    bool open(unsigned short port) {
        boost::system::error_code ec;
        beast::get_lowest_layer(ws).connect(
            asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), ec);
        if (ec) return false;
        ws.handshake("127.0.0.1", "/console", ec);
        return !ec;
    }
    bool send(const std::string& text) {
        boost::system::error_code ec;
        ws.write(asio::buffer(text), ec);
        return !ec;
    }
    void read_next() {
        reading = true;
        ws.async_read(buf, [this](boost::system::error_code ec, std::size_t) {
            reading = false;
            if (ec) return;
            frames.push_back({clock_type::now(), beast::buffers_to_string(buf.data())});
            buf.consume(buf.size());
            read_next();
        });
    }
    // Receives whatever arrives for `d`.
    void run_for(clock_type::duration d) {
        if (!reading) read_next();
        io.restart();
        io.run_for(d);
    }
};

// The events of a frame, in order.
std::vector<cv::ConsoleEvent> events_of(const std::string& frame) {
    std::vector<std::string_view> texts;
    if (!anxin::sim::split_batch(frame, texts)) texts.assign(1, frame);
    std::vector<cv::ConsoleEvent> out;
    google::protobuf::util::JsonParseOptions po;
    po.ignore_unknown_fields = true;
    for (auto t : texts) {
        cv::ConsoleEvent ev;
        if (google::protobuf::util::JsonStringToMessage(std::string(t), &ev, po).ok())
            out.push_back(std::move(ev));
    }
    return out;
}

// What an operator's screen shows: the offers sent and not withdrawn, and the last queue count.
struct screen {
    std::set<std::string> shown;
    std::vector<std::string> offers;                             // every offer received, in order
    std::vector<std::pair<std::string, std::string>> withdrawn;  // (call, reason)
    std::vector<std::string> accepted;
    std::uint32_t queue_offered = 0, queue_shown = 0;
    int queue_events = 0;

    void apply(const cv::ConsoleEvent& e) {
        if (e.has_offer()) {
            offers.push_back(e.offer().call().id());
            shown.insert(e.offer().call().id());
        } else if (e.has_withdrawn()) {
            withdrawn.emplace_back(e.withdrawn().call_id(), e.withdrawn().reason());
            shown.erase(e.withdrawn().call_id());
        } else if (e.has_accepted()) {
            accepted.push_back(e.accepted().call().id());
            shown.erase(e.accepted().call().id());
        } else if (e.has_queue()) {
            queue_offered = e.queue().offered();
            queue_shown = e.queue().shown();
            ++queue_events;
        }
    }
    // Applies everything that arrives for `d`.
    void drain(anxin::sim::console_link& link, std::chrono::milliseconds d) {
        const auto until = clock_type::now() + d;
        while (clock_type::now() < until) {
            auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(until - clock_type::now());
            if (auto e = link.receive(std::max(left, 1ms))) apply(*e);
        }
    }
    // Applies what arrives until done() holds (true) or `timeout` passes (false).
    template <class Done>
    bool drain_until(anxin::sim::console_link& link, Done done, std::chrono::milliseconds timeout) {
        const auto until = clock_type::now() + timeout;
        while (!done() && clock_type::now() < until) {
            if (auto e = link.receive(100ms)) apply(*e);
        }
        return done();
    }
    bool saw_withdrawn_of(const std::string& call) const {
        return std::any_of(withdrawn.begin(), withdrawn.end(),
                           [&](const auto& w) { return w.first == call; });
    }
};

class ConsoleFeed : public anxin::test::cluster_test {
  protected:
    void SetUp() override {
        // Nothing moves on its own during the test: no escalation, nobody set away.
        start_cluster(
            {"--tier-timeout", "600", "--escalation-limit", "900", "--missed-offers", "1000000"});
    }
    std::string press(anxin::sim::device_link& dev, std::uint32_t seq, dv::AlarmType type) {
        if (!dev.send(make_alarm(seq, type))) return {};
        auto ack = wait_for(dev, [](const dv::ServerMessage& m) { return m.has_alarm_ack(); });
        return ack ? ack->alarm_ack().call_id() : std::string();
    }
    double metric(const std::string& name) {
        auto body = c->http("GET", "/metrics").body;
        auto p = body.find("\n" + name + " ");
        return p == std::string::npos ? -1.0 : std::stod(body.substr(p + name.size() + 2));
    }
    // Presses `n` alarms at st-a (dev-1 and dev-3 in turn; every 7th an SOS, the others
    // technical); the calls and their priorities.
    std::map<std::string, int> press_many(int n, std::uint32_t first_seq) {
        std::map<std::string, int> calls;
        for (int i = 0; i < n; ++i) {
            auto& dev = i % 2 ? *d3 : *d1;
            const bool sos = i % 7 == 3;
            auto id = press(dev, first_seq + static_cast<std::uint32_t>(i / 2),
                            sos ? dv::SOS : dv::TAMPER);
            EXPECT_FALSE(id.empty()) << "press " << i;
            calls[id] = sos ? 1 : 3;
        }
        return calls;
    }
    // The calls in the window's order (priority, received_ms from the store, id).
    std::vector<std::string> by_urgency(const std::map<std::string, int>& calls) {
        std::vector<std::tuple<int, long long, std::string>> v;
        for (const auto& [id, prio] : calls)
            v.emplace_back(prio, std::stoll(c->redis().hget("anx:call:" + id, "received_ms")), id);
        std::sort(v.begin(), v.end());
        std::vector<std::string> out;
        for (auto& t : v) out.push_back(std::get<2>(t));
        return out;
    }
    std::unique_ptr<anxin::sim::device_link> d1, d3;
};

TEST_F(ConsoleFeed, OperatorsSeeTheTwentyMostUrgentOffersAndTheNextWhenOneLeaves) {
    auto a1 = c->console("op-a1");
    ASSERT_TRUE(a1);
    d1 = c->device("dev-1");
    d3 = c->device("dev-3");
    ASSERT_TRUE(d1 && d3);
    const double frames0 = metric("anxin_console_frames_sent_total");
    const double bytes0 = metric("anxin_console_bytes_sent_total");
    const auto t0 = clock_type::now();
    auto calls = press_many(200, 1);
    ASSERT_EQ(calls.size(), 200u);
    screen s1;
    s1.drain(*a1, 1500ms);
    const double secs = std::chrono::duration<double>(clock_type::now() - t0).count();
    const auto order = by_urgency(calls);
    const std::set<std::string> top20(order.begin(), order.begin() + 20);

    // Operator 1, logged in while the calls came: the 20 most urgent, and the count of all.
    EXPECT_EQ(s1.shown, top20);
    EXPECT_EQ(s1.queue_offered, 200u);
    EXPECT_EQ(s1.queue_shown, 20u);
    // Emergencies arriving after the window was full pushed technical calls out ("queued").
    EXPECT_FALSE(s1.withdrawn.empty());
    for (const auto& [id, reason] : s1.withdrawn) EXPECT_EQ(reason, "queued") << id;
    EXPECT_LT(s1.offers.size(), 60u);
    const double frames = metric("anxin_console_frames_sent_total") - frames0;
    const double bytes = metric("anxin_console_bytes_sent_total") - bytes0;
    const double max_fps = metric("anxin_console_max_frames_per_second");
    std::printf(
        "[ figure ] 200 calls pressed in %.1f s at one station: operator sent %zu offers (%zu "
        "withdrawn as queued), %d queue events; all consoles: %.0f frames, %.0f bytes "
        "(%.1f frames/s, %.0f bytes/s); busiest console %.0f frames/s, %.0f bytes/s\n",
        secs, s1.offers.size(), s1.withdrawn.size(), s1.queue_events, frames, bytes, frames / secs,
        bytes / secs, max_fps, metric("anxin_console_max_bytes_per_second"));
    // 10 pushed frames a second, plus answers to requests.
    EXPECT_LE(max_fps, 12);
    EXPECT_GT(max_fps, 0);
    EXPECT_EQ(metric("anxin_console_offers_held"), 180);
    // Held back on arrival: all but the first 20 calls (3 SOS among them) and the 17 later SOS,
    // each shown at once in place of a technical call.
    EXPECT_EQ(metric("anxin_console_offers_held_back_total"), 200 - 20 - 17);

    // Operator 2 logs in now: the resend at login goes through the same window.
    auto a2 = c->console("op-a2");
    ASSERT_TRUE(a2);
    screen s2;
    s2.drain(*a2, 1500ms);
    EXPECT_EQ(s2.shown, top20);
    EXPECT_EQ(s2.queue_offered, 200u);
    EXPECT_EQ(s2.queue_shown, 20u);
    std::printf(
        "[ figure ] operator logging in with 200 calls waiting: %zu offers, %zu withdrawn\n",
        s2.offers.size(), s2.withdrawn.size());

    // Operator 1 takes the most urgent call. Operator 2 gets its withdrawal and the 21st call.
    // Operator 1, busy now, has all the others withdrawn ("reassigned"): only those it was
    // shown are mentioned.
    cv::ConsoleRequest accept;
    accept.set_req("take");
    accept.mutable_accept()->set_call_id(order[0]);
    ASSERT_TRUE(a1->send(accept));
    const auto withdrawn_before = s1.withdrawn.size();
    EXPECT_TRUE(s1.drain_until(
        *a1, [&] { return s1.queue_offered == 0; }, 10s));
    s1.drain(*a1, 300ms);
    s2.drain(*a2, 500ms);
    ASSERT_EQ(s1.accepted, std::vector<std::string>{order[0]});
    EXPECT_TRUE(s1.shown.empty());
    EXPECT_EQ(s1.queue_offered, 0u);
    EXPECT_EQ(s1.queue_shown, 0u);
    // Only the 19 other shown offers are withdrawn: at its limit of calls held the console is
    // sent no next offer, and none of the 180 held is mentioned.
    EXPECT_EQ(s1.withdrawn.size() - withdrawn_before, 19u);
    for (auto i = withdrawn_before; i < s1.withdrawn.size(); ++i) {
        EXPECT_EQ(s1.withdrawn[i].second, "reassigned");
        EXPECT_NE(std::find(s1.offers.begin(), s1.offers.end(), s1.withdrawn[i].first),
                  s1.offers.end())
            << s1.withdrawn[i].first << " was withdrawn but never offered";
    }
    std::set<std::string> next20(order.begin() + 1, order.begin() + 21);
    EXPECT_EQ(s2.shown, next20);
    EXPECT_TRUE(s2.saw_withdrawn_of(order[0]));
    EXPECT_EQ(s2.queue_offered, 199u);
    EXPECT_EQ(s2.queue_shown, 20u);

    // A held call leaves (a supervisor takes it): operator 2 hears of it only in the count.
    const std::string held = order[100];
    auto sup = c->console("sup-1");
    ASSERT_TRUE(sup);
    cv::ConsoleRequest take_held;
    take_held.set_req("sup");
    take_held.mutable_accept()->set_call_id(held);
    ASSERT_TRUE(sup->send(take_held));
    ASSERT_TRUE(wait_for(*sup, [](const cv::ConsoleEvent& e) { return e.has_accepted(); }));
    s2.drain(*a2, 1000ms);
    EXPECT_FALSE(s2.saw_withdrawn_of(held));
    EXPECT_EQ(s2.queue_offered, 198u);
    EXPECT_EQ(s2.shown, next20);
    EXPECT_EQ(metric("anxin_console_offers_held"), 178);

    // Accepting a call that was never shown still works (the store checks the offer).
    cv::ConsoleRequest take_unseen;
    take_unseen.set_req("unseen");
    take_unseen.mutable_accept()->set_call_id(order[150]);
    ASSERT_TRUE(a2->send(take_unseen));
    EXPECT_TRUE(s2.drain_until(
        *a2, [&] { return s2.queue_offered == 0; }, 10s));
    EXPECT_EQ(s2.accepted, std::vector<std::string>{order[150]});
    EXPECT_EQ(s2.queue_offered, 0u);
    EXPECT_TRUE(s2.shown.empty());
}

TEST_F(ConsoleFeed, SupervisorWatchingEveryCallGetsCoalescedBatches) {
    auto a1 = c->console("op-a1");
    ASSERT_TRUE(a1);
    d1 = c->device("dev-1");
    d3 = c->device("dev-3");
    ASSERT_TRUE(d1 && d3);
    auto calls = press_many(150, 1);

    raw_feed sup;
    ASSERT_TRUE(sup.open(c->dispatcher().plain_http_port()));
    ASSERT_TRUE(sup.send(std::string(R"({"req":"in","login":{"operator_id":"sup-1","password":")") +
                         anxin::test::operator_password + R"(","all_calls":true}})"));
    sup.run_for(1500ms);
    // More calls while it watches; each is stored, offered and changed several times over.
    for (auto& [id, prio] : press_many(150, 1000)) calls[id] = prio;
    for (int i = 0; i < 10; ++i) sup.run_for(100ms);
    sup.run_for(1500ms);
    ASSERT_FALSE(sup.frames.empty());
    const double secs =
        std::chrono::duration<double>(sup.frames.back().at - sup.frames.front().at).count();

    std::set<std::string> seen;
    std::size_t events = 0, bytes = 0, batches = 0, max_in_frame = 0;
    std::map<std::string, int> changes_of;
    bool logged_in = false;
    for (const auto& f : sup.frames) {
        auto evs = events_of(f.text);
        ASSERT_FALSE(evs.empty()) << f.text.substr(0, 200);
        events += evs.size();
        bytes += f.text.size();
        batches += f.text.starts_with(R"({"batch":)") ? 1 : 0;
        max_in_frame = std::max(max_in_frame, evs.size());
        for (const auto& e : evs) {
            logged_in |= e.has_login_ok();
            if (e.has_call_changed()) {
                seen.insert(e.call_changed().call().id());
                ++changes_of[e.call_changed().call().id()];
            }
        }
    }
    ASSERT_TRUE(logged_in);
    // Every open call was shown, the last version of each at least once.
    for (const auto& [id, prio] : calls) EXPECT_TRUE(seen.count(id)) << id;
    EXPECT_GT(batches, 0u);
    EXPECT_GT(max_in_frame, 10u);
    // Frames at most every 100 ms (plus the login answer), whatever the number of changes.
    EXPECT_LE(static_cast<double>(sup.frames.size()), secs * 10 + 3);
    EXPECT_LE(metric("anxin_console_max_frames_per_second"), 12);
    std::printf(
        "[ figure ] supervisor (all_calls) over %.1f s, 300 calls: %zu frames (%.1f/s), %zu "
        "events (%zu batches, up to %zu events in one), %zu bytes (%.0f bytes/s); events "
        "coalesced away in all: %.0f\n",
        secs, sup.frames.size(), sup.frames.size() / std::max(secs, 0.001), events, batches,
        max_in_frame, bytes, bytes / std::max(secs, 0.001),
        metric("anxin_console_events_coalesced_total"));
}

}  // namespace
