#pragma once
// Keeps this instance's call_board (the supervisors' board) in step with the store while at
// least one supervisor console in board mode (logged in without all_calls) is on this instance:
// loads every open call when the first one logs in, then applies every call_changed event
// delivered to the command centre (session_registry::on_station_event: from any instance, whether
// or not a command-centre console would get it here), and reads everything again every 30 s and
// when the store comes back after an outage (pub/sub drops what is published while a connection is
// away). Cleared when the last such supervisor leaves: nothing is kept or parsed without one.
//
// Metrics: ctx.stats.board_* (docs/HTTP_API.md).
//
// Threading: io thread only. Sessions read board() and poll version(); nothing of the board may be
// held across a co_await (a resync or clear may replace it meanwhile).

#include "anxin/dispatcher/call_board.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace anxin::dispatcher {

struct server_context;

class board_feed {
  public:
    explicit board_feed(server_context& ctx);

    // A supervisor console in board mode logged in here / left (logout or disconnect).
    void supervisor_joined();
    void supervisor_left();
    bool active() const { return supervisors_ > 0; }
    // The first load since activation has completed: the board shows the store's calls.
    bool ready() const { return active() && ready_; }
    const call_board& board() const { return board_; }
    surge_thresholds thresholds() const;

    // The plain JSON of an event delivered to a station (session_registry::on_station_event).
    void on_station_event(const std::string& station, const std::string& json);
    // The store answers again after an outage: resync now.
    void store_back();

  private:
    boost::asio::awaitable<void> run(std::uint64_t generation);
    // One full read of the open calls; false if the store did not answer.
    boost::asio::awaitable<bool> resync(std::uint64_t generation);

    server_context& ctx_;
    call_board board_;
    int supervisors_ = 0;
    bool ready_ = false;
    std::uint64_t generation_ = 0;  // +1 at each activation and deactivation
    boost::asio::steady_timer wake_;
    const void* stations_seen_ = nullptr;  // the directory's station list last given to board_
};

}  // namespace anxin::dispatcher
