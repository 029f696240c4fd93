# CMake generated Testfile for 
# Source directory: /work/main/dispatcher
# Build directory: /work/main/build-bench/dispatcher
# 
# This file includes the relevant testing commands required for 
# testing this directory and lists subdirectories to be tested as well.
