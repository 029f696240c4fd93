// The device port speaks TLS (a CA and certificate generated in the data directory on first
// start); the plaintext port exists only when asked for, and there the Welcome proves the server
// knows the device's secret. Every other integration test reaches the device port over TLS too.

#include "test_cluster.hpp"

#include "anxin/dispatcher/tls_files.hpp"
#include "anxin/protocol/device_auth.hpp"
#include "anxin/protocol/framing.hpp"

#include <gtest/gtest.h>

#include <boost/asio/ip/tcp.hpp>

#include <cstdlib>
#include <fstream>
#include <thread>

using namespace std::chrono_literals;
namespace dv = anxin::device::v1;
namespace fs = std::filesystem;
using anxin::test::wait_for;

namespace {

class DeviceTls : public anxin::test::cluster_test {};

bool run(const std::string& cmd) {
    return std::system((cmd + " >/dev/null 2>&1").c_str()) == 0;
}

TEST_F(DeviceTls, DeviceSimVerifiesTheGeneratedCaAndRefusesAnother) {
    start_cluster();
    auto& d = c->dispatcher();
    ASSERT_TRUE(fs::exists(d.ca_file()));
    // Trusting the dispatcher's CA: served.
    auto dev = c->device("dev-1");
    ASSERT_TRUE(dev);
    // Trusting another CA: the device refuses the server (as a device must refuse a fake one).
    std::string error;
    auto other = anxin::dispatcher::ensure_tls_files(c->dir() / "other-ca", {"localhost"}, error);
    ASSERT_TRUE(other) << error;
    auto ctx = anxin::sim::make_client_context({true, other->ca_cert.string(), "", "", ""}, error);
    ASSERT_TRUE(ctx) << error;
    anxin::sim::device_link link(c->io);
    link.use_tls(ctx, "localhost");
    EXPECT_FALSE(link.connect("127.0.0.1", d.device_port(), 5s));
    EXPECT_NE(link.error().find("TLS handshake"), std::string::npos) << link.error();
    // ... and so does device-sim press.
    const auto cmd = std::string(ANXIN_DEVICE_SIM_BIN) + " press --device-port " +
                     std::to_string(d.device_port()) + " --device dev-1 --secret " +
                     anxin::test::secret_of("dev-1") + " --ca-file " + other->ca_cert.string() +
                     " --wait 3";
    EXPECT_FALSE(run(cmd));
    // Plaintext bytes on the TLS port get no Challenge, and count as a failed TLS handshake.
    anxin::sim::device_link plain(c->io);
    ASSERT_TRUE(plain.connect("127.0.0.1", d.device_port(), 5s));
    plain.send(anxin::test::make_alarm(1));
    EXPECT_FALSE(plain.receive(2s));
    auto m = c->http("GET", "/metrics");
    EXPECT_EQ(m.body.find("anxin_device_tls_handshake_failures_total 0"), std::string::npos);
}

TEST_F(DeviceTls, PlainPortWelcomeProvesTheServerKnowsTheSecret) {
    start_cluster();
    anxin::sim::device_link link(c->io);
    ASSERT_TRUE(link.connect("127.0.0.1", c->dispatcher().plain_device_port(), 5s));
    auto w = link.handshake("dev-1", anxin::test::secret_of("dev-1"), 5s, 0,
                            anxin::protocol::random_bytes(16));
    ASSERT_TRUE(w && w->has_welcome());
    EXPECT_TRUE(link.server_proof_ok());
    EXPECT_EQ(w->welcome().server_proof().size(), 32u);
}

// A fake server on the plaintext path (anyone on it can answer) does not know the secret: its
// Welcome carries no valid proof, and the device can tell.
TEST(DeviceTlsFake, AFakeServersWelcomeFailsTheProof) {
    boost::asio::io_context io;
    boost::asio::ip::tcp::acceptor acceptor(io, {boost::asio::ip::tcp::v4(), 0});
    const auto port = acceptor.local_endpoint().port();
    std::thread fake([&] {
        boost::asio::io_context fio;
        boost::asio::ip::tcp::socket s(fio);
        acceptor.accept(s);
        dv::ServerMessage challenge;
        challenge.mutable_challenge()->set_nonce(std::string(32, 'n'));
        challenge.mutable_challenge()->set_protocol_version(1);
        boost::asio::write(s, boost::asio::buffer(anxin::protocol::encode_frame(challenge)));
        char buf[512];
        s.read_some(boost::asio::buffer(buf));  // the Hello, whatever it says
        dv::ServerMessage welcome;
        welcome.mutable_welcome()->set_heartbeat_interval_s(60);
        welcome.mutable_welcome()->set_server_proof(std::string(32, 'x'));
        boost::asio::write(s, boost::asio::buffer(anxin::protocol::encode_frame(welcome)));
        std::this_thread::sleep_for(500ms);
    });
    anxin::sim::device_link link(io);
    ASSERT_TRUE(link.connect("127.0.0.1", port, 5s));
    auto w = link.handshake("dev-1", "secret-of-dev-1-0123456789", 5s, 0,
                            anxin::protocol::random_bytes(16));
    fake.join();
    ASSERT_TRUE(w && w->has_welcome());
    EXPECT_FALSE(link.server_proof_ok());
}

// With --tls-client-ca, a device may present a client certificate; one issued to another device
// is refused like a wrong secret, its own is served, and none at all still works (optional).
TEST_F(DeviceTls, ClientCertificateMustBeTheDevicesOwn) {
    if (!run("openssl version")) GTEST_SKIP() << "no openssl command line";
    const auto dir = fs::path(::testing::TempDir()) / ("anx-client-ca-" + std::to_string(getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    const auto p = [&](const char* f) { return (dir / f).string(); };
    ASSERT_TRUE(
        run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 "
            "-subj /CN=maker-ca -keyout " +
            p("ca.key") + " -out " + p("ca.pem")));
    std::ofstream(p("ext")) << "extendedKeyUsage=clientAuth\n";
    for (const char* dev : {"dev-1", "dev-2"}) {
        const auto key = p(dev) + ".key", pem = p(dev) + ".pem", csr = p(dev) + ".csr";
        ASSERT_TRUE(
            run("openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
                "-subj /CN=" +
                std::string(dev) + " -keyout " + key + " -out " + csr));
        ASSERT_TRUE(run("openssl x509 -req -days 2 -in " + csr + " -CA " + p("ca.pem") +
                        " -CAkey " + p("ca.key") + " -CAcreateserial -extfile " + p("ext") +
                        " -out " + pem));
    }
    start_cluster({"--tls-client-ca", p("ca.pem")});
    auto& d = c->dispatcher();
    auto with_cert = [&](const std::string& cert_of, const std::string& device) {
        std::string error;
        auto ctx = anxin::sim::make_client_context(
            {true, d.ca_file().string(), "", p(cert_of.c_str()) + ".pem",
             p(cert_of.c_str()) + ".key"},
            error);
        EXPECT_TRUE(ctx) << error;
        anxin::sim::device_link link(c->io);
        link.use_tls(ctx, "localhost");
        if (!link.connect("127.0.0.1", d.device_port(), 5s)) return std::string("no connection");
        auto w = link.handshake(device, anxin::test::secret_of(device), 5s);
        if (!w) return std::string("no answer");
        return w->has_welcome() ? std::string("welcome") : w->rejected().detail();
    };
    EXPECT_EQ(with_cert("dev-2", "dev-1"), "authentication failed");
    EXPECT_EQ(with_cert("dev-1", "dev-1"), "welcome");
    EXPECT_TRUE(c->device("dev-2"));  // no client certificate: still served
    fs::remove_all(dir);
}

}  // namespace
