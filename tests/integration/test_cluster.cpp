#include "test_cluster.hpp"

#include <boost/asio/ip/tcp.hpp>

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <iostream>
#include <random>
#include <regex>
#include <sstream>
#include <thread>

using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace anxin::test {

unsigned short free_port() {
    boost::asio::io_context io;
    boost::asio::ip::tcp::acceptor a(io,
                                     boost::asio::ip::tcp::endpoint(boost::asio::ip::tcp::v4(), 0));
    return a.local_endpoint().port();
}

child_process::~child_process() {
    if (pid_ > 0) kill9();
}

bool child_process::spawn(const std::vector<std::string>& argv, const fs::path& log) {
    pid_t pid = fork();
    if (pid < 0) return false;
    if (pid == 0) {
        if (open_files_ > 0) {
            rlimit r{open_files_, open_files_};
            setrlimit(RLIMIT_NOFILE, &r);
        }
        int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        std::vector<char*> args;
        for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        execvp(args[0], args.data());
        _exit(127);
    }
    pid_ = pid;
    return true;
}

void child_process::signal(int sig) {
    if (pid_ > 0) ::kill(pid_, sig);
}

bool child_process::running() {
    if (pid_ <= 0) return false;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        last_status_ = status;
        return false;
    }
    return true;
}

int child_process::stop(std::chrono::milliseconds timeout) {
    if (pid_ <= 0) return -1;
    ::kill(pid_, SIGTERM);
    auto until = std::chrono::steady_clock::now() + timeout;
    int status = 0;
    while (std::chrono::steady_clock::now() < until) {
        if (waitpid(pid_, &status, WNOHANG) == pid_) {
            pid_ = -1;
            last_status_ = status;
            return status;
        }
        std::this_thread::sleep_for(20ms);
    }
    kill9();
    return -1;
}
std::optional<int> child_process::wait(std::chrono::milliseconds timeout) {
    if (pid_ <= 0) return std::nullopt;
    auto until = std::chrono::steady_clock::now() + timeout;
    int status = 0;
    while (std::chrono::steady_clock::now() < until) {
        if (waitpid(pid_, &status, WNOHANG) == pid_) {
            pid_ = -1;
            if (WIFEXITED(status)) return WEXITSTATUS(status);
            return std::nullopt;
        }
        std::this_thread::sleep_for(50ms);
    }
    return std::nullopt;
}

void child_process::kill9() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
}

redis_server::redis_server(fs::path dir, unsigned short tcp_port)
    : dir_(std::move(dir)), tcp_port_(tcp_port) {}

bool redis_server::start() {
    fs::create_directories(dir_);
    if (client_) {
        redisFree(client_);
        client_ = nullptr;
    }
    proc_.spawn(
        {"redis-server", "--port", std::to_string(tcp_port_), "--bind", "127.0.0.1", "--unixsocket",
         socket_path(), "--unixsocketperm", "700", "--dir", dir_.string(), "--appendonly", "yes",
         "--appendfsync", "always", "--save", "", "--daemonize", "no"},
        dir_ / "redis.log");
    for (int i = 0; i < 200; ++i) {
        if (redisContext* c = redisConnectUnix(socket_path().c_str()); c && !c->err) {
            auto* r = static_cast<redisReply*>(redisCommand(c, "PING"));
            bool ok = r && r->type == REDIS_REPLY_STATUS;
            if (r) freeReplyObject(r);
            redisFree(c);
            if (ok) return true;
        } else if (c) {
            redisFree(c);
        }
        std::this_thread::sleep_for(25ms);
    }
    return false;
}

void redis_server::stop() {
    if (client_) {
        redisFree(client_);
        client_ = nullptr;
    }
    proc_.stop();
}

void redis_server::kill9() {
    if (client_) {
        redisFree(client_);
        client_ = nullptr;
    }
    proc_.kill9();
}

redisContext* redis_server::client() {
    if (!client_) client_ = redisConnectUnix(socket_path().c_str());
    return client_;
}

std::string redis_server::get(const std::string& key) {
    auto* r = static_cast<redisReply*>(redisCommand(client(), "GET %s", key.c_str()));
    std::string out = r && r->type == REDIS_REPLY_STRING ? std::string(r->str, r->len) : "";
    if (r) freeReplyObject(r);
    return out;
}

