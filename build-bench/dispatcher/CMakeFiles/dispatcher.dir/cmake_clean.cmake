file(REMOVE_RECURSE
  "CMakeFiles/dispatcher.dir/main.cpp.o"
  "CMakeFiles/dispatcher.dir/main.cpp.o.d"
  "dispatcher"
  "dispatcher.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang CXX)
  include(CMakeFiles/dispatcher.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
