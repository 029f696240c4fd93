#pragma once
// Option parsing shared by device-sim's subcommands.

#include "anxin/sim/device_link.hpp"

#include <boost/program_options.hpp>

#include <optional>

namespace anxin::sim {

// Parses argv into vm. Returns an exit code when the command should stop here (2 after printing
// the error and usage, 0 after printing --help), nullopt to go on.
std::optional<int> parse_options(int argc, char** argv,
                                 const boost::program_options::options_description& desc,
                                 boost::program_options::variables_map& vm);

// --plain, --ca-file, --tls-name, --client-cert, --client-key: how devices reach the device port.
void add_tls_options(boost::program_options::options_description& desc, device_tls& tls,
                     bool& plain);

}  // namespace anxin::sim
