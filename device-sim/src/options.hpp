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

// --plain, --ca-file, --tls-name: how consoles and the admin API reach the HTTPS port.
void add_https_options(boost::program_options::options_description& desc, device_tls& tls,
                       bool& plain);
// The client context for add_https_options' choices: nullptr for --plain, or after printing why
// the CA could not be loaded (check `plain` to tell which).
std::shared_ptr<boost::asio::ssl::context> https_context(const device_tls& tls, bool plain);

}  // namespace anxin::sim
