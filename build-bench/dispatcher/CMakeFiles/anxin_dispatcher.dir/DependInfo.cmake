
# Consider dependencies only in project.
set(CMAKE_DEPENDS_IN_PROJECT_ONLY OFF)

# The set of languages for which implicit dependencies are needed:
set(CMAKE_DEPENDS_LANGUAGES
  )

# The set of dependency files which are needed:
set(CMAKE_DEPENDS_DEPENDENCY_FILES
  "/work/main/dispatcher/src/call_policy.cpp" "dispatcher/CMakeFiles/anxin_dispatcher.dir/src/call_policy.cpp.o" "gcc" "dispatcher/CMakeFiles/anxin_dispatcher.dir/src/call_policy.cpp.o.d"
  "/work/main/dispatcher/src/call_router.cpp" "dispatcher/CMakeFiles/anxin_dispatcher.dir/src/call_router.cpp.o" "gcc" "dispatcher/CMakeFiles/anxin_dispatcher.dir/src/call_router.cpp.o.d"
  "/work/main/dispatcher/src/call_state.cpp" "dispatcher/CMakeFiles/anxin_dispatcher.dir/src/call_state.cpp.o" "gcc" "dispatcher/CMakeFiles/anxin_dispatcher.dir/src/call_state.cpp.o.d"
  "/work/main/dispatcher/src/call_store.cpp" "dispatcher/CMakeFiles/anxin_dispatcher.dir/src/call_store.cpp.o" "gcc" "dispatcher/CMakeFiles/anxin_dispatcher.dir/src/call_store.cpp.o.d"
  "/work/main/dispatcher/src/console_session.cpp" "dispatcher/CMakeFiles/anxin_dispatcher.dir/src/console_session.cpp.o" "gcc" "dispatcher/CMakeFiles/anxin_dispatcher.dir/src/console_session.cpp.o.d"
  "/work/main/dispatcher/src/device_session.cpp" "dispatcher/CMakeFiles/anxin_dispatcher.dir/src/device_session.cpp.o" "gcc" "dispatcher/CMakeFiles/anxin_dispatcher.dir/src/device_session.cpp.o.d"
  "/work/main/dispatcher/src/directory.cpp" "dispatcher/CMakeFiles/anxin_dispatcher.dir/src/directory.cpp.o" "gcc" "dispatcher/CMakeFiles/anxin_dispatcher.dir/src/directory.cpp.o.d"
  "/work/main/dispatcher/src/embedded_redis.cpp" "dispatcher/CMakeFiles/anxin_dispatcher.dir/src/embedded_redis.cpp.o" "gcc" "dispatcher/CMakeFiles/anxin_dispatcher.dir/src/embedded_redis.cpp.o.d"
  "/work/main/dispatcher/src/event_bus.cpp" "dispatcher/CMakeFiles/anxin_dispatcher.dir/src/event_bus.cpp.o" "gcc" "dispatcher/CMakeFiles/anxin_dispatcher.dir/src/event_bus.cpp.o.d"
  "/work/main/dispatcher/src/geo.cpp" "dispatcher/CMakeFiles/anxin_dispatcher.dir/src/geo.cpp.o" "gcc" "dispatcher/CMakeFiles/anxin_dispatcher.dir/src/geo.cpp.o.d"
  "/work/main/dispatcher/src/http_session.cpp" "dispatcher/CMakeFiles/anxin_dispatcher.dir/src/http_session.cpp.o" "gcc" "dispatcher/CMakeFiles/anxin_dispatcher.dir/src/http_session.cpp.o.d"
  "/work/main/dispatcher/src/metrics.cpp" "dispatcher/CMakeFiles/anxin_dispatcher.dir/src/metrics.cpp.o" "gcc" "dispatcher/CMakeFiles/anxin_dispatcher.dir/src/metrics.cpp.o.d"
  "/work/main/dispatcher/src/password.cpp" "dispatcher/CMakeFiles/anxin_dispatcher.dir/src/password.cpp.o" "gcc" "dispatcher/CMakeFiles/anxin_dispatcher.dir/src/password.cpp.o.d"
  "/work/main/dispatcher/src/redis_connection.cpp" "dispatcher/CMakeFiles/anxin_dispatcher.dir/src/redis_connection.cpp.o" "gcc" "dispatcher/CMakeFiles/anxin_dispatcher.dir/src/redis_connection.cpp.o.d"
  "/work/main/dispatcher/src/report.cpp" "dispatcher/CMakeFiles/anxin_dispatcher.dir/src/report.cpp.o" "gcc" "dispatcher/CMakeFiles/anxin_dispatcher.dir/src/report.cpp.o.d"
  "/work/main/dispatcher/src/server.cpp" "dispatcher/CMakeFiles/anxin_dispatcher.dir/src/server.cpp.o" "gcc" "dispatcher/CMakeFiles/anxin_dispatcher.dir/src/server.cpp.o.d"
  )

# Targets to which this target links.
set(CMAKE_TARGET_LINKED_INFO_FILES
  "/work/main/build-bench/protocol/CMakeFiles/anxin_protocol.dir/DependInfo.cmake"
  "/work/main/build-bench/protocol/CMakeFiles/anxin_proto_gen.dir/DependInfo.cmake"
  )

# Fortran module output directory.
set(CMAKE_Fortran_TARGET_MODULE_DIR "")
