
# Consider dependencies only in project.
set(CMAKE_DEPENDS_IN_PROJECT_ONLY OFF)

# The set of languages for which implicit dependencies are needed:
set(CMAKE_DEPENDS_LANGUAGES
  )

# The set of dependency files which are needed:
set(CMAKE_DEPENDS_DEPENDENCY_FILES
  "/work/main/device-sim/src/console_link.cpp" "device-sim/CMakeFiles/anxin_sim.dir/src/console_link.cpp.o" "gcc" "device-sim/CMakeFiles/anxin_sim.dir/src/console_link.cpp.o.d"
  "/work/main/device-sim/src/device_link.cpp" "device-sim/CMakeFiles/anxin_sim.dir/src/device_link.cpp.o" "gcc" "device-sim/CMakeFiles/anxin_sim.dir/src/device_link.cpp.o.d"
  "/work/main/device-sim/src/district.cpp" "device-sim/CMakeFiles/anxin_sim.dir/src/district.cpp.o" "gcc" "device-sim/CMakeFiles/anxin_sim.dir/src/district.cpp.o.d"
  "/work/main/device-sim/src/histogram.cpp" "device-sim/CMakeFiles/anxin_sim.dir/src/histogram.cpp.o" "gcc" "device-sim/CMakeFiles/anxin_sim.dir/src/histogram.cpp.o.d"
  "/work/main/device-sim/src/http_client.cpp" "device-sim/CMakeFiles/anxin_sim.dir/src/http_client.cpp.o" "gcc" "device-sim/CMakeFiles/anxin_sim.dir/src/http_client.cpp.o.d"
  )

# Targets to which this target links.
set(CMAKE_TARGET_LINKED_INFO_FILES
  "/work/main/build-bench/protocol/CMakeFiles/anxin_protocol.dir/DependInfo.cmake"
  "/work/main/build-bench/protocol/CMakeFiles/anxin_proto_gen.dir/DependInfo.cmake"
  )

# Fortran module output directory.
set(CMAKE_Fortran_TARGET_MODULE_DIR "")
