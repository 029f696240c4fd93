// device-sim provision: generate a district and load it through the admin API.

#include "commands.hpp"
#include "options.hpp"
#include "sim_files.hpp"

#include "anxin/dispatcher/geo.hpp"
#include "anxin/sim/district.hpp"
#include "anxin/sim/http_client.hpp"

#include <google/protobuf/util/json_util.h>
#include <boost/program_options.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

namespace po = boost::program_options;

namespace anxin::sim {

namespace {
std::string to_json(const google::protobuf::Message& m) {
    std::string out;
    google::protobuf::util::JsonPrintOptions opts;
    opts.preserve_proto_field_names = true;
    (void)google::protobuf::util::MessageToJsonString(m, &out, opts);
    return out;
}
}  // namespace

int cmd_provision(int argc, char** argv) {
    district_options d;
    std::string host, token, token_file, out_dir;
    unsigned short http_port = 8080;
    int batch = 1000;
    po::options_description desc(
        "device-sim provision: generate a district (Tongzhou-like) and load it");
    desc.add_options()("help,h", "help")("host", po::value(&host)->default_value("127.0.0.1"),
                                         "dispatcher host")(
        "http-port", po::value(&http_port)->default_value(8080), "dispatcher HTTPS port")(
        "admin-token", po::value(&token),
        "admin bearer token (visible in ps: prefer $ANXIN_ADMIN_TOKEN or --admin-token-file)")(
        "admin-token-file", po::value(&token_file)->default_value("data/admin-token"),
        "file holding the admin token (used when neither --admin-token nor $ANXIN_ADMIN_TOKEN "
        "is set)")("seed", po::value(&d.seed)->default_value(d.seed),
                   "random seed: same seed, same district")(
        "stations", po::value(&d.stations)->default_value(139), "number of care stations")(
        "residents", po::value(&d.residents)->default_value(2000),
        "number of residents (one call button each)")(
        "operators-per-station", po::value(&d.operators_per_station)->default_value(2),
        "operators per station")("supervisors", po::value(&d.supervisors)->default_value(3),
                                 "supervisors at the district command centre")(
        "password", po::value(&d.operator_password)->default_value("anxin-demo"),
        "password of every generated operator")("batch", po::value(&batch)->default_value(1000),
                                                "residents per admin API request")(
        "out", po::value(&out_dir)->default_value("sim-data"),
        "directory for devices.csv and operators.csv");
    device_tls tls;
    bool plain = false;
    add_https_options(desc, tls, plain);
    po::variables_map vm;
    if (auto stop = parse_options(argc, argv, desc, vm)) return *stop;
    auto https = https_context(tls, plain);
    if (!plain && !https) return 2;
    if (token.empty()) {
        if (const char* env = std::getenv("ANXIN_ADMIN_TOKEN"); env && *env) token = env;
    }
    if (token.empty()) {
        auto t = read_first_line(token_file);
        if (!t) {
            std::cerr << "device-sim: no --admin-token, no $ANXIN_ADMIN_TOKEN, and cannot read "
                      << token_file << "\n";
            return 2;
        }
        token = *t;
    }
    auto started = std::chrono::steady_clock::now();
    auto dist = generate_district(d);

    auto post = [&](const anxin::admin::v1::ProvisionRequest& req) {
        auto r = http_request(host, http_port, "POST", "/api/provision", to_json(req), token,
                              std::chrono::seconds(60), https, tls.server_name);
        if (r.status != 200) {
            std::cerr << "device-sim: provision failed: HTTP " << r.status << " " << r.body << "\n";
            return false;
        }
        return true;
    };
    // Stations first (operators refer to them), then operators, then residents in batches.
    {
        anxin::admin::v1::ProvisionRequest req;
        for (const auto& s : dist.stations) *req.add_stations() = s;
        for (const auto& o : dist.operators) *req.add_operators() = o;
        if (!post(req)) return 1;
    }
    for (std::size_t i = 0; i < dist.residents.size(); i += static_cast<std::size_t>(batch)) {
        anxin::admin::v1::ProvisionRequest req;
        for (std::size_t j = i;
             j < std::min(dist.residents.size(), i + static_cast<std::size_t>(batch)); ++j) {
            *req.add_residents() = dist.residents[j];
        }
        if (!post(req)) return 1;
    }

    std::filesystem::create_directories(out_dir);
    {
        std::ofstream f(out_dir + "/devices.csv");
        f << "device_id,secret,resident_id,lat,lon,name\n";
        for (const auto& r : dist.residents) {
            for (const auto& dev : r.devices()) {
                char ll[64];
                std::snprintf(ll, sizeof ll, "%.6f,%.6f", r.lat(), r.lon());
                f << dev.id() << "," << dev.secret() << "," << r.id() << "," << ll << ","
                  << r.name() << "\n";
            }
        }
    }
    {
        std::ofstream f(out_dir + "/operators.csv");
        f << "operator_id,password,station_id,name\n";  // station_id "cc": a command-centre
                                                        // supervisor
        for (const auto& o : dist.operators) {
            f << o.id() << "," << o.password() << ","
              << (o.role() == "supervisor" ? "cc" : o.station_id()) << "," << o.name() << "\n";
        }
    }
    std::filesystem::permissions(out_dir + "/devices.csv", std::filesystem::perms::owner_read |
                                                               std::filesystem::perms::owner_write);
    // A pairing for demos: the first resident whose nearest station is the first station, so a
    // person logged in as that station's second operator is offered this resident's call.
    if (!dist.stations.empty()) {
        const auto& first = dist.stations.front();
        for (const auto& r : dist.residents) {
            const anxin::admin::v1::Station* nearest = nullptr;
            double best = 1e9;
            for (const auto& st : dist.stations) {
                double km =
                    anxin::dispatcher::great_circle_km({r.lat(), r.lon()}, {st.lat(), st.lon()});
                if (km < best) best = km, nearest = &st;
            }
            if (nearest == &first && r.devices_size() > 0) {
                std::string op = "op-" + first.id().substr(3) + "-" +
                                 std::to_string(std::min(2, d.operators_per_station));
                std::ofstream(out_dir + "/demo-pair.txt") << r.devices(0).id() << " " << op << "\n";
                std::cout << "demo pair: device " << r.devices(0).id() << " (" << r.name()
                          << ") is nearest to " << first.id() << " " << first.name()
                          << ", whose operators include " << op << "\n";
                break;
            }
        }
    }
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::steady_clock::now() - started)
                  .count();
    std::cout << "provisioned " << dist.stations.size() << " stations in "
              << district_areas().size() << " streets/towns, " << dist.residents.size()
              << " residents with devices, " << dist.operators.size() << " operators ("
              << d.supervisors << " of them command-centre supervisors) in " << ms << " ms\n"
              << "device secrets: " << out_dir << "/devices.csv; operator accounts: " << out_dir
              << "/operators.csv\n";
    return 0;
}

}  // namespace anxin::sim
