// Tests for the simulated Tongzhou district (device-sim/include/anxin/sim/district.hpp): it must
// be reproducible from its seed and look like the real district to the dispatcher.

#include "anxin/sim/district.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>

namespace anxin::sim {
namespace {

// Everything the generator produced, as bytes, in order.
std::string serialize(const district& d) {
    std::string out;
    for (const auto& s : d.stations) out += s.SerializeAsString();
    for (const auto& r : d.residents) out += r.SerializeAsString();
    for (const auto& o : d.operators) out += o.SerializeAsString();
    return out;
}

bool in_tongzhou(double lat, double lon) {
    return lat >= 39.6 && lat <= 40.05 && lon >= 116.45 && lon <= 116.95;
}

bool is_lower_hex(const std::string& s) {
    return std::all_of(s.begin(), s.end(),
                       [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// One district with the defaults, shared by the tests that only read it.
const district& default_district() {
    static const district d = generate_district(district_options{});
    return d;
}

TEST(district, same_seed_gives_an_identical_district) {
    district_options opts;
    opts.residents = 500;
    const district a = generate_district(opts);
    const district b = generate_district(opts);
    ASSERT_EQ(a.stations.size(), b.stations.size());
    ASSERT_EQ(a.residents.size(), b.residents.size());
    ASSERT_EQ(a.operators.size(), b.operators.size());
    EXPECT_EQ(serialize(a), serialize(b));
    EXPECT_EQ(a.residents[0].devices(0).secret(), b.residents[0].devices(0).secret());
}

TEST(district, different_seed_gives_a_different_district) {
    district_options opts;
    opts.residents = 500;
    const district a = generate_district(opts);
    opts.seed += 1;
    const district b = generate_district(opts);
    EXPECT_NE(serialize(a), serialize(b));
    // Secrets in particular: a second load test must not reuse the first one's credentials.
    EXPECT_NE(a.residents[0].devices(0).secret(), b.residents[0].devices(0).secret());
    // Ids are positional, so the two districts can be compared resident by resident.
    EXPECT_EQ(a.residents[0].id(), b.residents[0].id());
}

TEST(district, default_is_139_stations_over_the_22_areas) {
    const auto& d = default_district();
    const auto& areas = district_areas();
    ASSERT_EQ(areas.size(), 22u);
    EXPECT_EQ(std::set<std::string>(areas.begin(), areas.end()).size(), 22u);
    EXPECT_EQ(areas.front(), "中仓街道");
    EXPECT_EQ(d.stations.size(), 139u);
    EXPECT_EQ(d.residents.size(), 2000u);

    std::map<std::string, int> per_area;
    for (const auto& s : d.stations) {
        EXPECT_TRUE(std::find(areas.begin(), areas.end(), s.area()) != areas.end()) << s.area();
        per_area[s.area()]++;
    }
    // Every area has stations, spread evenly: 139 = 22 x 6 + 7.
    EXPECT_EQ(per_area.size(), 22u);
    for (const auto& [area, n] : per_area) {
        EXPECT_TRUE(n == 6 || n == 7) << area << " has " << n;
    }
}

TEST(district, stations_are_in_area_order) {
    // "The names of the 22 areas, in the order used for station ids."
    const auto& d = default_district();
    const auto& areas = district_areas();
    std::size_t last_area = 0;
    for (const auto& s : d.stations) {
        const auto at = static_cast<std::size_t>(std::find(areas.begin(), areas.end(), s.area()) -
                                                 areas.begin());
        EXPECT_GE(at, last_area) << s.id();
        last_area = at;
    }
}

TEST(district, everything_is_inside_tongzhou) {
    const auto& d = default_district();
    for (const auto& s : d.stations) {
        EXPECT_TRUE(in_tongzhou(s.lat(), s.lon())) << s.id() << " at " << s.lat() << "," << s.lon();
    }
    for (const auto& r : d.residents) {
        EXPECT_TRUE(in_tongzhou(r.lat(), r.lon())) << r.id() << " at " << r.lat() << "," << r.lon();
    }
}

TEST(district, ids_are_unique) {
    const auto& d = default_district();
    std::set<std::string> stations, residents, devices, operators;
    for (const auto& s : d.stations) EXPECT_TRUE(stations.insert(s.id()).second) << s.id();
    for (const auto& r : d.residents) {
        EXPECT_TRUE(residents.insert(r.id()).second) << r.id();
        for (const auto& dev : r.devices())
            EXPECT_TRUE(devices.insert(dev.id()).second) << dev.id();
    }
    for (const auto& o : d.operators) EXPECT_TRUE(operators.insert(o.id()).second) << o.id();
    EXPECT_EQ(stations.size(), 139u);
    EXPECT_EQ(residents.size(), 2000u);
    EXPECT_EQ(devices.size(), 2000u);
    EXPECT_FALSE(stations.contains(""));
    EXPECT_FALSE(residents.contains(""));
}

TEST(district, each_resident_has_one_device_with_a_32_hex_secret) {
    const auto& d = default_district();
    std::set<std::string> secrets;
    for (const auto& r : d.residents) {
        ASSERT_EQ(r.devices_size(), 1) << r.id();
        const auto& dev = r.devices(0);
        EXPECT_FALSE(dev.id().empty()) << r.id();
        EXPECT_EQ(dev.secret().size(), 32u) << r.id();
        EXPECT_TRUE(is_lower_hex(dev.secret())) << r.id() << ": " << dev.secret();
        secrets.insert(dev.secret());
        EXPECT_FALSE(r.name().empty()) << r.id();
        EXPECT_FALSE(r.phone().empty()) << r.id();
        EXPECT_FALSE(r.address().empty()) << r.id();
    }
    EXPECT_EQ(secrets.size(), d.residents.size()) << "two devices share a secret";
}

TEST(district, default_operators_belong_to_existing_stations) {
    const auto& d = default_district();
    EXPECT_EQ(d.operators.size(), 139u * 2 + 3);  // + the command centre's supervisors
    std::set<std::string> station_ids;
    for (const auto& s : d.stations) station_ids.insert(s.id());
    int supervisors = 0;
    for (const auto& o : d.operators) {
        if (o.role() == "supervisor") {
            ++supervisors;
            EXPECT_TRUE(o.station_id().empty()) << o.id();
        } else {
            EXPECT_TRUE(station_ids.contains(o.station_id())) << o.id() << " -> " << o.station_id();
        }
        EXPECT_EQ(o.password(), "anxin-demo");
        EXPECT_FALSE(o.name().empty());
    }
    EXPECT_EQ(supervisors, 3);
}

TEST(district, operators_per_station_is_respected) {
    for (int per_station : {0, 1, 3}) {
        SCOPED_TRACE("operators_per_station = " + std::to_string(per_station));
        district_options opts;
        opts.residents = 10;
        opts.operators_per_station = per_station;
        opts.operator_password = "s3cret";
        opts.supervisors = 0;
        const district d = generate_district(opts);
        EXPECT_EQ(d.operators.size(), d.stations.size() * static_cast<std::size_t>(per_station));

        std::map<std::string, int> per_id;
        for (const auto& s : d.stations) per_id[s.id()] = 0;
        std::set<std::string> operator_ids;
        for (const auto& o : d.operators) {
            auto it = per_id.find(o.station_id());
            ASSERT_NE(it, per_id.end()) << o.id() << " -> unknown station " << o.station_id();
            it->second++;
            EXPECT_TRUE(operator_ids.insert(o.id()).second) << o.id();
            EXPECT_EQ(o.password(), "s3cret");
        }
        for (const auto& [id, n] : per_id) EXPECT_EQ(n, per_station) << id;
    }
}

TEST(district, smaller_districts_honour_the_counts) {
    district_options opts;
    opts.stations = 30;
    opts.residents = 7;
    opts.operators_per_station = 1;
    opts.supervisors = 2;
    const district d = generate_district(opts);
    EXPECT_EQ(d.stations.size(), 30u);
    EXPECT_EQ(d.residents.size(), 7u);
    EXPECT_EQ(d.operators.size(), 32u);
    for (const auto& s : d.stations) EXPECT_TRUE(in_tongzhou(s.lat(), s.lon())) << s.id();
}

}  // namespace
}  // namespace anxin::sim
