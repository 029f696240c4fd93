#pragma once
// The supervisors' board: an index of the district's open calls, built from console `Call`
// messages (call_changed events and loads from the store), answering `Summary` and `Board`
// (protocol/console.proto, Watch) without walking every open call. Pure code: no I/O, no clock
// (every time is passed in), so a test drives it call by call.
//
// What it holds: each open call's latest state as last applied (a closed call leaves), its area
// (the area of its first-tier station, else of its current station; set_stations), and
// tombstones of closed calls, so that a late copy of an older state cannot bring a closed call
// back (calls never reopen). Across instances events may still arrive out of order between two
// open states (offered after accepted): the latest applied wins until the next resync corrects it.
//
// Costs (n open calls, k calls returned, g groups = areas or stations with waiting calls):
//   apply / remove           O(log n) (one ordered tree per index, a few counters)
//   query(Watch)             O(log n + k): each filter is an ordered tree (all calls, per area,
//                            per station, per area and station) whose board order starts with
//                            priority then waiting/accepted, so the priorities and state of a
//                            watch are at most three contiguous ranks; offset by rank.
//   match(Watch, max)        O(log n + max), likewise
//   summary(now, thresholds) O(g log g): counters kept per priority, area and station
//   resync(snapshot)         O(n log n); set_stations O(n log n) when the directory changed
//
// Threading: none of its own; one owner (board_feed, on the io thread).

#include "console.pb.h"

#include <array>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

namespace anxin::dispatcher {

struct board_station {
    std::string id;
    std::string name;
    std::string area;
};

struct surge_thresholds {
    std::uint32_t calls_per_minute = 120;  // received_last_minute at or above: surge
    std::uint32_t waiting = 200;           // waiting calls at or above: surge
};

inline constexpr std::uint32_t default_watch_limit = 50;
inline constexpr std::uint32_t max_watch_limit = 200;
inline constexpr std::size_t max_summary_stations = 200;

// Checks a Watch from a console: priorities 1..3, limit 0..200, station id a valid id, area at
// most 200 bytes, state "", "waiting" or "accepted". Returns what is wrong, or empty.
std::string check_watch(const anxin::console::v1::Watch& w);
// The limit a watch means (0: default_watch_limit).
std::uint32_t watch_limit(const anxin::console::v1::Watch& w);

class call_board {
  public:
    call_board();
    ~call_board();
    call_board(const call_board&) = delete;
    call_board& operator=(const call_board&) = delete;

    // Applies a call's latest state (closed: it leaves and leaves a tombstone). now_ms: for the
    // received-per-minute ring and tombstone expiry. Returns false if ignored (tombstoned, no id).
    bool apply(const anxin::console::v1::Call& c, std::int64_t now_ms);
    // Replaces the content with a snapshot of the open calls read from the store, where
    // `since` is seq() when that read began: what was applied after it is newer than the
    // snapshot and kept; calls absent from the snapshot and untouched since are dropped.
    void resync(const std::vector<anxin::console::v1::Call>& open_calls, std::uint64_t since,
                std::int64_t now_ms);
    // The stations' names and areas (areas of calls already held are recomputed).
    void set_stations(const std::vector<board_station>& stations);
    void clear();

    // Increases with every apply (resync's `since`).
    std::uint64_t seq() const { return seq_; }
    // Increases with every change to what the board holds.
    std::uint64_t version() const { return version_; }
    std::size_t size() const;

    anxin::console::v1::Summary summary(std::int64_t now_ms, const surge_thresholds& t) const;
    // The watch must have passed check_watch.
    anxin::console::v1::Board query(const anxin::console::v1::Watch& w, std::int64_t now_ms) const;
    // Ids of the waiting calls the filter matches (its state is ignored: waiting only), in board
    // order, at most max (bulk actions).
    std::vector<std::string> match(const anxin::console::v1::Watch& filter, std::size_t max) const;
    // Calls received in the 60 s before now_ms (first seen by this board).
    std::uint32_t received_last_minute(std::int64_t now_ms) const;

  private:
    struct impl;
    std::unique_ptr<impl> impl_;
    std::uint64_t seq_ = 0;
    std::uint64_t version_ = 0;
};

}  // namespace anxin::dispatcher
