#pragma once
// The files `device-sim provision` writes and the other commands read: devices.csv
// (device_id,secret,resident_id,lat,lon,name) and operators.csv
// (operator_id,password,station_id,name).

#include <optional>
#include <string>
#include <vector>

namespace anxin::sim {

struct device_entry {
    std::string device_id, secret, resident_id;
    double lat = 0, lon = 0;
    std::string name;
};

struct operator_entry {
    std::string operator_id, password, station_id, name;
};

std::vector<device_entry> read_devices(const std::string& path);
std::vector<operator_entry> read_operators(const std::string& path);
// Reads the first line of a file (the admin token); nullopt if unreadable.
std::optional<std::string> read_first_line(const std::string& path);

}  // namespace anxin::sim
