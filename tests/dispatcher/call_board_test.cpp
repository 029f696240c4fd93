#include "anxin/dispatcher/call_board.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <random>

namespace cv = anxin::console::v1;
using anxin::dispatcher::board_station;
using anxin::dispatcher::call_board;
using anxin::dispatcher::check_watch;
using anxin::dispatcher::surge_thresholds;

namespace {

constexpr std::int64_t t0 = 1'800'000'000'000;

std::string call_id(int n) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "C%07d", n);
    return buf;
}

cv::Call make_call(int n, int priority, const std::string& state, std::int64_t received_ms,
                   const std::string& station = "s1") {
    cv::Call c;
    c.set_id(call_id(n));
    c.set_priority(priority);
    c.set_state(state);
    c.set_received_ms(received_ms);
    c.set_alarm_type(priority == 1 ? "sos" : priority == 2 ? "inactivity" : "low_battery");
    c.set_station_id(station);
    c.set_station_name("Station " + station);
    c.add_tier_station_ids(station);
    if (state == "accepted") c.set_operator_id("op1");
    return c;
}

std::vector<std::string> ids(const cv::Board& b) {
    std::vector<std::string> out;
    for (const auto& l : b.calls()) out.push_back(l.id());
    return out;
}

void add_stations(call_board& b) {
    b.set_stations({{"s1", "Station s1", "North"},
                    {"s2", "Station s2", "North"},
                    {"s3", "Station s3", "South"}});
}

}  // namespace

TEST(CallBoard, BoardOrderIsPriorityThenWaitingThenOldestThenId) {
    call_board b;
    add_stations(b);
    b.apply(make_call(1, 3, "offered", t0 + 1), t0);
    b.apply(make_call(2, 1, "accepted", t0 + 2), t0);
    b.apply(make_call(3, 1, "offered", t0 + 5), t0);
    b.apply(make_call(4, 1, "received", t0 + 3), t0);
    b.apply(make_call(5, 2, "offered", t0 + 1), t0);
    b.apply(make_call(6, 1, "offered", t0 + 3), t0);  // same time as 4: by id
    auto board = b.query(cv::Watch(), t0);
    EXPECT_EQ(board.total(), 6u);
    EXPECT_EQ(ids(board), (std::vector<std::string>{call_id(4), call_id(6), call_id(3), call_id(2),
                                                    call_id(5), call_id(1)}));
    EXPECT_EQ(board.watch().limit(), 50u);
    EXPECT_EQ(board.calls(0).area(), "North");
    EXPECT_EQ(board.calls(0).station_name(), "Station s1");
    EXPECT_EQ(board.calls(0).tiers(), 1u);
}

