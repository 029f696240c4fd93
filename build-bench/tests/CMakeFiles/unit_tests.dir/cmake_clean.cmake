file(REMOVE_RECURSE
  "CMakeFiles/unit_tests.dir/device-sim/district_test.cpp.o"
  "CMakeFiles/unit_tests.dir/device-sim/district_test.cpp.o.d"
  "CMakeFiles/unit_tests.dir/dispatcher/call_policy_test.cpp.o"
  "CMakeFiles/unit_tests.dir/dispatcher/call_policy_test.cpp.o.d"
  "CMakeFiles/unit_tests.dir/dispatcher/call_state_test.cpp.o"
  "CMakeFiles/unit_tests.dir/dispatcher/call_state_test.cpp.o.d"
  "CMakeFiles/unit_tests.dir/dispatcher/geo_test.cpp.o"
  "CMakeFiles/unit_tests.dir/dispatcher/geo_test.cpp.o.d"
  "CMakeFiles/unit_tests.dir/dispatcher/password_test.cpp.o"
  "CMakeFiles/unit_tests.dir/dispatcher/password_test.cpp.o.d"
  "CMakeFiles/unit_tests.dir/dispatcher/redis_endpoint_test.cpp.o"
  "CMakeFiles/unit_tests.dir/dispatcher/redis_endpoint_test.cpp.o.d"
  "CMakeFiles/unit_tests.dir/protocol/device_auth_test.cpp.o"
  "CMakeFiles/unit_tests.dir/protocol/device_auth_test.cpp.o.d"
  "CMakeFiles/unit_tests.dir/protocol/framing_test.cpp.o"
  "CMakeFiles/unit_tests.dir/protocol/framing_test.cpp.o.d"
  "unit_tests"
  "unit_tests.pdb"
  "unit_tests[1]_tests.cmake"
)

# Per-language clean rules from dependency scanning.
foreach(lang CXX)
  include(CMakeFiles/unit_tests.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
