#pragma once
// Option parsing shared by device-sim's subcommands.

#include <boost/program_options.hpp>

#include <optional>

namespace anxin::sim {

// Parses argv into vm. Returns an exit code when the command should stop here (2 after printing
// the error and usage, 0 after printing --help), nullopt to go on.
std::optional<int> parse_options(int argc, char** argv,
                                 const boost::program_options::options_description& desc,
                                 boost::program_options::variables_map& vm);

}  // namespace anxin::sim
