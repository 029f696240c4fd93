// device-sim: plays call buttons and operators against a dispatcher.

#include "commands.hpp"

#include <cstring>
#include <iostream>

int main(int argc, char** argv) {
    const char* usage =
        "usage: device-sim <command> [options]   (device-sim <command> --help for its options)\n"
        "  provision   generate a Tongzhou-like district and load it through the admin API\n"
        "  press       one resident presses the call button; prints each step with its time\n"
        "  operators   bot operators that take offered calls and close them\n"
        "  console     operate a console from the terminal\n"
        "  load        many devices and bot operators at once; latency histograms, "
        "lost/duplicated\n";
    if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
        std::cout << usage;
        return argc < 2 ? 2 : 0;
    }
    std::string cmd = argv[1];
    // Each subcommand sees its own name as argv[0].
    if (cmd == "provision") return anxin::sim::cmd_provision(argc - 1, argv + 1);
    if (cmd == "press") return anxin::sim::cmd_press(argc - 1, argv + 1);
    if (cmd == "operators") return anxin::sim::cmd_operators(argc - 1, argv + 1);
    if (cmd == "console") return anxin::sim::cmd_console(argc - 1, argv + 1);
    if (cmd == "load") return anxin::sim::cmd_load(argc - 1, argv + 1);
    std::cerr << "device-sim: unknown command '" << cmd << "'\n" << usage;
    return 2;
}
