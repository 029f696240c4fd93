#pragma once
// device-sim's subcommands. Each parses its own options and returns the process exit code.

namespace anxin::sim {

int cmd_provision(int argc, char** argv);
int cmd_press(int argc, char** argv);
int cmd_operators(int argc, char** argv);
int cmd_console(int argc, char** argv);
int cmd_load(int argc, char** argv);

}  // namespace anxin::sim