std::string redis_server::hget(const std::string& key, const std::string& field) {
    auto* r =
        static_cast<redisReply*>(redisCommand(client(), "HGET %s %s", key.c_str(), field.c_str()));
    std::string out = r && r->type == REDIS_REPLY_STRING ? std::string(r->str, r->len) : "";
    if (r) freeReplyObject(r);
    return out;
}

std::vector<std::string> redis_server::list(const std::string& key) {
    std::vector<std::string> out;
    auto* r = static_cast<redisReply*>(redisCommand(client(), "LRANGE %s 0 -1", key.c_str()));
    if (r && r->type == REDIS_REPLY_ARRAY) {
        for (std::size_t i = 0; i < r->elements; ++i)
            out.emplace_back(r->element[i]->str, r->element[i]->len);
    }
    if (r) freeReplyObject(r);
    return out;
}

long long redis_server::integer_command(const std::string& cmd) {
    auto* r = static_cast<redisReply*>(redisCommand(client(), cmd.c_str()));
    long long out = r && r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
    if (r) freeReplyObject(r);
    return out;
}

dispatcher_process::dispatcher_process(fs::path data_dir, std::string redis_uri,
                                       std::string admin_token)
    : data_dir_(std::move(data_dir)),
      redis_uri_(std::move(redis_uri)),
      admin_token_(std::move(admin_token)) {}

dispatcher_process::~dispatcher_process() {
    // Every test, whatever it asserts, also fails if a dispatcher crashed under it: a process
    // that was up and is gone without the test stopping it, or a sanitizer report in its log
    // (the sanitizer build aborts on the first one; LeakSanitizer reports at a clean exit).
    if (up_ && !proc_.running()) {
        ADD_FAILURE() << "dispatcher " << data_dir_.filename().string()
                      << " died on its own: " << describe_status(proc_.last_status()) << "\n"
                      << log_tail(80);
    }
    stop();
    if (auto report = sanitizer_report(); !report.empty()) {
        ADD_FAILURE() << "sanitizer report in " << (data_dir_ / "dispatcher.log").string() << ":\n"
                      << report;
    }
}

int dispatcher_process::stop() {
    up_ = false;
    return proc_.stop();
}

void dispatcher_process::kill9() {
    up_ = false;
    proc_.kill9();
}

std::string dispatcher_process::sanitizer_report() const {
    std::ifstream in(data_dir_ / "dispatcher.log");
    std::string line, out;
    bool in_report = false;
    std::size_t lines = 0;
    while (std::getline(in, line)) {
        if (!in_report && (line.find("ERROR: AddressSanitizer") != std::string::npos ||
                           line.find("ERROR: LeakSanitizer") != std::string::npos ||
                           line.find("runtime error:") != std::string::npos)) {
            in_report = true;
        }
        if (in_report && lines++ < 60) out += line + "\n";
    }
    return out;
}

std::shared_ptr<boost::asio::ssl::context> dispatcher_process::client_tls() {
    if (!tls_) {
        std::string error;
        tls_ = sim::make_client_context({true, ca_file().string(), "", "", ""}, error);
        if (!tls_) ADD_FAILURE() << error;
    }
    return tls_;
}

std::unique_ptr<sim::device_link> dispatcher_process::open_device_link(
    boost::asio::io_context& io) {
    auto link = std::make_unique<sim::device_link>(io);
    link->use_tls(client_tls(), "localhost");
    if (!link->connect("127.0.0.1", device_port_, 5s)) {
        std::cerr << "device link: " << link->error() << std::endl;
        return nullptr;
    }
    return link;
}

long dispatcher_process::rss_kb() const {
    std::ifstream in("/proc/" + std::to_string(proc_.pid()) + "/status");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("VmRSS:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
    }
    return 0;
}

sim::http_result dispatcher_process::https(const std::string& method, const std::string& target,
                                           const std::string& body, const std::string& token) {
    return sim::http_request("127.0.0.1", http_port_, method, target, body, token,
                             std::chrono::seconds(10), client_tls());
}

std::string describe_status(int status) {
    if (WIFEXITED(status)) return "exit code " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status)) {
        return std::string("killed by signal ") + std::to_string(WTERMSIG(status)) + " (" +
               strsignal(WTERMSIG(status)) + ")";
    }
    return "status " + std::to_string(status);
}

