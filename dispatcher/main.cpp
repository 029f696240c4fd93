// anxin dispatcher: parses options, wires the server, runs it. Everything else is in the library.

#include "anxin/dispatcher/private_files.hpp"
#include "anxin/dispatcher/secret_box.hpp"
#include "anxin/dispatcher/server.hpp"

#include "anxin/protocol/device_auth.hpp"

#include <spdlog/spdlog.h>
#include <boost/program_options.hpp>

#include <sys/stat.h>
#include <unistd.h>
#include <fstream>
#include <iostream>
#include <optional>
#include <stdexcept>

namespace po = boost::program_options;
using namespace anxin::dispatcher;

namespace {

// The admin token: from --admin-token-file, else $ANXIN_ADMIN_TOKEN, else <data-dir>/admin-token
// (created with a random value, mode 0600 from the start, on first start). Never from the command
// line: every local user can read a process's argv (ps, /proc/PID/cmdline).
std::string load_admin_token(const std::filesystem::path& file,
                             const std::filesystem::path& data_dir) {
    std::string error;
    if (!file.empty()) {
        auto token = read_secret_file(file, error);
        if (!token) throw std::runtime_error(error);
        return *token;
    }
    if (const char* env = std::getenv("ANXIN_ADMIN_TOKEN"); env && *env) return env;
    auto path = data_dir / "admin-token";
    if (!std::filesystem::exists(path)) {
        bool exists = false;
        auto err = create_secret_file(
            path, anxin::protocol::to_hex(anxin::protocol::random_bytes(16)) + "\n", exists);
        if (err.empty())
            spdlog::info("admin token written to {}", path.string());
        else if (!exists)
            throw std::runtime_error(err);
    }
    auto token = read_secret_file(path, error);
    if (!token) throw std::runtime_error(error);
    return *token;
}

// A password from a file, else from an environment variable, else none.
std::optional<std::string> load_password(const std::string& file, const char* env,
                                         const char* what) {
    if (!file.empty()) {
        std::string error;
        auto pw = read_secret_file(file, error);
        if (!pw) throw std::runtime_error(std::string(what) + ": " + error);
        return pw;
    }
    if (const char* v = std::getenv(env); v && *v) return std::string(v);
    return std::nullopt;
}

}  // namespace

