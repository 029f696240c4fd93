#pragma once
// Takes stored alarms off the anx:alarms stream (consumer group "router", one consumer per
// instance) and offers each call to the online operators of the nearest station that has any.
// A call with nobody online anywhere waits (anx:calls:waiting) and is routed by the sweep as soon
// as an operator logs in. The sweep also re-offers calls whose station lost all its operators.
//
// Delivery is at-least-once: an entry is XACKed (and deleted) only after the call's new state is
// stored; a crash in between means the entry is read again and the offer script, which checks the
// call's state, makes the second attempt a no-op. Entries left pending by a dead instance are
// claimed with XAUTOCLAIM.
//
// Threading: io thread only.

#include "anxin/dispatcher/redis_connection.hpp"
#include "anxin/dispatcher/server_context.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <memory>
#include <string>

namespace anxin::dispatcher {

class call_router {
public:
    // blocking: a connection of its own for XREADGROUP BLOCK (it would stall other commands).
    call_router(server_context& ctx, std::shared_ptr<redis_connection> blocking);
    void start();
    // Something changed (an operator logged in or out): sweep soon rather than at the next tick.
    void kick();

    // Routes one call; returns false if Redis could not be asked (the entry stays pending).
    boost::asio::awaitable<bool> route(const std::string& call_id, const std::string& expected_state);

private:
    boost::asio::awaitable<void> consume();
    boost::asio::awaitable<void> sweep_loop();
    boost::asio::awaitable<void> sweep();
    boost::asio::awaitable<bool> handle_entries(const redis_reply& stream_reply);

    server_context& ctx_;
    std::shared_ptr<redis_connection> blocking_;
    boost::asio::steady_timer sweep_timer_;
};

}  // namespace anxin::dispatcher
