#pragma once
// The dispatcher's private redis-server, used when no --redis is given: AOF on with
// appendfsync always (an ack means fsynced), data and a unix socket under the data directory,
// no TCP port. The data directory is 0700 and redis-server runs under umask 0077 (its AOF, RDB
// and log 0600), the socket 0700. Restarted if it dies; stopped when the dispatcher stops, and
// (PR_SET_PDEATHSIG) also when the dispatcher is killed, so a restarted dispatcher starts it again
// on the same data.
//
// Threading: io thread only.

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <sys/types.h>
#include <filesystem>
#include <string>

namespace anxin::dispatcher {

class embedded_redis {
  public:
    embedded_redis(boost::asio::io_context& io, std::filesystem::path data_dir,
                   std::string binary = "redis-server");
    ~embedded_redis();

    // Spawns redis-server and waits (up to 15 s) until it answers PING. Empty string on success,
    // else what went wrong.
    std::string start();
    void stop();
    const std::string& socket_path() const { return socket_path_; }

  private:
    std::string spawn();
    void supervise();

    boost::asio::io_context& io_;
    std::filesystem::path data_dir_;
    std::string binary_;
    std::string socket_path_;
    pid_t pid_ = -1;
    bool stopping_ = false;
    boost::asio::steady_timer timer_;
};

}  // namespace anxin::dispatcher
