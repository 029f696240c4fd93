// anxin dispatcher: parses options, wires the server, runs it. Everything else is in the library.

#include "anxin/dispatcher/server.hpp"

#include "anxin/protocol/device_auth.hpp"

#include <boost/program_options.hpp>
#include <spdlog/spdlog.h>

#include <fstream>
#include <iostream>
#include <sys/stat.h>
#include <unistd.h>

namespace po = boost::program_options;
using namespace anxin::dispatcher;

namespace {

// The admin token: --admin-token, else $ANXIN_ADMIN_TOKEN, else <data-dir>/admin-token
// (created with a random value, mode 0600, on first start).
std::string load_admin_token(const std::string& flag, const std::filesystem::path& data_dir) {
    if (!flag.empty()) return flag;
    if (const char* env = std::getenv("ANXIN_ADMIN_TOKEN"); env && *env) return env;
    auto path = data_dir / "admin-token";
    std::ifstream in(path);
    std::string token;
    if (in && std::getline(in, token) && !token.empty()) return token;
    std::filesystem::create_directories(data_dir);
    token = anxin::protocol::to_hex(anxin::protocol::random_bytes(16));
    std::ofstream out(path, std::ios::trunc);
    out << token << "\n";
    out.close();
    ::chmod(path.c_str(), 0600);
    spdlog::info("admin token written to {}", path.string());
    return token;
}

}  // namespace

int main(int argc, char** argv) {
    server_options opts;
    std::string redis_uri, admin_token, log_level, instance;
    int heartbeat_s = 60;
    po::options_description desc("anxin dispatcher — receives home emergency calls and routes them to operators");
    desc.add_options()
        ("help,h", "show this help")
        ("bind", po::value(&opts.bind_address)->default_value("0.0.0.0"), "address to listen on")
        ("device-port", po::value(&opts.device_port)->default_value(7700), "TCP port for call buttons (0: any)")
        ("http-port", po::value(&opts.http_port)->default_value(8080), "HTTP port: admin API, /console, /metrics (0: any)")
        ("redis", po::value(&redis_uri), "use this Redis (redis://host:port or /path/to.sock) instead of an embedded one")
        ("data-dir", po::value(&opts.data_dir)->default_value("data"), "embedded Redis data and the admin token")
        ("redis-server", po::value(&opts.redis_binary)->default_value("redis-server"), "redis-server binary for the embedded Redis")
        ("instance", po::value(&instance), "instance name (default: hostname:device-port); must be unique and stable")
        ("admin-token", po::value(&admin_token), "bearer token for /api (default: $ANXIN_ADMIN_TOKEN or <data-dir>/admin-token)")
        ("heartbeat-interval", po::value(&heartbeat_s)->default_value(60), "seconds between device heartbeats")
        ("pbkdf2-iterations", po::value(&opts.pbkdf2_iterations)->default_value(100000), "cost of operator password hashes")
        ("log-level", po::value(&log_level)->default_value("info"), "trace, debug, info, warn, error");
    po::variables_map vm;
    try {
        po::store(po::parse_command_line(argc, argv, desc), vm);
        po::notify(vm);
    } catch (const std::exception& e) {
        std::cerr << "dispatcher: " << e.what() << "\n" << desc << "\n";
        return 2;
    }
    if (vm.count("help")) {
        std::cout << desc << "\n";
        return 0;
    }
    spdlog::set_level(spdlog::level::from_str(log_level));
    spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
    if (!redis_uri.empty()) {
        redis_endpoint ep;
        if (!redis_endpoint::parse(redis_uri, ep)) {
            std::cerr << "dispatcher: cannot parse --redis " << redis_uri << "\n";
            return 2;
        }
        opts.redis = ep;
    }
    if (heartbeat_s < 5 || heartbeat_s > 3600) {
        std::cerr << "dispatcher: --heartbeat-interval must be 5..3600 s\n";
        return 2;
    }
    if (opts.pbkdf2_iterations < 1000) {
        std::cerr << "dispatcher: --pbkdf2-iterations must be at least 1000\n";
        return 2;
    }
    opts.settings.heartbeat_interval = std::chrono::seconds(heartbeat_s);
    if (instance.empty()) {
        char host[256] = {};
        gethostname(host, sizeof host - 1);
        instance = std::string(host) + ":" + std::to_string(opts.device_port);
    }
    opts.settings.instance = instance;
    try {
        opts.settings.admin_token = load_admin_token(admin_token, opts.data_dir);
    } catch (const std::exception& e) {
        std::cerr << "dispatcher: admin token: " << e.what() << "\n";
        return 2;
    }
    server s(std::move(opts));
    return s.run();
}
