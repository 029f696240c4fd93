#include "anxin/dispatcher/geo.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace anxin::dispatcher {

double great_circle_km(geo_point a, geo_point b) {
    constexpr double earth_radius_km = 6371.0088;
    constexpr double rad = std::numbers::pi / 180.0;
    const double dlat = (b.lat - a.lat) * rad;
    const double dlon = (b.lon - a.lon) * rad;
    const double s =
        std::sin(dlat / 2) * std::sin(dlat / 2) +
        std::cos(a.lat * rad) * std::cos(b.lat * rad) * std::sin(dlon / 2) * std::sin(dlon / 2);
    return 2 * earth_radius_km * std::asin(std::min(1.0, std::sqrt(s)));
}

bool valid_point(geo_point p) {
    return std::isfinite(p.lat) && std::isfinite(p.lon) && p.lat >= -90 && p.lat <= 90 &&
           p.lon >= -180 && p.lon <= 180;
}

std::vector<ranked_station> rank_stations(geo_point home, const std::vector<station_site>& stations,
                                          const std::set<std::string>& eligible) {
    std::vector<ranked_station> out;
    for (const auto& s : stations) {
        if (!eligible.contains(s.id)) continue;
        out.push_back({&s, great_circle_km(home, s.location)});
    }
    std::sort(out.begin(), out.end(), [](const ranked_station& a, const ranked_station& b) {
        if (a.distance_km != b.distance_km) return a.distance_km < b.distance_km;
        return a.station->id < b.station->id;
    });
    return out;
}

}  // namespace anxin::dispatcher
