#include "anxin/dispatcher/embedded_redis.hpp"

#include "anxin/dispatcher/private_files.hpp"

#include <hiredis/hiredis.h>
#include <spdlog/spdlog.h>

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <csignal>
#include <cstring>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

namespace anxin::dispatcher {

embedded_redis::embedded_redis(boost::asio::io_context& io, std::filesystem::path data_dir,
                               std::string binary)
    : io_(io), binary_(std::move(binary)), timer_(io) {
    // redis-server changes into --dir before opening its log file: every path must be absolute.
    std::error_code ec;
    data_dir_ = std::filesystem::absolute(data_dir, ec);
    if (ec) data_dir_ = std::move(data_dir);
    socket_path_ = (data_dir_ / "redis.sock").string();
}

embedded_redis::~embedded_redis() {
    stop();
}

std::string embedded_redis::spawn() {
    std::vector<std::string> args = {binary_,
                                     "--port",
                                     "0",
                                     "--unixsocket",
                                     socket_path_,
                                     "--unixsocketperm",
                                     "700",
                                     "--dir",
                                     data_dir_.string(),
                                     "--appendonly",
                                     "yes",
                                     "--appendfsync",
                                     "always",
                                     "--save",
                                     "",
                                     "--daemonize",
                                     "no",
                                     "--logfile",
                                     (data_dir_ / "redis.log").string()};
    pid_t pid = fork();
    if (pid < 0) return std::string("fork: ") + std::strerror(errno);
    if (pid == 0) {
        // Own process group: Ctrl-C in the terminal reaches the dispatcher, which then stops
        // Redis in order, instead of killing Redis first.
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        // Its AOF and RDB hold every resident's record and the operators' password hashes:
        // created 0600 whatever umask the dispatcher was started with (main sets 0077 too).
        ::umask(0077);
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        execvp(argv[0], argv.data());
        std::fprintf(stderr, "cannot exec %s: %s\n", args[0].c_str(), std::strerror(errno));
        _exit(127);
    }
    pid_ = pid;
    // Wait until it answers.
    auto until = std::chrono::steady_clock::now() + 15s;
    while (std::chrono::steady_clock::now() < until) {
        int status = 0;
        if (waitpid(pid_, &status, WNOHANG) == pid_) {
            pid_ = -1;
            return "redis-server exited at start (see " + (data_dir_ / "redis.log").string() + ")";
        }
        timeval tv{1, 0};
        if (redisContext* c = redisConnectUnixWithTimeout(socket_path_.c_str(), tv); c) {
            bool ok = false;
            if (!c->err) {
                auto* r = static_cast<redisReply*>(redisCommand(c, "PING"));
                // While loading a large AOF Redis answers -LOADING: keep waiting.
                ok = r && r->type == REDIS_REPLY_STATUS;
                if (r) freeReplyObject(r);
            }
            redisFree(c);
            if (ok) return {};
        }
        std::this_thread::sleep_for(50ms);
    }
    return "redis-server did not answer PING within 15 s";
}

std::string embedded_redis::start() {
    if (auto err = make_private_dir(data_dir_); !err.empty()) return err;
    // sockaddr_un.sun_path holds 108 bytes.
    if (socket_path_.size() > 100)
        return "data directory path too long for a unix socket: " + socket_path_;
    auto err = spawn();
    if (!err.empty()) return err;
    spdlog::info("embedded redis-server (pid {}) on {} with AOF appendfsync always in {}", pid_,
                 socket_path_, data_dir_.string());
    supervise();
    return {};
}

void embedded_redis::supervise() {
    timer_.expires_after(500ms);
    timer_.async_wait([this](boost::system::error_code ec) {
        if (ec || stopping_) return;
        int status = 0;
        if (pid_ > 0 && waitpid(pid_, &status, WNOHANG) == pid_) {
            spdlog::error("embedded redis-server exited (status {}); restarting", status);
            pid_ = -1;
            auto err = spawn();
            if (!err.empty()) spdlog::error("embedded redis-server restart failed: {}", err);
        }
        supervise();
    });
}

void embedded_redis::stop() {
    stopping_ = true;
    timer_.cancel();
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    // Redis flushes the AOF on SIGTERM; give it time before insisting.
    for (int i = 0; i < 200; ++i) {
        int status = 0;
        if (waitpid(pid_, &status, WNOHANG) == pid_) {
            pid_ = -1;
            spdlog::info("embedded redis-server stopped");
            return;
        }
        std::this_thread::sleep_for(50ms);
    }
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
}

}  // namespace anxin::dispatcher