TEST(CallBoard, CountsFollowEveryChange) {
    call_board b;
    add_stations(b);
    b.apply(make_call(1, 1, "offered", t0 + 10, "s1"), t0);
    b.apply(make_call(2, 1, "offered", t0 + 20, "s3"), t0);
    b.apply(make_call(3, 2, "offered", t0 + 5, "s2"), t0);
    b.apply(make_call(4, 3, "accepted", t0 + 1, "s3"), t0);
    auto s = b.summary(t0 + 100, {});
    EXPECT_EQ(s.open(), 4u);
    EXPECT_EQ(s.waiting(), 3u);
    EXPECT_EQ(s.accepted(), 1u);
    ASSERT_EQ(s.by_priority_size(), 3);
    EXPECT_EQ(s.by_priority(0).key(), "1");
    EXPECT_EQ(s.by_priority(0).waiting(), 2u);
    EXPECT_EQ(s.by_priority(0).emergencies(), 2u);
    EXPECT_EQ(s.by_priority(0).oldest_received_ms(), t0 + 10);
    EXPECT_EQ(s.by_priority(1).waiting(), 1u);
    EXPECT_EQ(s.by_priority(2).waiting(), 0u);  // the technical one is accepted
    EXPECT_EQ(s.by_priority(2).oldest_received_ms(), 0);
    // North: calls 1 (s1) and 3 (s2); South: call 2. Both have one emergency: more waiting first.
    ASSERT_EQ(s.by_area_size(), 2);
    EXPECT_EQ(s.by_area(0).key(), "North");
    EXPECT_EQ(s.by_area(0).waiting(), 2u);
    EXPECT_EQ(s.by_area(0).emergencies(), 1u);
    EXPECT_EQ(s.by_area(1).key(), "South");
    ASSERT_EQ(s.by_station_size(), 3);
    EXPECT_EQ(s.by_station(0).key(), "s1");  // one emergency each for s1 and s3: by key
    EXPECT_EQ(s.by_station(0).name(), "Station s1");
    EXPECT_EQ(s.by_station(1).key(), "s3");
    EXPECT_EQ(s.by_station(2).key(), "s2");
    EXPECT_EQ(s.oldest_waiting_call_id(), call_id(3));
    EXPECT_EQ(s.oldest_waiting_received_ms(), t0 + 5);
    EXPECT_EQ(s.oldest_emergency_call_id(), call_id(1));

    // Call 1 is accepted, call 2 moves to s1, call 3 closes.
    b.apply(make_call(1, 1, "accepted", t0 + 10, "s1"), t0);
    auto moved = make_call(2, 1, "offered", t0 + 20, "s1");
    moved.clear_tier_station_ids();
    moved.add_tier_station_ids("s3");
    moved.add_tier_station_ids("s1");
    b.apply(moved, t0);
    b.apply(make_call(3, 2, "closed", t0 + 5, "s2"), t0);
    s = b.summary(t0 + 100, {});
    EXPECT_EQ(s.open(), 3u);
    EXPECT_EQ(s.waiting(), 1u);
    EXPECT_EQ(s.accepted(), 2u);
    ASSERT_EQ(s.by_area_size(), 1);
    EXPECT_EQ(s.by_area(0).key(), "South");  // the area of its first tier, s3
    ASSERT_EQ(s.by_station_size(), 1);
    EXPECT_EQ(s.by_station(0).key(), "s1");  // its current station
    EXPECT_EQ(s.oldest_emergency_call_id(), call_id(2));
    EXPECT_EQ(b.size(), 3u);
}

TEST(CallBoard, FiltersAndPages) {
    call_board b;
    add_stations(b);
    int n = 0;
    for (int p = 1; p <= 3; ++p) {
        for (const char* st : {"s1", "s2", "s3"}) {
            for (int i = 0; i < 4; ++i) {
                ++n;
                b.apply(make_call(n, p, i == 3 ? "accepted" : "offered", t0 + n, st), t0);
            }
        }
    }
    cv::Watch w;
    EXPECT_EQ(b.query(w, t0).total(), 36u);
    w.add_priorities(1);
    w.add_priorities(3);
    EXPECT_EQ(b.query(w, t0).total(), 24u);
    w.set_state("waiting");
    auto board = b.query(w, t0);
    EXPECT_EQ(board.total(), 18u);
    for (const auto& l : board.calls()) {
        EXPECT_NE(l.priority(), 2);
        EXPECT_NE(l.state(), "accepted");
    }
    EXPECT_EQ(board.calls(0).priority(), 1);
    EXPECT_EQ(board.calls(17).priority(), 3);
    // Pages cross from priority 1 to priority 3 without gaps or repeats.
    w.set_limit(5);
    std::vector<std::string> paged;
    for (std::uint32_t off = 0; off < 20; off += 5) {
        w.set_offset(off);
        auto page = b.query(w, t0);
        EXPECT_EQ(page.total(), 18u);
        for (const auto& id : ids(page)) paged.push_back(id);
    }
    EXPECT_EQ(paged, ids(board));
    w.set_offset(100);
    EXPECT_EQ(b.query(w, t0).calls_size(), 0);

    cv::Watch south;
    south.set_area("South");
    EXPECT_EQ(b.query(south, t0).total(), 12u);
    south.set_state("accepted");
    EXPECT_EQ(b.query(south, t0).total(), 3u);
    cv::Watch s2;
    s2.set_station_id("s2");
    s2.add_priorities(2);
    EXPECT_EQ(b.query(s2, t0).total(), 4u);
    s2.set_area("South");  // s2 is in the North
    EXPECT_EQ(b.query(s2, t0).total(), 0u);
    s2.set_area("North");
    EXPECT_EQ(b.query(s2, t0).total(), 4u);
    cv::Watch nobody;
    nobody.set_station_id("s9");
    EXPECT_EQ(b.query(nobody, t0).total(), 0u);
}

