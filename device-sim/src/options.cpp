#include "options.hpp"

#include <iostream>

namespace po = boost::program_options;

namespace anxin::sim {

std::optional<int> parse_options(int argc, char** argv, const po::options_description& desc,
                                 po::variables_map& vm) {
    try {
        po::store(po::parse_command_line(argc, argv, desc), vm);
        if (vm.count("help")) {
            std::cout << desc;
            return 0;
        }
        po::notify(vm);
    } catch (const std::exception& e) {
        std::cerr << e.what() << "\n" << desc;
        return 2;
    }
    return std::nullopt;
}

}  // namespace anxin::sim
