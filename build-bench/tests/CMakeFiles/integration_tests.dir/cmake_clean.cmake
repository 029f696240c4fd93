file(REMOVE_RECURSE
  "CMakeFiles/integration_tests.dir/integration/admin_api_test.cpp.o"
  "CMakeFiles/integration_tests.dir/integration/admin_api_test.cpp.o.d"
  "CMakeFiles/integration_tests.dir/integration/call_handling_test.cpp.o"
  "CMakeFiles/integration_tests.dir/integration/call_handling_test.cpp.o.d"
  "CMakeFiles/integration_tests.dir/integration/console_test.cpp.o"
  "CMakeFiles/integration_tests.dir/integration/console_test.cpp.o.d"
  "CMakeFiles/integration_tests.dir/integration/device_port_test.cpp.o"
  "CMakeFiles/integration_tests.dir/integration/device_port_test.cpp.o.d"
  "CMakeFiles/integration_tests.dir/integration/end_to_end_test.cpp.o"
  "CMakeFiles/integration_tests.dir/integration/end_to_end_test.cpp.o.d"
  "CMakeFiles/integration_tests.dir/integration/test_cluster.cpp.o"
  "CMakeFiles/integration_tests.dir/integration/test_cluster.cpp.o.d"
  "integration_tests"
  "integration_tests.pdb"
  "integration_tests[1]_tests.cmake"
)

# Per-language clean rules from dependency scanning.
foreach(lang CXX)
  include(CMakeFiles/integration_tests.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
