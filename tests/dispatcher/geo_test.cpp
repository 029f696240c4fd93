// Tests for distances and the nearest-station choice (dispatcher/include/anxin/dispatcher/geo.hpp).

#include "anxin/dispatcher/geo.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <numbers>
#include <set>
#include <string>
#include <vector>

namespace anxin::dispatcher {
namespace {

constexpr double earth_radius_km = 6371.0088;

const geo_point tiananmen{39.9087, 116.3975};
const geo_point tongzhou{39.9090, 116.6570};

std::vector<std::string> ids(const std::vector<ranked_station>& ranked) {
    std::vector<std::string> out;
    for (const auto& r : ranked) out.push_back(r.station->id);
    return out;
}

TEST(geo, tiananmen_to_tongzhou_is_about_22_km) {
    // About 22.1-22.2 km: 0.2595 degrees of longitude at latitude 39.9 (~85.4 km per degree).
    EXPECT_NEAR(great_circle_km(tiananmen, tongzhou), 22.13, 0.05);
}

TEST(geo, one_degree_of_longitude_on_the_equator) {
    EXPECT_NEAR(great_circle_km({0, 0}, {0, 1}), 2 * std::numbers::pi * earth_radius_km / 360,
                1e-6);
    EXPECT_NEAR(great_circle_km({0, 0}, {0, 1}), 111.195, 0.001);
}

TEST(geo, one_degree_of_latitude_anywhere) {
    EXPECT_NEAR(great_circle_km({39.0, 116.6}, {40.0, 116.6}), 111.195, 0.001);
}

TEST(geo, pole_to_pole_and_antipodes_are_half_the_circumference) {
    const double half = std::numbers::pi * earth_radius_km;
    EXPECT_NEAR(great_circle_km({90, 0}, {-90, 0}), half, 1e-6);
    EXPECT_NEAR(great_circle_km({0, 0}, {0, 180}), half, 1e-6);
    EXPECT_NEAR(great_circle_km({39.9087, 116.3975}, {-39.9087, -63.6025}), half, 1e-3);
    EXPECT_FALSE(std::isnan(great_circle_km({0, 0}, {0, 180})));
}

TEST(geo, crossing_the_antimeridian_takes_the_short_way) {
    EXPECT_NEAR(great_circle_km({0, 179.5}, {0, -179.5}), 111.195, 0.001);
}

TEST(geo, zero_distance_to_itself) {
    EXPECT_EQ(great_circle_km(tiananmen, tiananmen), 0.0);
    EXPECT_EQ(great_circle_km({0, 0}, {0, 0}), 0.0);
    EXPECT_EQ(great_circle_km({-33.86, 151.21}, {-33.86, 151.21}), 0.0);
}

TEST(geo, distance_is_symmetric) {
    EXPECT_DOUBLE_EQ(great_circle_km(tiananmen, tongzhou), great_circle_km(tongzhou, tiananmen));
    const geo_point sydney{-33.8688, 151.2093};
    EXPECT_DOUBLE_EQ(great_circle_km(tiananmen, sydney), great_circle_km(sydney, tiananmen));
    EXPECT_NEAR(great_circle_km(tiananmen, sydney), 8950, 50);  // Beijing-Sydney, ~8,950 km
}

TEST(geo, valid_point_accepts_the_whole_globe) {
    EXPECT_TRUE(valid_point({0, 0}));
    EXPECT_TRUE(valid_point(tongzhou));
    EXPECT_TRUE(valid_point({90, 180}));
    EXPECT_TRUE(valid_point({-90, -180}));
}

TEST(geo, valid_point_rejects_out_of_range_and_non_finite) {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const double inf = std::numeric_limits<double>::infinity();
    EXPECT_FALSE(valid_point({90.0001, 0}));
    EXPECT_FALSE(valid_point({-90.0001, 0}));
    EXPECT_FALSE(valid_point({0, 180.0001}));
    EXPECT_FALSE(valid_point({0, -180.0001}));
    EXPECT_FALSE(valid_point({116.6570, 39.9090}));  // lat and lon swapped
    EXPECT_FALSE(valid_point({nan, 0}));
    EXPECT_FALSE(valid_point({0, nan}));
    EXPECT_FALSE(valid_point({inf, 0}));
    EXPECT_FALSE(valid_point({0, -inf}));
}

// Stations around Tongzhou, listed in no particular order.
std::vector<station_site> sample_stations() {
    return {
        {"st-003", "far east", {39.9090, 116.8000}},
        {"st-001", "next door", {39.9095, 116.6575}},
        {"st-004", "downtown", tiananmen},
        {"st-002", "a few km", {39.9300, 116.6900}},
    };
}

TEST(geo, rank_stations_nearest_first_with_distances) {
    const auto stations = sample_stations();
    const auto ranked = rank_stations(tongzhou, stations, {"st-001", "st-002", "st-003", "st-004"});
    EXPECT_EQ(ids(ranked), (std::vector<std::string>{"st-001", "st-002", "st-003", "st-004"}));
    ASSERT_EQ(ranked.size(), 4u);
    for (const auto& r : ranked) {
        EXPECT_DOUBLE_EQ(r.distance_km, great_circle_km(tongzhou, r.station->location));
    }
    EXPECT_LT(ranked[0].distance_km, 0.1);
    EXPECT_NEAR(ranked[3].distance_km, 22.13, 0.05);
    // The result points at the caller's stations, not at copies.
    EXPECT_EQ(ranked[0].station, &stations[1]);
    EXPECT_EQ(ranked[0].station->name, "next door");
}

TEST(geo, rank_stations_breaks_ties_by_id) {
    // Same place (two stations in one building), listed with the larger id first.
    const std::vector<station_site> stations = {
        {"st-b", "second", {39.92, 116.66}},
        {"st-c", "farther", {39.95, 116.66}},
        {"st-a", "first", {39.92, 116.66}},
    };
    const auto ranked = rank_stations(tongzhou, stations, {"st-a", "st-b", "st-c"});
    EXPECT_EQ(ids(ranked), (std::vector<std::string>{"st-a", "st-b", "st-c"}));
    ASSERT_EQ(ranked.size(), 3u);
    EXPECT_EQ(ranked[0].distance_km, ranked[1].distance_km);
}

TEST(geo, rank_stations_returns_only_eligible_stations) {
    const auto stations = sample_stations();
    // st-001 (the nearest) has nobody online; st-999 is online but not a known station.
    const auto ranked = rank_stations(tongzhou, stations, {"st-004", "st-002", "st-999"});
    EXPECT_EQ(ids(ranked), (std::vector<std::string>{"st-002", "st-004"}));
}

TEST(geo, rank_stations_empty_when_none_eligible) {
    const auto stations = sample_stations();
    EXPECT_TRUE(rank_stations(tongzhou, stations, {}).empty());
    EXPECT_TRUE(rank_stations(tongzhou, stations, {"st-999"}).empty());
    EXPECT_TRUE(rank_stations(tongzhou, {}, {"st-001"}).empty());
}

}  // namespace
}  // namespace anxin::dispatcher
