file(REMOVE_RECURSE
  "CMakeFiles/anxin_protocol.dir/src/device_auth.cpp.o"
  "CMakeFiles/anxin_protocol.dir/src/device_auth.cpp.o.d"
  "CMakeFiles/anxin_protocol.dir/src/framing.cpp.o"
  "CMakeFiles/anxin_protocol.dir/src/framing.cpp.o.d"
  "libanxin_protocol.a"
  "libanxin_protocol.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang CXX)
  include(CMakeFiles/anxin_protocol.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
