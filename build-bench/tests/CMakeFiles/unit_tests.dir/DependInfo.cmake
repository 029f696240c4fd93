
# Consider dependencies only in project.
set(CMAKE_DEPENDS_IN_PROJECT_ONLY OFF)

# The set of languages for which implicit dependencies are needed:
set(CMAKE_DEPENDS_LANGUAGES
  )

# The set of dependency files which are needed:
set(CMAKE_DEPENDS_DEPENDENCY_FILES
  "/work/main/tests/device-sim/district_test.cpp" "tests/CMakeFiles/unit_tests.dir/device-sim/district_test.cpp.o" "gcc" "tests/CMakeFiles/unit_tests.dir/device-sim/district_test.cpp.o.d"
  "/work/main/tests/dispatcher/call_policy_test.cpp" "tests/CMakeFiles/unit_tests.dir/dispatcher/call_policy_test.cpp.o" "gcc" "tests/CMakeFiles/unit_tests.dir/dispatcher/call_policy_test.cpp.o.d"
  "/work/main/tests/dispatcher/call_state_test.cpp" "tests/CMakeFiles/unit_tests.dir/dispatcher/call_state_test.cpp.o" "gcc" "tests/CMakeFiles/unit_tests.dir/dispatcher/call_state_test.cpp.o.d"
  "/work/main/tests/dispatcher/geo_test.cpp" "tests/CMakeFiles/unit_tests.dir/dispatcher/geo_test.cpp.o" "gcc" "tests/CMakeFiles/unit_tests.dir/dispatcher/geo_test.cpp.o.d"
  "/work/main/tests/dispatcher/password_test.cpp" "tests/CMakeFiles/unit_tests.dir/dispatcher/password_test.cpp.o" "gcc" "tests/CMakeFiles/unit_tests.dir/dispatcher/password_test.cpp.o.d"
  "/work/main/tests/dispatcher/redis_endpoint_test.cpp" "tests/CMakeFiles/unit_tests.dir/dispatcher/redis_endpoint_test.cpp.o" "gcc" "tests/CMakeFiles/unit_tests.dir/dispatcher/redis_endpoint_test.cpp.o.d"
  "/work/main/tests/protocol/device_auth_test.cpp" "tests/CMakeFiles/unit_tests.dir/protocol/device_auth_test.cpp.o" "gcc" "tests/CMakeFiles/unit_tests.dir/protocol/device_auth_test.cpp.o.d"
  "/work/main/tests/protocol/framing_test.cpp" "tests/CMakeFiles/unit_tests.dir/protocol/framing_test.cpp.o" "gcc" "tests/CMakeFiles/unit_tests.dir/protocol/framing_test.cpp.o.d"
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
