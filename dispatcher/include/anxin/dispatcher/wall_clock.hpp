#pragma once
// Wall-clock time in milliseconds since the epoch: what calls, offers and audit entries record.

#include <chrono>
#include <cstdint>

namespace anxin::dispatcher {

inline std::int64_t wall_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

}  // namespace anxin::dispatcher
