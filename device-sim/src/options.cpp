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

void add_tls_options(po::options_description& desc, device_tls& tls, bool& plain) {
    desc.add_options()(
        "plain", po::bool_switch(&plain),
        "plaintext device protocol (the dispatcher's --plain-device-port) instead of TLS; for "
        "load's bots, plaintext HTTP (its --plain-http-port)")(
        "ca-file", po::value(&tls.ca_file)->default_value("data/tls/ca.pem"),
        "CA the dispatcher's certificate must chain to (its <data-dir>/tls/ca.pem)")(
        "tls-name", po::value(&tls.server_name),
        "name the certificate must carry (default: the host connected to)")(
        "client-cert", po::value(&tls.client_cert),
        "client certificate (PEM), if the device has one")(
        "client-key", po::value(&tls.client_key), "its key (PEM; default: in --client-cert)");
}

void add_https_options(po::options_description& desc, device_tls& tls, bool& plain) {
    desc.add_options()("plain", po::bool_switch(&plain),
                       "plaintext HTTP (the dispatcher's --plain-http-port) instead of HTTPS")(
        "ca-file", po::value(&tls.ca_file)->default_value("data/tls/ca.pem"),
        "CA the dispatcher's certificate must chain to (its <data-dir>/tls/ca.pem)")(
        "tls-name", po::value(&tls.server_name),
        "name the certificate must carry (default: the host connected to)");
}

std::shared_ptr<boost::asio::ssl::context> https_context(const device_tls& tls, bool plain) {
    if (plain) return nullptr;
    device_tls t = tls;
    t.enabled = true;
    std::string error;
    auto ctx = make_client_context(t, error);
    if (!ctx) std::cerr << "device-sim: " << error << " (or --plain for plaintext HTTP)\n";
    return ctx;
}

}  // namespace anxin::sim
