// Strangers cannot use up the server. A dispatcher at a 1,024-file limit is flooded with
// connections that trickle a byte a second and never finish a handshake — 1,100 on the device
// port and 300 on the HTTP port, more than it has descriptors for — while a real button connects,
// authenticates and raises an alarm within a second, and /healthz answers within a second. (Before
// the handshake deadline counted from accept and pending connections were capped, 1,100 such
// connections blocked every new device and /healthz.)

#include "test_cluster.hpp"

#include "anxin/sim/http_client.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <iostream>
#include <regex>
#include <thread>

using namespace std::chrono_literals;
namespace dv = anxin::device::v1;
using anxin::test::make_alarm;
using anxin::test::wait_for;
using clock_type = std::chrono::steady_clock;

namespace {

// From 127.0.1.<source>: the flood comes from 50 addresses, so it meets the overall cap on pending
// connections, not only the per-address one.
int connect_to(unsigned short port, int source) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    sockaddr_in from{};
    from.sin_family = AF_INET;
    from.sin_addr.s_addr = htonl((127u << 24) | (1u << 8) | static_cast<unsigned>(1 + source % 50));
    if (::bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof from) != 0) {
        ::close(fd);
        return -1;
    }
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

// Connections that each send `opening` and then one more byte a second, for ever: never a whole
// frame (a 4,000-byte body announced) nor a whole HTTP request.
class trickle_flood {
  public:
    trickle_flood(unsigned short port, int count, std::string opening, char filler) {
        for (int i = 0; i < count; ++i) {
            int fd = connect_to(port, i);
            if (fd < 0) continue;
            ::send(fd, opening.data(), opening.size(), MSG_NOSIGNAL);
            fds_.push_back(fd);
        }
        thread_ = std::thread([this, filler, port, opening] {
            while (!stop_) {
                for (std::size_t i = 0; i < fds_.size(); ++i) {
                    auto& fd = fds_[i];
                    // A connection the server closed is opened again: the flood keeps its size.
                    if (fd < 0 || ::send(fd, &filler, 1, MSG_NOSIGNAL) < 0) {
                        if (fd >= 0) ::close(fd);
                        fd = connect_to(port, static_cast<int>(i));
                        if (fd >= 0) ::send(fd, opening.data(), opening.size(), MSG_NOSIGNAL);
                        ++reopened_;
                    }
                    if (stop_) break;
                }
                std::this_thread::sleep_for(1s);
            }
        });
    }
    ~trickle_flood() {
        stop_ = true;
        thread_.join();
        for (int fd : fds_)
            if (fd >= 0) ::close(fd);
    }
    std::size_t size() const { return fds_.size(); }
    long reopened() const { return reopened_; }

  private:
    std::vector<int> fds_;
    std::atomic<bool> stop_{false};
    std::atomic<long> reopened_{0};
    std::thread thread_;
};

long long metric(const std::string& text, const std::string& name) {
    std::smatch m;
    if (!std::regex_search(text, m, std::regex("\n" + name + " ([0-9.e+]+)"))) return -1;
    return static_cast<long long>(std::stod(m[1].str()));
}

TEST(Flood, TricklingStrangersDoNotLockOutButtonsOrHealthz) {
    anxin::test::cluster c;
    c.dispatcher().limit_open_files(1024);
    ASSERT_TRUE(c.start()) << c.dispatcher().log_tail();
    ASSERT_TRUE(c.provision());
    auto& d = c.dispatcher();

    // On the TLS port: a TLS record header announcing 512 bytes, then a byte a second.
    trickle_flood devices(d.device_port(), 1100, std::string("\x16\x03\x01\x02\x00", 5), 'x');
    trickle_flood http(d.plain_http_port(), 300, "GET /healthz HTTP/1.1\r\n", 'X');
    std::cout << "[ flood ] " << devices.size() << " device-port and " << http.size()
              << " HTTP-port connections trickling a byte a second (dispatcher at 1024 files)"
              << std::endl;
    std::this_thread::sleep_for(3s);  // every slot is taken and shed over and over by now

    for (int round = 0; round < 3; ++round) {
        const auto t0 = clock_type::now();
        auto health = anxin::sim::http_request("127.0.0.1", d.plain_http_port(), "GET", "/healthz",
                                               "", "", std::chrono::seconds(1));
        const double health_ms =
            std::chrono::duration<double, std::milli>(clock_type::now() - t0).count();
        EXPECT_EQ(health.status, 200) << "round " << round << ": " << health.body;

        const auto t1 = clock_type::now();
        auto dev = c.device("dev-" + std::to_string(1 + round));
        const double device_ms =
            std::chrono::duration<double, std::milli>(clock_type::now() - t1).count();
        ASSERT_TRUE(dev) << "round " << round << ": a real device could not authenticate";
        EXPECT_LT(device_ms, 1000) << "round " << round;
        ASSERT_TRUE(dev->send(make_alarm(100 + round)));
        auto ack = wait_for(
            *dev, [](const dv::ServerMessage& m) { return m.has_alarm_ack(); }, 1s);
        EXPECT_TRUE(ack) << "round " << round << ": the alarm was not acked within 1 s";
        std::cout << "[ figure ] under the flood: /healthz " << health_ms
                  << " ms, device connected and authenticated in " << device_ms << " ms"
                  << std::endl;
        std::this_thread::sleep_for(4s);  // across the 10 s handshake deadline of the first ones
    }
    auto m = anxin::sim::http_request("127.0.0.1", d.plain_http_port(), "GET", "/metrics", "",
                                      c.admin_token(), std::chrono::seconds(2));
    ASSERT_EQ(m.status, 200);
    const auto shed = metric(m.body, "anxin_device_handshakes_shed_total");
    const auto http_shed = metric(m.body, "anxin_http_connections_shed_total");
    std::cout << "[ figure ] shed: " << shed << " device handshakes, " << http_shed
              << " HTTP connections; flood connections re-opened " << devices.reopened() << " + "
              << http.reopened() << std::endl;
    EXPECT_GT(shed, 0);
    EXPECT_GT(http_shed, 0);
    EXPECT_LE(metric(m.body, "anxin_pending_devices"), 256);
    EXPECT_TRUE(d.running());
}

}  // namespace
