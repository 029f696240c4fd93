file(REMOVE_RECURSE
  "CMakeFiles/anxin_sim.dir/src/console_link.cpp.o"
  "CMakeFiles/anxin_sim.dir/src/console_link.cpp.o.d"
  "CMakeFiles/anxin_sim.dir/src/device_link.cpp.o"
  "CMakeFiles/anxin_sim.dir/src/device_link.cpp.o.d"
  "CMakeFiles/anxin_sim.dir/src/district.cpp.o"
  "CMakeFiles/anxin_sim.dir/src/district.cpp.o.d"
  "CMakeFiles/anxin_sim.dir/src/histogram.cpp.o"
  "CMakeFiles/anxin_sim.dir/src/histogram.cpp.o.d"
  "CMakeFiles/anxin_sim.dir/src/http_client.cpp.o"
  "CMakeFiles/anxin_sim.dir/src/http_client.cpp.o.d"
  "libanxin_sim.a"
  "libanxin_sim.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang CXX)
  include(CMakeFiles/anxin_sim.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