bool dispatcher_process::start(const std::vector<std::string>& extra) {
    fs::create_directories(data_dir_);
    if (device_port_ == 0) {
        device_port_ = free_port();
        plain_device_port_ = free_port();
        http_port_ = free_port();
        plain_http_port_ = free_port();
    }
    std::vector<std::string> argv = {ANXIN_DISPATCHER_BIN,
                                     "--bind",
                                     "127.0.0.1",
                                     "--device-port",
                                     std::to_string(device_port_),
                                     "--plain-device-port",
                                     std::to_string(plain_device_port_),
                                     "--http-port",
                                     std::to_string(http_port_),
                                     "--plain-http-port",
                                     std::to_string(plain_http_port_),
                                     "--data-dir",
                                     data_dir_.string(),
                                     "--admin-token-file",
                                     admin_token_file().string(),
                                     "--instance",
                                     "test-" + std::to_string(device_port_),
                                     "--log-level",
                                     "debug"};
    if (!redis_uri_.empty()) {
        argv.push_back("--redis");
        argv.push_back(redis_uri_);
    }
    if (!tls_dir_.empty()) {
        for (const auto& a : {std::string("--tls-cert"), (tls_dir_ / "server.pem").string(),
                              std::string("--tls-key"), (tls_dir_ / "server.key").string()})
            argv.push_back(a);
    }
    // Cheap password hashes unless a test measures their real cost.
    if (std::find(extra.begin(), extra.end(), "--pbkdf2-iterations") == extra.end()) {
        argv.push_back("--pbkdf2-iterations");
        argv.push_back("1000");
    }
    if (!secrets_key_.empty()) {
        argv.push_back("--secrets-key-file");
        argv.push_back(secrets_key_.string());
    }
    argv.insert(argv.end(), extra.begin(), extra.end());
    ++starts_;
    {
        // Mode 0600 from the start, as an administrator would write it.
        int fd = ::open(admin_token_file().c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0) return false;
        auto line = admin_token_ + "\n";
        bool written = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
        ::close(fd);
        if (!written) return false;
    }
    {
        std::ofstream(data_dir_ / "dispatcher.log", std::ios::app)
            << "---- start " << starts_ << " ----\n";
    }
    if (!proc_.spawn(argv, data_dir_ / "dispatcher.log")) return false;
    for (int i = 0; i < 400; ++i) {
        auto r = sim::http_request("127.0.0.1", plain_http_port_, "GET", "/healthz", "", "",
                                   std::chrono::seconds(1));
        if (r.status == 200) {
            up_ = true;
            return true;
        }
        if (!proc_.running()) return false;
        std::this_thread::sleep_for(50ms);
    }
    return false;
}

std::string dispatcher_process::log_tail(std::size_t lines) const {
    std::ifstream in(data_dir_ / "dispatcher.log");
    std::deque<std::string> tail;
    std::string line;
    while (std::getline(in, line)) {
        tail.push_back(line);
        if (tail.size() > lines) tail.pop_front();
    }
    std::string out;
    for (const auto& l : tail) out += l + "\n";
    return out;
}

std::string secret_of(const std::string& device_id) {
    return "secret-of-" + device_id + "-0123456789";
}