int main(int argc, char** argv) {
    // Everything the dispatcher creates (and the embedded redis-server, which inherits the umask:
    // its AOF, RDB and socket) is for its own user only.
    ::umask(0077);
    server_options opts;
    std::string redis_uri, admin_token, log_level, instance, sentinels, sentinel_master;
    std::string metrics_listen, metrics_token_file;
    std::string admin_token_file, secrets_key_file, redis_user, redis_password_file, sentinel_user,
        sentinel_password_file;
    int wait_replicas = 0, wait_timeout_ms = 500;
    int heartbeat_s = 60;
    std::string strategy = "ring-all", priorities;
    double tier_timeout_s = 20, escalation_limit_s = 45, wrap_up_s = 10, grace_s = 60;
    int max_calls = 1;
    int surge_calls_per_minute = 120, surge_waiting = 200;
    int max_tiers = 3, missed_offers = 3, low_battery = 20, auto_close_priority = 3,
        missed_heartbeats = 3;
    po::options_description desc(
        "anxin dispatcher — receives home emergency calls and routes them to operators");
    desc.add_options()("help,h", "show this help")(
        "bind", po::value(&opts.bind_address)->default_value("0.0.0.0"), "address to listen on")(
        "device-port", po::value(&opts.device_port)->default_value(7700),
        "TLS port for call buttons (0: any)")(
        "plain-device-port", po::value(&opts.plain_device_port)->default_value(0),
        "also serve the plaintext device protocol on this port, for devices that cannot do TLS "
        "(0: off; see protocol/README.md for what an on-path attacker can do there)")(
        "tls-cert", po::value(&opts.tls_cert),
        "device port certificate chain (PEM); default: generated once in <data-dir>/tls")(
        "tls-key", po::value(&opts.tls_key), "its private key (PEM)")(
        "tls-client-ca", po::value(&opts.tls_client_ca),
        "accept client certificates issued by this CA (PEM); a device that presents one must be "
        "the device named in it (CN = device id)")(
        "http-port", po::value(&opts.http_port)->default_value(8080),
        "HTTPS port (the device port's certificate): web console, admin API, /metrics (0: any)")(
        "plain-http-port", po::value(&opts.plain_http_port)->default_value(0),
        "also serve plaintext HTTP on this port, e.g. behind a TLS-terminating proxy on the same "
        "host (0: off; passwords and tokens cross it in clear)")(
        "metrics-listen", po::value(&metrics_listen),
        "also serve /metrics (and /healthz) without a token, plaintext, on this address, e.g. "
        "127.0.0.1:9464 for a local Prometheus (default: only on the HTTPS port, with the admin "
        "or metrics token)")(
        "metrics-token-file", po::value(&metrics_token_file),
        "a bearer token that may read /metrics and nothing else (default: $ANXIN_METRICS_TOKEN; "
        "none: the admin token)")(
        "redis", po::value(&redis_uri),
        "use this Redis (redis://host:port, /path/to.sock, or "
        "sentinel://host:port,host:port/master-name) instead of an embedded one")(
        "sentinel", po::value(&sentinels),
        "find the Redis primary through these sentinels (host:port,host:port,...) and follow its "
        "failovers; same as --redis sentinel://LIST/MASTER")(
        "sentinel-master", po::value(&sentinel_master)->default_value("mymaster"),
        "the master name the sentinels monitor (with --sentinel)")(
        "redis-wait-replicas", po::value(&wait_replicas)->default_value(0),
        "ack an alarm only once this many replicas have it (WAIT); fewer within "
        "--redis-wait-timeout-ms: the device is nacked and re-sends (0: ack after the primary's "
        "fsync, as without replicas)")(
        "redis-wait-timeout-ms", po::value(&wait_timeout_ms)->default_value(500),
        "how long an alarm's ack may wait for the replicas (1..2000)")(
        "data-dir", po::value(&opts.data_dir)->default_value("data"),
        "embedded Redis data, TLS keys, the admin token and the secrets key (made mode 0700)")(
        "redis-server", po::value(&opts.redis_binary)->default_value("redis-server"),
        "redis-server binary for the embedded Redis")(
        "instance", po::value(&instance),
        "instance name (default: hostname:device-port); must be unique and stable")(
        "admin-token-file", po::value(&admin_token_file),
        "file holding the bearer token for /api (default: $ANXIN_ADMIN_TOKEN, else "
        "<data-dir>/admin-token, generated on first start)")(
        "secrets-key-file", po::value(&secrets_key_file),
        "AES-256 key (64 hex digits) that encrypts device secrets in Redis; every instance on "
        "one Redis needs the same (default: <data-dir>/secrets.key, generated on first start)")(
        "redis-user", po::value(&redis_user),
        "Redis ACL user (default: the password alone, as for requirepass)")(
        "redis-password-file", po::value(&redis_password_file),
        "file holding the Redis password (default: $ANXIN_REDIS_PASSWORD; none: no AUTH); also "
        "used for the primary found through Sentinel")("sentinel-user", po::value(&sentinel_user),
                                                       "the sentinels' ACL user")(
        "sentinel-password-file", po::value(&sentinel_password_file),
        "file holding the sentinels' password (default: $ANXIN_SENTINEL_PASSWORD; none: no "
        "AUTH)")("heartbeat-interval", po::value(&heartbeat_s)->default_value(60),
                 "seconds between device heartbeats (per-device override in provisioning)")(
        "missed-heartbeats", po::value(&missed_heartbeats)->default_value(3),
        "silent intervals before a device is offline and a call is raised")(
        "pbkdf2-iterations", po::value(&opts.pbkdf2_iterations)->default_value(100000),
        "cost of operator password hashes")("strategy",
                                            po::value(&strategy)->default_value("ring-all"),
                                            "offering within a station: ring-all or longest-idle")(
        "tier-timeout", po::value(&tier_timeout_s)->default_value(20),
        "seconds before the next-nearest station is offered a call as well")(
        "escalation-limit", po::value(&escalation_limit_s)->default_value(45),
        "seconds before an untaken call goes to the command centre")(
        "max-tiers", po::value(&max_tiers)->default_value(3),
        "stations tried before the command centre")(
        "wrap-up", po::value(&wrap_up_s)->default_value(10),
        "seconds after closing a call before new offers")("max-calls-per-operator",
                                                          po::value(&max_calls)->default_value(1),
                                                          "calls an operator may hold at once")(
        "missed-offers", po::value(&missed_offers)->default_value(3),
        "offers in a row an operator may let time out before being set away")(
        "reconnect-grace", po::value(&grace_s)->default_value(60),
        "seconds a vanished console keeps its calls")(
        "priorities", po::value(&priorities),
        "overrides, e.g. smoke=1,inactivity=1 (1 emergency, 2 urgent, 3 technical)")(
        "low-battery", po::value(&low_battery)->default_value(20),
        "battery percent below which a low-battery call is raised")(
        "auto-close-cancelled", po::value(&auto_close_priority)->default_value(3),
        "a resident's cancel closes waiting calls of this priority or less urgent (0: never)")(
        "command-centre-name",
        po::value(&opts.settings.command_centre_name)->default_value("区级养老指挥中心"),
        "shown to devices and consoles")(
        "surge-calls-per-minute", po::value(&surge_calls_per_minute)->default_value(120),
        "supervisors' board: a surge at this many calls received in the last minute (1..100000)")(
        "surge-waiting", po::value(&surge_waiting)->default_value(200),
        "supervisors' board: a surge at this many calls waiting (1..100000)")(
        "map-tile-url", po::value(&opts.settings.map_tile_url),
        "web console: map tiles under the district, e.g. http://tiles.local/{z}/{x}/{y}.png "
        "(default: none; the map is drawn from the coordinates alone)")(
        "log-level", po::value(&log_level)->default_value("info"),
        "trace, debug, info, warn, error");
    // Accepted only to refuse it with a message better than "unrecognised option".
    po::options_description removed;
    removed.add_options()("admin-token", po::value(&admin_token));
    po::options_description all;
    all.add(desc).add(removed);
    po::variables_map vm;
    try {
        // No guessing of abbreviated names: `--redis-password SECRET` must be an unknown option,
        // not --redis-password-file with the password taken for a path (and echoed in the error).
        po::store(po::command_line_parser(argc, argv)
                      .options(all)
                      .style(po::command_line_style::default_style &
                             ~po::command_line_style::allow_guessing)
                      .run(),
                  vm);
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
    if (vm.count("admin-token")) {
        std::cerr << "dispatcher: --admin-token is no longer accepted: any local user can read a "
                     "command line (ps). Put the token in a file (mode 0600) and give "
                     "--admin-token-file PATH, or set $ANXIN_ADMIN_TOKEN, or let the dispatcher "
                     "generate <data-dir>/admin-token\n";
        return 2;
    }
    if (!sentinels.empty()) {
        if (!redis_uri.empty()) {
            std::cerr << "dispatcher: give either --redis or --sentinel, not both\n";
            return 2;
        }
        redis_uri = "sentinel://" + sentinels + "/" + sentinel_master;
    }
    // WAIT blocks the ingest connection for up to the timeout; past the 3 s command timeout the
    // connection would be torn down as unresponsive.
    if (wait_replicas < 0 || wait_replicas > 16 || wait_timeout_ms < 1 || wait_timeout_ms > 2000) {
        std::cerr << "dispatcher: --redis-wait-replicas must be 0..16 and --redis-wait-timeout-ms "
                     "1..2000\n";
        return 2;
    }
    if (wait_replicas > 0 && redis_uri.empty()) {
        std::cerr << "dispatcher: --redis-wait-replicas needs --redis or --sentinel (the embedded "
                     "Redis has no replicas)\n";
        return 2;
    }
    opts.settings.wait_replicas = wait_replicas;
    opts.settings.wait_timeout = std::chrono::milliseconds(wait_timeout_ms);
    if (!redis_uri.empty()) {
        redis_endpoint ep;
        if (!redis_endpoint::parse(redis_uri, ep)) {
            std::cerr << "dispatcher: cannot parse --redis " << redis_uri << "\n";
            return 2;
        }
        try {
            if (auto pw = load_password(redis_password_file, "ANXIN_REDIS_PASSWORD",
                                        "--redis-password-file")) {
                ep.auth.password = *pw;
                ep.auth.user = redis_user;  // a user:pass@ in --redis yields to the options
            } else if (!redis_user.empty()) {
                std::cerr << "dispatcher: --redis-user needs --redis-password-file or "
                             "$ANXIN_REDIS_PASSWORD\n";
                return 2;
            }
            if (auto pw = load_password(sentinel_password_file, "ANXIN_SENTINEL_PASSWORD",
                                        "--sentinel-password-file")) {
                ep.sentinel_auth.password = *pw;
                ep.sentinel_auth.user = sentinel_user;
            } else if (!sentinel_user.empty()) {
                std::cerr << "dispatcher: --sentinel-user needs --sentinel-password-file or "
                             "$ANXIN_SENTINEL_PASSWORD\n";
                return 2;
            }
        } catch (const std::exception& e) {
            std::cerr << "dispatcher: " << e.what() << "\n";
            return 2;
        }
        opts.redis = ep;
    } else if (!redis_user.empty() || !redis_password_file.empty() || !sentinel_user.empty() ||
               !sentinel_password_file.empty()) {
        std::cerr << "dispatcher: Redis credentials need --redis or --sentinel (the embedded "
                     "Redis listens only on a private unix socket)\n";
        return 2;
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
    if (missed_heartbeats < 1 || missed_heartbeats > 10) {
        std::cerr << "dispatcher: --missed-heartbeats must be 1..10\n";
        return 2;
    }
    opts.settings.supervision.missed_heartbeats = missed_heartbeats;
    auto& rc = opts.settings.routing;
    if (strategy == "ring-all")
        rc.offer_strategy = routing_config::strategy::ring_all;
    else if (strategy == "longest-idle")
        rc.offer_strategy = routing_config::strategy::longest_idle;
    else {
        std::cerr << "dispatcher: --strategy must be ring-all or longest-idle\n";
        return 2;
    }
    if (tier_timeout_s < 1 || escalation_limit_s < tier_timeout_s || max_tiers < 0 ||
        missed_offers < 1 || wrap_up_s < 0 || grace_s < 0 || low_battery < 0 || low_battery > 100 ||
        auto_close_priority < 0 || auto_close_priority > 3) {
        std::cerr << "dispatcher: call-handling options out of range (see --help)\n";
        return 2;
    }
    rc.tier_timeout_ms = static_cast<std::int64_t>(tier_timeout_s * 1000);
    rc.escalation_limit_ms = static_cast<std::int64_t>(escalation_limit_s * 1000);
    rc.max_station_tiers = max_tiers;
    if (max_calls < 1 || max_calls > 20) {
        std::cerr << "dispatcher: --max-calls-per-operator must be 1..20\n";
        return 2;
    }
    rc.max_calls_per_operator = max_calls;
    rc.missed_offers_before_away = missed_offers;
    rc.reconnect_grace_ms = static_cast<std::int64_t>(grace_s * 1000);
    opts.settings.wrap_up_ms = static_cast<std::int64_t>(wrap_up_s * 1000);
    opts.settings.supervision.low_battery_percent = low_battery;
    opts.settings.supervision.battery_recovered_percent = std::min(100, low_battery + 10);
    opts.settings.auto_close_cancelled_priority = auto_close_priority;
    if (surge_calls_per_minute < 1 || surge_calls_per_minute > 100000 || surge_waiting < 1 ||
        surge_waiting > 100000) {
        std::cerr << "dispatcher: --surge-calls-per-minute and --surge-waiting must be 1..100000\n";
        return 2;
    }
    opts.settings.surge_calls_per_minute = static_cast<std::uint32_t>(surge_calls_per_minute);
    opts.settings.surge_waiting = static_cast<std::uint32_t>(surge_waiting);
    if (!priorities.empty()) {
        std::string err;
        auto table = priority_table::parse(priorities, err);
        if (!table) {
            std::cerr << "dispatcher: --priorities: " << err << "\n";
            return 2;
        }
        opts.settings.priorities = *table;
    }
    if (instance.empty()) {
        char host[256] = {};
        gethostname(host, sizeof host - 1);
        instance = std::string(host) + ":" + std::to_string(opts.device_port);
    }
    if (instance.find_first_of(" \t\r\n") != std::string::npos || instance.size() > 200) {
        std::cerr << "dispatcher: --instance: no spaces, at most 200 characters\n";
        return 2;
    }
    opts.settings.instance = instance;
    // The data directory holds the embedded Redis's AOF (residents' records, password hashes),
    // the TLS keys, the admin token and the secrets key: the dispatcher's user alone may enter.
    if (auto err = make_private_dir(opts.data_dir); !err.empty()) {
        std::cerr << "dispatcher: --data-dir: " << err << "\n";
        return 2;
    }
    if (int n = tighten_private_tree(opts.data_dir); n > 0)
        spdlog::warn("{} entries under {} were readable by others: narrowed (see above)", n,
                     opts.data_dir.string());
    try {
        opts.settings.admin_token = load_admin_token(admin_token_file, opts.data_dir);
    } catch (const std::exception& e) {
        std::cerr << "dispatcher: admin token: " << e.what() << "\n";
        return 2;
    }
    if (!metrics_listen.empty()) {
        // host:port, [v6]:port
        const auto colon = metrics_listen.rfind(':');
        boost::system::error_code ec;
        std::string host = colon == std::string::npos ? "" : metrics_listen.substr(0, colon);
        if (host.size() > 2 && host.front() == '[' && host.back() == ']')
            host = host.substr(1, host.size() - 2);
        const auto addr = boost::asio::ip::make_address(host, ec);
        const int port =
            colon == std::string::npos ? -1 : std::atoi(metrics_listen.substr(colon + 1).c_str());
        if (ec || port < 0 || port > 65535) {
            std::cerr << "dispatcher: --metrics-listen must be address:port, e.g. 127.0.0.1:9464\n";
            return 2;
        }
        opts.metrics_listen.emplace(addr, static_cast<unsigned short>(port));
    }
    if (!metrics_token_file.empty()) {
        std::ifstream in(metrics_token_file);
        if (!in || !std::getline(in, opts.settings.metrics_token) ||
            opts.settings.metrics_token.size() < 16) {
            std::cerr << "dispatcher: --metrics-token-file: cannot read a token of at least 16 "
                         "characters from "
                      << metrics_token_file << "\n";
            return 2;
        }
    } else if (const char* env = std::getenv("ANXIN_METRICS_TOKEN"); env && *env) {
        opts.settings.metrics_token = env;
    }
    {
        auto path = secrets_key_file.empty() ? opts.data_dir / "secrets.key"
                                             : std::filesystem::path(secrets_key_file);
        bool created = false;
        std::string error;
        auto key = load_or_create_secrets_key(path, created, error);
        if (!key) {
            std::cerr << "dispatcher: --secrets-key-file: " << error << "\n";
            return 2;
        }
        if (created)
            spdlog::warn(
                "device secrets key generated in {}: back it up, and give every other instance on "
                "this Redis a copy (--secrets-key-file); without it no device can authenticate",
                path.string());
        opts.secrets = std::make_shared<const secret_box>(*key);
    }
    server s(std::move(opts));
    return s.run();
}
