#include "sim_files.hpp"

#include <fstream>
#include <sstream>

namespace anxin::sim {

namespace {
std::vector<std::string> split(const std::string& line) {
    std::vector<std::string> out;
    std::stringstream ss(line);
    std::string field;
    while (std::getline(ss, field, ',')) out.push_back(field);
    return out;
}
}  // namespace

std::vector<device_entry> read_devices(const std::string& path) {
    std::vector<device_entry> out;
    std::ifstream in(path);
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
        auto f = split(line);
        if (f.size() < 6) continue;
        out.push_back({f[0], f[1], f[2], std::stod(f[3]), std::stod(f[4]), f[5]});
    }
    return out;
}

std::vector<operator_entry> read_operators(const std::string& path) {
    std::vector<operator_entry> out;
    std::ifstream in(path);
    std::string line;
    std::getline(in, line);
    while (std::getline(in, line)) {
        auto f = split(line);
        if (f.size() < 4) continue;
        out.push_back({f[0], f[1], f[2], f[3]});
    }
    return out;
}

std::optional<std::string> read_first_line(const std::string& path) {
    std::ifstream in(path);
    std::string line;
    if (!in || !std::getline(in, line)) return std::nullopt;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    return line;
}

}  // namespace anxin::sim