std::string district_json() {
    auto resident = [](const char* id, const char* name, double lat, double lon, const char* dev,
                       int heartbeat) {
        char buf[1024];
        std::snprintf(
            buf, sizeof buf,
            R"({"id":"%s","name":"%s","address":"Tongzhou, Building %s","phone":"13800000%s",)"
            R"("lat":%.4f,"lon":%.4f,"date_of_birth":"1938-05-04","health_conditions":"heart failure",)"
            R"("medication":"furosemide 40 mg mornings","gp":"Dr. Zhao, 010-60001234",)"
            R"("key_holders":[{"name":"Wang Li","relation":"daughter","phone":"13900000001"},)"
            R"({"name":"Neighbour Chen","relation":"neighbour","phone":"13900000002"}],)"
            R"("devices":[{"id":"%s","secret":"%s","heartbeat_interval_s":%d}]})",
            id, name, id + 4, id + 4, lat, lon, dev, secret_of(dev).c_str(), heartbeat);
        return std::string(buf);
    };
    std::string residents = resident("res-1", "Wang Guilan", 39.901, 116.601, "dev-1", 0) + "," +
                            resident("res-2", "Li Jianguo", 39.951, 116.701, "dev-2", 0) + "," +
                            resident("res-3", "Zhang Xiuying", 39.899, 116.602, "dev-3", 5);
    return std::string(
               R"({"stations":[)"
               R"({"id":"st-a","name":"Zhongcang station","area":"Zhongcang","lat":39.900,"lon":116.600},)"
               R"({"id":"st-b","name":"Songzhuang station","area":"Songzhuang","lat":39.950,"lon":116.700},)"
               R"({"id":"st-c","name":"Zhangjiawan station","area":"Zhangjiawan","lat":39.850,"lon":116.650}],)"
               R"("operators":[)"
               R"({"id":"op-a1","name":"Liu Fang","station_id":"st-a","password":"correct-horse-1"},)"
               R"({"id":"op-a2","name":"Zhang Wei","station_id":"st-a","password":"correct-horse-1"},)"
               R"({"id":"op-b1","name":"Wang Jing","station_id":"st-b","password":"correct-horse-1"},)"
               R"({"id":"op-c1","name":"Chen Lei","station_id":"st-c","password":"correct-horse-1"},)"
               R"({"id":"sup-1","name":"Zhou Qiang","role":"supervisor","password":"correct-horse-1"}],)"
               R"("residents":[)") +
           residents + "]}";
}

cluster::cluster(redis_mode mode) : mode_(mode) {
    std::random_device rd;
    // Short paths: a unix socket path must fit in 108 bytes.
    dir_ = fs::temp_directory_path() /
           ("anx-" + std::to_string(getpid()) + "-" + std::to_string(rd() % 100000));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    std::string uri;
    if (mode_ == redis_mode::unix_socket) {
        redis_ = std::make_unique<redis_server>(dir_ / "redis");
        uri = redis_->socket_path();
    } else if (mode_ == redis_mode::tcp) {
        auto port = free_port();
        redis_ = std::make_unique<redis_server>(dir_ / "redis", port);
        uri = "redis://127.0.0.1:" + std::to_string(port);
    }
    redis_uri_ = uri;
    dispatcher_ = std::make_unique<dispatcher_process>(dir_ / "d1", uri, token_);
}

dispatcher_process* cluster::add_dispatcher(const std::vector<std::string>& args) {
    // (Appended, not "d" + to_string(...): g++ 12 -O3 warns falsely on that, PR 105329.)
    std::string name = "d";
    name += std::to_string(more_.size() + 2);
    more_.push_back(std::make_unique<dispatcher_process>(dir_ / name, redis_uri_, token_));
    // One certificate for every instance, as in a deployment: a device trusts one CA.
    more_.back()->share_tls_with(*dispatcher_);
    more_.back()->share_secrets_key_with(*dispatcher_);
    if (!more_.back()->start(args)) return nullptr;
    return more_.back().get();
}

cluster::~cluster() {
    // Each instance checks, as it is destroyed, that it did not crash, then stops.
    more_.clear();
    dispatcher_.reset();
    if (redis_) redis_->stop();
    if (std::getenv("ANXIN_KEEP_TEST_DIRS") == nullptr) fs::remove_all(dir_);
}

bool cluster::start(const std::vector<std::string>& dispatcher_args) {
    if (redis_ && !redis_->start()) return false;
    return dispatcher_->start(dispatcher_args);
}

bool cluster::provision() {
    auto r = http("POST", "/api/provision", district_json());
    return r.status == 200;
}

std::unique_ptr<sim::device_link> cluster::device(const std::string& id,
                                                  std::uint64_t sequence_epoch) {
    return device_on(*dispatcher_, id, sequence_epoch);
}

std::unique_ptr<sim::console_link> cluster::console(const std::string& op) {
    return console_on(*dispatcher_, op);
}

std::unique_ptr<sim::device_link> cluster::device_on(dispatcher_process& d, const std::string& id,
                                                     std::uint64_t sequence_epoch) {
    auto link = d.open_device_link(io);
    if (!link) return nullptr;
    auto w = link->handshake(id, secret_of(id), 5s, sequence_epoch);
    if (!w || !w->has_welcome()) return nullptr;
    return link;
}

