#pragma once
// A realistic, reproducible district modelled on Tongzhou, Beijing: 22 streets/towns, 139 community
// care stations spread over them, residents with homes, phones and call buttons, and operators for
// every station. The same seed always gives the same district (including device secrets), so a
// load test can be repeated exactly.

#include "admin.pb.h"

#include <cstdint>
#include <string>
#include <vector>

namespace anxin::sim {

struct district_options {
    std::uint64_t seed = 20261122;
    int stations = 139;
    int residents = 2000;
    int operators_per_station = 2;
    int supervisors = 3;                           // district command centre
    std::string operator_password = "anxin-demo";  // demo accounts; documented in README
};

struct district {
    std::vector<anxin::admin::v1::Station> stations;
    std::vector<anxin::admin::v1::Resident> residents;  // each with one device
    std::vector<anxin::admin::v1::Operator> operators;  // station operators, then supervisors
                                                        // (role supervisor, no station);
                                                        // passwords in clear: for the files only
};

district generate_district(const district_options& opts);

// The names of the 22 areas, in the order used for station ids.
const std::vector<std::string>& district_areas();

}  // namespace anxin::sim
