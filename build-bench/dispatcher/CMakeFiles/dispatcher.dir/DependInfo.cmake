
# Consider dependencies only in project.
set(CMAKE_DEPENDS_IN_PROJECT_ONLY OFF)

# The set of languages for which implicit dependencies are needed:
set(CMAKE_DEPENDS_LANGUAGES
  )

# The set of dependency files which are needed:
set(CMAKE_DEPENDS_DEPENDENCY_FILES
  "/work/main/dispatcher/main.cpp" "dispatcher/CMakeFiles/dispatcher.dir/main.cpp.o" "gcc" "dispatcher/CMakeFiles/dispatcher.dir/main.cpp.o.d"
  )

# Targets to which this target links.
set(CMAKE_TARGET_LINKED_INFO_FILES
  "/work/main/build-bench/dispatcher/CMakeFiles/anxin_dispatcher.dir/DependInfo.cmake"
  "/work/main/build-bench/protocol/CMakeFiles/anxin_protocol.dir/DependInfo.cmake"
  "/work/main/build-bench/protocol/CMakeFiles/anxin_proto_gen.dir/DependInfo.cmake"
  )

# Fortran module output directory.
set(CMAKE_Fortran_TARGET_MODULE_DIR "")