TEST(CallBoard, MatchReturnsWaitingCallsOnly) {
    call_board b;
    add_stations(b);
    b.apply(make_call(1, 3, "offered", t0 + 3, "s1"), t0);
    b.apply(make_call(2, 3, "accepted", t0 + 1, "s1"), t0);
    b.apply(make_call(3, 3, "received", t0 + 2, "s3"), t0);
    b.apply(make_call(4, 1, "offered", t0 + 2, "s1"), t0);
    cv::Watch f;
    f.add_priorities(3);
    EXPECT_EQ(b.match(f, 1000), (std::vector<std::string>{call_id(3), call_id(1)}));
    EXPECT_EQ(b.match(f, 1), (std::vector<std::string>{call_id(3)}));
    f.set_area("North");
    EXPECT_EQ(b.match(f, 1000), (std::vector<std::string>{call_id(1)}));
    f.set_state("accepted");
    EXPECT_TRUE(b.match(f, 1000).empty());
    f.set_offset(5);  // ignored: bulk actions take every match
    f.set_state("");
    EXPECT_EQ(b.match(f, 1000).size(), 1u);
}

TEST(CallBoard, TombstonesKeepClosedCallsClosed) {
    call_board b;
    b.apply(make_call(1, 1, "offered", t0), t0);
    b.apply(make_call(1, 1, "accepted", t0), t0);
    b.apply(make_call(1, 1, "closed", t0), t0);
    EXPECT_EQ(b.size(), 0u);
    // A copy of an older state published by another instance arrives late.
    EXPECT_FALSE(b.apply(make_call(1, 1, "offered", t0), t0 + 10));
    EXPECT_EQ(b.size(), 0u);
    EXPECT_EQ(b.summary(t0, {}).open(), 0u);
    // A close seen before the call itself is remembered too.
    b.apply(make_call(2, 2, "closed", t0), t0);
    EXPECT_FALSE(b.apply(make_call(2, 2, "offered", t0), t0));
    EXPECT_EQ(b.query(cv::Watch(), t0).total(), 0u);
}

TEST(CallBoard, ResyncKeepsWhatIsNewerThanTheRead) {
    call_board b;
    add_stations(b);
    b.apply(make_call(1, 1, "offered", t0 + 1), t0);
    b.apply(make_call(2, 2, "offered", t0 + 2), t0);  // closed while this instance missed it
    b.apply(make_call(3, 3, "offered", t0 + 3), t0);
    const auto since = b.seq();
    // Applied while the snapshot was being read: newer than it.
    b.apply(make_call(3, 3, "accepted", t0 + 3), t0);
    b.apply(make_call(5, 1, "offered", t0 + 5), t0);
    std::vector<cv::Call> snapshot{make_call(1, 1, "accepted", t0 + 1),  // missed change
                                   make_call(3, 3, "offered", t0 + 3),   // older than the event
                                   make_call(4, 2, "offered", t0 + 4)};  // missed call
    b.resync(snapshot, since, t0 + 10);
    auto board = b.query(cv::Watch(), t0);
    EXPECT_EQ(ids(board),
              (std::vector<std::string>{call_id(5), call_id(1), call_id(4), call_id(3)}));
    EXPECT_EQ(board.calls(1).state(), "accepted");
    EXPECT_EQ(board.calls(3).state(), "accepted");
    // The dropped call stays gone when its late events come.
    EXPECT_FALSE(b.apply(make_call(2, 2, "offered", t0 + 2), t0 + 20));
    auto s = b.summary(t0 + 10, {});
    EXPECT_EQ(s.open(), 4u);
    EXPECT_EQ(s.waiting(), 2u);
}

