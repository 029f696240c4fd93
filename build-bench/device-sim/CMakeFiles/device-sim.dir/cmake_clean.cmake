file(REMOVE_RECURSE
  "CMakeFiles/device-sim.dir/src/cmd_load.cpp.o"
  "CMakeFiles/device-sim.dir/src/cmd_load.cpp.o.d"
  "CMakeFiles/device-sim.dir/src/cmd_operators.cpp.o"
  "CMakeFiles/device-sim.dir/src/cmd_operators.cpp.o.d"
  "CMakeFiles/device-sim.dir/src/cmd_press.cpp.o"
  "CMakeFiles/device-sim.dir/src/cmd_press.cpp.o.d"
  "CMakeFiles/device-sim.dir/src/cmd_provision.cpp.o"
  "CMakeFiles/device-sim.dir/src/cmd_provision.cpp.o.d"
  "CMakeFiles/device-sim.dir/src/main.cpp.o"
  "CMakeFiles/device-sim.dir/src/main.cpp.o.d"
  "CMakeFiles/device-sim.dir/src/options.cpp.o"
  "CMakeFiles/device-sim.dir/src/options.cpp.o.d"
  "CMakeFiles/device-sim.dir/src/sim_files.cpp.o"
  "CMakeFiles/device-sim.dir/src/sim_files.cpp.o.d"
  "device-sim"
  "device-sim.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang CXX)
  include(CMakeFiles/device-sim.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
