#pragma once
// Great-circle geometry and the nearest-station choice. Pure code.

#include <set>
#include <string>
#include <vector>

namespace anxin::dispatcher {

struct geo_point {
    double lat = 0;  // degrees
    double lon = 0;  // degrees
};

// Haversine distance on a sphere of the Earth's mean radius (6371.0088 km). Accurate to ~0.5%,
// which is far below the difference that would change which station is nearer.
double great_circle_km(geo_point a, geo_point b);

bool valid_point(geo_point p);

struct station_site {
    std::string id;
    std::string name;
    geo_point location;
    std::string
        area;  // street / town (admin.proto Station.area): the supervisors' board groups by it
};

struct ranked_station {
    const station_site* station = nullptr;
    double distance_km = 0;
};

// Stations ordered nearest first from home; ties broken by id so the order is deterministic.
// Only stations whose id is in `eligible` are returned (e.g. those with an operator online).
std::vector<ranked_station> rank_stations(geo_point home, const std::vector<station_site>& stations,
                                          const std::set<std::string>& eligible);

}  // namespace anxin::dispatcher