TEST(CallBoard, ReceivedLastMinuteAndSurge) {
    call_board b;
    surge_thresholds t{10, 5};
    // 8 calls over the last minute, 3 two minutes ago (loaded late: not counted).
    for (int i = 0; i < 8; ++i) b.apply(make_call(i + 1, 3, "accepted", t0 - i * 7000), t0);
    for (int i = 0; i < 3; ++i) b.apply(make_call(20 + i, 3, "accepted", t0 - 120000), t0);
    auto s = b.summary(t0, t);
    EXPECT_EQ(s.received_last_minute(), 8u);
    EXPECT_FALSE(s.surge());
    EXPECT_EQ(s.surge_reason(), "");
    // Re-applying a call does not count it again.
    b.apply(make_call(1, 3, "offered", t0), t0);
    b.apply(make_call(30, 1, "offered", t0), t0);
    b.apply(make_call(31, 1, "offered", t0), t0);
    s = b.summary(t0, t);
    EXPECT_EQ(s.received_last_minute(), 10u);
    EXPECT_TRUE(s.surge());
    EXPECT_EQ(s.surge_reason(), "10 calls in the last minute (threshold 10)");
    // 30 s later the oldest five have left the window.
    EXPECT_EQ(b.received_last_minute(t0 + 30000), 7u);
    // Waiting above its threshold.
    for (int i = 0; i < 3; ++i) b.apply(make_call(40 + i, 2, "offered", t0 - 200000), t0);
    s = b.summary(t0 + 61000, t);
    EXPECT_EQ(s.received_last_minute(), 0u);
    EXPECT_EQ(s.waiting(), 6u);
    EXPECT_TRUE(s.surge());
    EXPECT_EQ(s.surge_reason(), "6 calls waiting (threshold 5)");
}

TEST(CallBoard, StationsChangeAreasOfCallsHeld) {
    call_board b;
    b.apply(make_call(1, 1, "offered", t0, "s1"), t0);
    cv::Watch north;
    north.set_area("North");
    EXPECT_EQ(b.query(north, t0).total(), 0u);
    EXPECT_EQ(b.summary(t0, {}).by_area(0).key(), "");
    b.set_stations({{"s1", "Station s1", "North"}});
    EXPECT_EQ(b.query(north, t0).total(), 1u);
    EXPECT_EQ(b.summary(t0, {}).by_area(0).key(), "North");
    b.clear();
    EXPECT_EQ(b.size(), 0u);
    EXPECT_EQ(b.summary(t0, {}).open(), 0u);
}

TEST(CallBoard, CommandCentreCallsCountUnderTheCommandCentre) {
    call_board b;
    auto c = make_call(1, 1, "offered", t0, "");
    c.clear_tier_station_ids();
    c.set_at_command_centre(true);
    c.set_station_name("Command centre");
    b.apply(c, t0);
    auto s = b.summary(t0, {});
    ASSERT_EQ(s.by_station_size(), 1);
    EXPECT_EQ(s.by_station(0).key(), "@cc");
    EXPECT_EQ(s.by_station(0).name(), "Command centre");
    EXPECT_TRUE(b.query(cv::Watch(), t0).calls(0).at_command_centre());
}

