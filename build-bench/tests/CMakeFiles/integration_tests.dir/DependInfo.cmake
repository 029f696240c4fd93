
# Consider dependencies only in project.
set(CMAKE_DEPENDS_IN_PROJECT_ONLY OFF)

# The set of languages for which implicit dependencies are needed:
set(CMAKE_DEPENDS_LANGUAGES
  )

# The set of dependency files which are needed:
set(CMAKE_DEPENDS_DEPENDENCY_FILES
  "/work/main/tests/integration/admin_api_test.cpp" "tests/CMakeFiles/integration_tests.dir/integration/admin_api_test.cpp.o" "gcc" "tests/CMakeFiles/integration_tests.dir/integration/admin_api_test.cpp.o.d"
  "/work/main/tests/integration/call_handling_test.cpp" "tests/CMakeFiles/integration_tests.dir/integration/call_handling_test.cpp.o" "gcc" "tests/CMakeFiles/integration_tests.dir/integration/call_handling_test.cpp.o.d"
  "/work/main/tests/integration/console_test.cpp" "tests/CMakeFiles/integration_tests.dir/integration/console_test.cpp.o" "gcc" "tests/CMakeFiles/integration_tests.dir/integration/console_test.cpp.o.d"
  "/work/main/tests/integration/device_port_test.cpp" "tests/CMakeFiles/integration_tests.dir/integration/device_port_test.cpp.o" "gcc" "tests/CMakeFiles/integration_tests.dir/integration/device_port_test.cpp.o.d"
  "/work/main/tests/integration/end_to_end_test.cpp" "tests/CMakeFiles/integration_tests.dir/integration/end_to_end_test.cpp.o" "gcc" "tests/CMakeFiles/integration_tests.dir/integration/end_to_end_test.cpp.o.d"
  "/work/main/tests/integration/test_cluster.cpp" "tests/CMakeFiles/integration_tests.dir/integration/test_cluster.cpp.o" "gcc" "tests/CMakeFiles/integration_tests.dir/integration/test_cluster.cpp.o.d"
  )

# Targets to which this target links.
set(CMAKE_TARGET_LINKED_INFO_FILES
  "/work/main/build-bench/dispatcher/CMakeFiles/anxin_dispatcher.dir/DependInfo.cmake"
  "/work/main/build-bench/device-sim/CMakeFiles/anxin_sim.dir/DependInfo.cmake"
  "/work/main/build-bench/protocol/CMakeFiles/anxin_protocol.dir/DependInfo.cmake"
  "/work/main/build-bench/protocol/CMakeFiles/anxin_proto_gen.dir/DependInfo.cmake"
  )

# Fortran module output directory.
set(CMAKE_Fortran_TARGET_MODULE_DIR "")