std::unique_ptr<sim::console_link> cluster::console_on(dispatcher_process& d,
                                                       const std::string& op) {
    auto link = std::make_unique<sim::console_link>(io);
    link->use_tls(d.client_tls());
    if (!link->connect("127.0.0.1", d.http_port(), 5s)) return nullptr;
    auto r = link->login(op, operator_password, 10s);
    if (!r || !r->has_login_ok()) return nullptr;
    return link;
}

std::unique_ptr<sim::console_link> cluster::console_with(dispatcher_process& d,
                                                         anxin::console::v1::Login login) {
    auto link = std::make_unique<sim::console_link>(io);
    link->use_tls(d.client_tls());
    if (!link->connect("127.0.0.1", d.http_port(), 5s)) return nullptr;
    if (login.password().empty()) login.set_password(operator_password);
    anxin::console::v1::ConsoleRequest req;
    req.set_req("login");
    *req.mutable_login() = std::move(login);
    if (!link->send(req)) return nullptr;
    auto r = link->receive(10s);
    if (!r || !r->has_login_ok()) return nullptr;
    return link;
}

sim::http_result cluster::http(const std::string& method, const std::string& target,
                               const std::string& body, bool with_token) {
    return dispatcher_->https(method, target, body, with_token ? token_ : "");
}

void cluster_test::start_cluster(const std::vector<std::string>& args, bool provision) {
    c = std::make_unique<cluster>();
    ASSERT_TRUE(c->start(args)) << c->dispatcher().log_tail();
    if (provision) {
        ASSERT_TRUE(c->provision()) << c->dispatcher().log_tail();
    }
}

void cluster_test::TearDown() {
    if (HasFailure() && c)
        std::cerr << "---- dispatcher log ----\n" << c->dispatcher().log_tail(120) << std::endl;
    if (HasFailure() && c) {
        for (std::size_t i = 1; c->has_instance(i); ++i)
            std::cerr << "---- instance " << i + 1 << " log ----\n"
                      << c->instance(i).log_tail(80) << std::endl;
    }
}

std::string resend_until_acked(cluster& c, std::unique_ptr<sim::device_link>& dev,
                               const std::string& device_id,
                               const anxin::device::v1::DeviceMessage& alarm, std::uint64_t epoch) {
    for (int i = 0; i < 40; ++i) {
        if (!dev || !dev->send(alarm)) {
            dev = c.device(device_id, epoch);  // the link may have dropped meanwhile
            if (!dev) std::this_thread::sleep_for(250ms);
            continue;
        }
        auto r = wait_for(
            *dev,
            [](const anxin::device::v1::ServerMessage& m) {
                return m.has_alarm_ack() || m.has_alarm_nack();
            },
            2s);
        if (r && r->has_alarm_ack()) return r->alarm_ack().call_id();
        std::this_thread::sleep_for(250ms);
    }
    return {};
}

long long json_number(const std::string& json, const std::string& key) {
    std::smatch m;
    std::regex re("\"" + key + "\":(-?[0-9]+)");
    if (!std::regex_search(json, m, re)) return -1;
    return std::stoll(m[1].str());
}

std::string last_json_line(const fs::path& log) {
    std::ifstream in(log);
    std::string line, last;
    while (std::getline(in, line)) {
        if (!line.empty() && line.front() == '{') last = line;
    }
    return last;
}

std::string tail(const fs::path& log, std::size_t lines) {
    std::ifstream in(log);
    std::vector<std::string> all;
    std::string line;
    while (std::getline(in, line)) all.push_back(line);
    std::ostringstream out;
    for (std::size_t i = all.size() > lines ? all.size() - lines : 0; i < all.size(); ++i)
        out << all[i] << "\n";
    return out.str();
}

anxin::device::v1::DeviceMessage make_alarm(std::uint32_t seq, anxin::device::v1::AlarmType type,
                                            std::int64_t device_time_ms) {
    anxin::device::v1::DeviceMessage m;
    m.mutable_alarm()->set_sequence(seq);
    m.mutable_alarm()->set_type(type);
    m.mutable_alarm()->set_device_time_ms(device_time_ms >= 0 ? device_time_ms
                                                              : press_time_of(seq));
    m.mutable_alarm()->set_battery_percent(80);
    m.mutable_alarm()->set_has_battery(true);
    return m;
}

}  // namespace anxin::test