TEST(CallBoard, WatchValidation) {
    cv::Watch w;
    EXPECT_EQ(check_watch(w), "");
    EXPECT_EQ(anxin::dispatcher::watch_limit(w), 50u);
    w.set_limit(200);
    EXPECT_EQ(check_watch(w), "");
    w.set_limit(201);
    EXPECT_NE(check_watch(w), "");
    w.set_limit(1);
    w.add_priorities(4);
    EXPECT_NE(check_watch(w), "");
    w.clear_priorities();
    w.add_priorities(0);
    EXPECT_NE(check_watch(w), "");
    w.clear_priorities();
    w.set_station_id("bad id!");
    EXPECT_NE(check_watch(w), "");
    w.set_station_id("s1");
    w.set_state("closed");
    EXPECT_NE(check_watch(w), "");
    w.set_state("accepted");
    EXPECT_EQ(check_watch(w), "");
}

// 10,000 open calls, then a stream of changes: every answer agrees with a brute-force count, and
// a query stays cheap.
TEST(CallBoard, TenThousandCalls) {
    call_board b;
    add_stations(b);
    std::mt19937 rng(14);
    const char* stations[] = {"s1", "s2", "s3"};
    struct truth {
        int priority;
        std::string state;
        std::int64_t received;
        std::string station;
    };
    std::map<std::string, truth> open;
    for (int i = 1; i <= 10000; ++i) {
        truth t{static_cast<int>(rng() % 3) + 1, rng() % 4 == 0 ? "accepted" : "offered",
                t0 + static_cast<std::int64_t>(rng() % 100000), stations[rng() % 3]};
        b.apply(make_call(i, t.priority, t.state, t.received, t.station), t0);
        open[call_id(i)] = t;
    }
    for (int i = 0; i < 5000; ++i) {
        int n = static_cast<int>(rng() % 10000) + 1;
        auto it = open.find(call_id(n));
        if (it == open.end()) continue;
        auto& t = it->second;
        switch (rng() % 3) {
            case 0:
                b.apply(make_call(n, t.priority, "closed", t.received, t.station), t0);
                open.erase(it);
                break;
            case 1:
                t.state = t.state == "accepted" ? "offered" : "accepted";
                b.apply(make_call(n, t.priority, t.state, t.received, t.station), t0);
                break;
            default:
                t.station = stations[rng() % 3];
                b.apply(make_call(n, t.priority, t.state, t.received, t.station), t0);
        }
    }
    std::uint32_t waiting = 0, emergencies_waiting = 0, south_waiting = 0;
    std::vector<std::pair<std::tuple<int, int, std::int64_t>, std::string>> order;
    for (const auto& [id, t] : open) {
        bool w = t.state != "accepted";
        waiting += w;
        emergencies_waiting += w && t.priority == 1;
        south_waiting += w && t.station == "s3";
        order.push_back({{t.priority, w ? 0 : 1, t.received}, id});
    }
    std::sort(order.begin(), order.end());
    auto s = b.summary(t0, {});
    EXPECT_EQ(s.open(), open.size());
    EXPECT_EQ(s.waiting(), waiting);
    EXPECT_EQ(s.by_priority(0).waiting(), emergencies_waiting);
    for (const auto& a : s.by_area()) {
        if (a.key() == "South") {
            EXPECT_EQ(a.waiting(), south_waiting);
        }
    }
    EXPECT_TRUE(s.surge());  // thousands waiting
    // A page deep in the list is the brute-force order's slice.
    cv::Watch w;
    w.set_offset(6000);
    w.set_limit(200);
    const auto started = std::chrono::steady_clock::now();
    cv::Board page;
    for (int i = 0; i < 100; ++i) page = b.query(w, t0);
    const auto took = std::chrono::steady_clock::now() - started;
    EXPECT_EQ(page.total(), open.size());
    ASSERT_EQ(page.calls_size(), std::min<int>(200, static_cast<int>(open.size()) - 6000));
    for (int i = 0; i < page.calls_size(); ++i)
        EXPECT_EQ(page.calls(i).id(), order[6000 + i].second);
    std::printf("100 queries of 200 lines at offset 6000 of %zu open calls: %.2f ms\n", open.size(),
                std::chrono::duration<double, std::milli>(took).count());
}
