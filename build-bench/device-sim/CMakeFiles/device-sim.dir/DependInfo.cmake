
# Consider dependencies only in project.
set(CMAKE_DEPENDS_IN_PROJECT_ONLY OFF)

# The set of languages for which implicit dependencies are needed:
set(CMAKE_DEPENDS_LANGUAGES
  )

# The set of dependency files which are needed:
set(CMAKE_DEPENDS_DEPENDENCY_FILES
  "/work/main/device-sim/src/cmd_load.cpp" "device-sim/CMakeFiles/device-sim.dir/src/cmd_load.cpp.o" "gcc" "device-sim/CMakeFiles/device-sim.dir/src/cmd_load.cpp.o.d"
  "/work/main/device-sim/src/cmd_operators.cpp" "device-sim/CMakeFiles/device-sim.dir/src/cmd_operators.cpp.o" "gcc" "device-sim/CMakeFiles/device-sim.dir/src/cmd_operators.cpp.o.d"
  "/work/main/device-sim/src/cmd_press.cpp" "device-sim/CMakeFiles/device-sim.dir/src/cmd_press.cpp.o" "gcc" "device-sim/CMakeFiles/device-sim.dir/src/cmd_press.cpp.o.d"
  "/work/main/device-sim/src/cmd_provision.cpp" "device-sim/CMakeFiles/device-sim.dir/src/cmd_provision.cpp.o" "gcc" "device-sim/CMakeFiles/device-sim.dir/src/cmd_provision.cpp.o.d"
  "/work/main/device-sim/src/main.cpp" "device-sim/CMakeFiles/device-sim.dir/src/main.cpp.o" "gcc" "device-sim/CMakeFiles/device-sim.dir/src/main.cpp.o.d"
  "/work/main/device-sim/src/options.cpp" "device-sim/CMakeFiles/device-sim.dir/src/options.cpp.o" "gcc" "device-sim/CMakeFiles/device-sim.dir/src/options.cpp.o.d"
  "/work/main/device-sim/src/sim_files.cpp" "device-sim/CMakeFiles/device-sim.dir/src/sim_files.cpp.o" "gcc" "device-sim/CMakeFiles/device-sim.dir/src/sim_files.cpp.o.d"
  )

# Targets to which this target links.
set(CMAKE_TARGET_LINKED_INFO_FILES
  "/work/main/build-bench/device-sim/CMakeFiles/anxin_sim.dir/DependInfo.cmake"
  "/work/main/build-bench/dispatcher/CMakeFiles/anxin_dispatcher.dir/DependInfo.cmake"
  "/work/main/build-bench/protocol/CMakeFiles/anxin_protocol.dir/DependInfo.cmake"
  "/work/main/build-bench/protocol/CMakeFiles/anxin_proto_gen.dir/DependInfo.cmake"
  )

# Fortran module output directory.
set(CMAKE_Fortran_TARGET_MODULE_DIR "")
