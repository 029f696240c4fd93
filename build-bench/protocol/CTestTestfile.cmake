# CMake generated Testfile for 
# Source directory: /work/main/protocol
# Build directory: /work/main/build-bench/protocol
# 
# This file includes the relevant testing commands required for 
# testing this directory and lists subdirectories to be tested as well.
