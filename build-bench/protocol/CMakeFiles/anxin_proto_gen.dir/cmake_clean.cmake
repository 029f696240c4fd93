file(REMOVE_RECURSE
  "CMakeFiles/anxin_proto_gen.dir/gen/admin.pb.cc.o"
  "CMakeFiles/anxin_proto_gen.dir/gen/admin.pb.cc.o.d"
  "CMakeFiles/anxin_proto_gen.dir/gen/console.pb.cc.o"
  "CMakeFiles/anxin_proto_gen.dir/gen/console.pb.cc.o.d"
  "CMakeFiles/anxin_proto_gen.dir/gen/device.pb.cc.o"
  "CMakeFiles/anxin_proto_gen.dir/gen/device.pb.cc.o.d"
  "gen/admin.pb.cc"
  "gen/admin.pb.h"
  "gen/console.pb.cc"
  "gen/console.pb.h"
  "gen/device.pb.cc"
  "gen/device.pb.h"
  "libanxin_proto_gen.a"
  "libanxin_proto_gen.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang CXX)
  include(CMakeFiles/anxin_proto_gen.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
