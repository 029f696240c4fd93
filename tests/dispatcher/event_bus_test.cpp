#include "anxin/dispatcher/event_bus.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

using anxin::dispatcher::peer;
using anxin::dispatcher::session_registry;

namespace {

struct recording_peer : peer {
    std::vector<std::string> got;
    void deliver(std::string payload) override { got.push_back(std::move(payload)); }
};

}  // namespace

// The supervisors' board follows the command centre's events on an instance where no
// command-centre console is logged in, so the hook must see them all the same.
TEST(SessionRegistry, StationEventHookSeesEveryStationDeliveryEvenWithoutConsoles) {
    session_registry r;
    std::vector<std::pair<std::string, std::string>> seen;
    r.on_station_event([&](const std::string& station, const std::string& json) {
        seen.emplace_back(station, json);
    });
    r.deliver_to_station("@cc", R"({"call_changed":{}})");
    auto op = std::make_shared<recording_peer>();
    r.add_operator("op-1", "st-a", op);
    r.deliver_to_station("st-a", R"({"status_changed":{}})");
    r.deliver_to_operator("op-1", R"({"offer":{}})");  // not a station delivery
    ASSERT_EQ(seen.size(), 2u);
    EXPECT_EQ(seen[0].first, "@cc");
    EXPECT_EQ(seen[0].second, R"({"call_changed":{}})");
    EXPECT_EQ(seen[1].first, "st-a");
    EXPECT_EQ(op->got.size(), 2u);
}
