// Tests for the dispatcher's self-made CA and server certificate
// (dispatcher/include/anxin/dispatcher/tls_files.hpp). Each test works in a fresh temporary
// directory and checks the files with OpenSSL itself, ending with a real TLS handshake in memory.

#include "anxin/dispatcher/tls_files.hpp"

#include <gtest/gtest.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

namespace anxin::dispatcher {
namespace {

namespace fs = std::filesystem;

template <auto free_fn>
struct openssl_deleter {
    template <class T>
    void operator()(T* p) const {
        free_fn(p);
    }
};
using x509_ptr = std::unique_ptr<X509, openssl_deleter<X509_free>>;
using store_ptr = std::unique_ptr<X509_STORE, openssl_deleter<X509_STORE_free>>;
using store_ctx_ptr = std::unique_ptr<X509_STORE_CTX, openssl_deleter<X509_STORE_CTX_free>>;
using general_names_ptr = std::unique_ptr<GENERAL_NAMES, openssl_deleter<GENERAL_NAMES_free>>;
using ssl_ctx_ptr = std::unique_ptr<SSL_CTX, openssl_deleter<SSL_CTX_free>>;
using ssl_ptr = std::unique_ptr<SSL, openssl_deleter<SSL_free>>;

std::string read_bytes(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

x509_ptr load_certificate(const fs::path& p) {
    std::unique_ptr<BIO, openssl_deleter<BIO_free_all>> bio(BIO_new_file(p.c_str(), "r"));
    return x509_ptr(bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr);
}

unsigned mode_of(const fs::path& p) {
    struct stat st {};
    if (::stat(p.c_str(), &st) != 0) return 0;
    return st.st_mode & 07777;
}

// X509_V_OK if `leaf` chains to `ca` for a TLS server, else the verifier's error code.
int verify_server_chain(X509* leaf, X509* ca) {
    store_ptr store(X509_STORE_new());
    store_ctx_ptr ctx(X509_STORE_CTX_new());
    if (!store || !ctx || X509_STORE_add_cert(store.get(), ca) != 1 ||
        X509_STORE_CTX_init(ctx.get(), store.get(), leaf, nullptr) != 1 ||
        X509_STORE_CTX_set_purpose(ctx.get(), X509_PURPOSE_SSL_SERVER) != 1) {
        return -1;
    }
    X509_verify_cert(ctx.get());
    return X509_STORE_CTX_get_error(ctx.get());
}

// subjectAltName as "DNS:name" / "IP:address" strings, in certificate order.
std::vector<std::string> subject_alt_names(X509* cert) {
    general_names_ptr names(static_cast<GENERAL_NAMES*>(
        X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
    std::vector<std::string> out;
    for (int i = 0; names && i < sk_GENERAL_NAME_num(names.get()); ++i) {
        const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
        if (name->type == GEN_DNS) {
            const ASN1_IA5STRING* dns = name->d.dNSName;
            out.push_back("DNS:" +
                          std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(dns)),
                                      static_cast<std::size_t>(ASN1_STRING_length(dns))));
        } else if (name->type == GEN_IPADD) {
            const ASN1_OCTET_STRING* ip = name->d.iPAddress;
            const int family = ASN1_STRING_length(ip) == 4 ? AF_INET : AF_INET6;
            char text[INET6_ADDRSTRLEN] = "?";
            inet_ntop(family, ASN1_STRING_get0_data(ip), text, sizeof text);
            out.push_back(std::string("IP:") + text);
        }
    }
    return out;
}

std::string common_name(X509* cert) {
    char buf[256] = {};
    X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, buf, sizeof buf);
    return buf;
}

bool has_program(const std::string& name) {
    const char* path = std::getenv("PATH");
    std::istringstream dirs(path ? path : "");
    for (std::string dir; std::getline(dirs, dir, ':');) {
        if (!dir.empty() && ::access((fs::path(dir) / name).c_str(), X_OK) == 0) return true;
    }
    return false;
}

// stdout of a shell command, empty if it failed.
std::string run(const std::string& command) {
    FILE* pipe = ::popen(command.c_str(), "r");
    if (!pipe) return {};
    std::string out;
    char buf[256];
    while (std::size_t n = std::fread(buf, 1, sizeof buf, pipe)) out.append(buf, n);
    return ::pclose(pipe) == 0 ? out : std::string();
}

struct handshake_result {
    bool completed = false;
    long client_verify_result = X509_V_OK;
};

// A client trusting only `trusted_ca` (SSL_VERIFY_PEER, expecting host "localhost") and a server
// using `files` shake hands over an in-memory BIO pair.
handshake_result handshake(const tls_files& files, const fs::path& trusted_ca) {
    handshake_result result;
    ssl_ctx_ptr server_ctx(SSL_CTX_new(TLS_server_method()));
    ssl_ctx_ptr client_ctx(SSL_CTX_new(TLS_client_method()));
    EXPECT_TRUE(server_ctx && client_ctx);
    if (!server_ctx || !client_ctx) return result;
    EXPECT_EQ(SSL_CTX_use_certificate_chain_file(server_ctx.get(), files.cert.c_str()), 1);
    EXPECT_EQ(SSL_CTX_use_PrivateKey_file(server_ctx.get(), files.key.c_str(), SSL_FILETYPE_PEM),
              1);
    EXPECT_EQ(SSL_CTX_check_private_key(server_ctx.get()), 1);
    EXPECT_EQ(SSL_CTX_load_verify_locations(client_ctx.get(), trusted_ca.c_str(), nullptr), 1);
    SSL_CTX_set_verify(client_ctx.get(), SSL_VERIFY_PEER, nullptr);

    ssl_ptr server(SSL_new(server_ctx.get()));
    ssl_ptr client(SSL_new(client_ctx.get()));
    BIO* client_bio = nullptr;
    BIO* server_bio = nullptr;
    EXPECT_EQ(BIO_new_bio_pair(&client_bio, 0, &server_bio, 0), 1);
    if (!server || !client || !client_bio || !server_bio) return result;
    // Each SSL takes the one reference of its end (as both read and write BIO).
    SSL_set_bio(client.get(), client_bio, client_bio);
    SSL_set_bio(server.get(), server_bio, server_bio);
    SSL_set_connect_state(client.get());
    SSL_set_accept_state(server.get());
    EXPECT_EQ(SSL_set1_host(client.get(), "localhost"), 1);

    bool client_done = false, server_done = false, failed = false;
    // TLS 1.3 takes a few round trips; far fewer turns than this.
    for (int turn = 0; turn < 50 && !failed && !(client_done && server_done); ++turn) {
        for (auto [ssl, done] :
             {std::pair{client.get(), &client_done}, std::pair{server.get(), &server_done}}) {
            if (*done || failed) continue;
            const int r = SSL_do_handshake(ssl);
            if (r == 1) {
                *done = true;
                continue;
            }
            const int e = SSL_get_error(ssl, r);
            if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) failed = true;
        }
    }
    ERR_clear_error();
    result.completed = client_done && server_done && !failed;
    result.client_verify_result = SSL_get_verify_result(client.get());
    return result;
}

class TlsFiles : public ::testing::Test {
  protected:
    void SetUp() override {
        std::string tmpl = (fs::temp_directory_path() / "anxin-tls-test-XXXXXX").string();
        ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
        root_ = tmpl;
        // A directory that does not exist yet: ensure_tls_files must make it.
        dir_ = root_ / "data" / "tls";
    }
    void TearDown() override {
        std::error_code ec;
        fs::remove_all(root_, ec);
    }

    tls_files ensure(const fs::path& dir, const std::vector<std::string>& names) {
        std::string error;
        auto files = ensure_tls_files(dir, names, error);
        EXPECT_TRUE(files.has_value()) << error;
        EXPECT_EQ(error, "");
        return files.value_or(tls_files{});
    }

    fs::path root_;
    fs::path dir_;
    const std::vector<std::string> names_{"localhost", "dispatcher.example", "127.0.0.1", "::1",
                                          "10.1.2.3"};
};

TEST_F(TlsFiles, creates_the_four_files_with_private_keys_0600_in_a_0700_directory) {
    const tls_files files = ensure(dir_, names_);
    EXPECT_EQ(files.ca_cert, dir_ / "ca.pem");
    EXPECT_EQ(files.cert, dir_ / "server.pem");
    EXPECT_EQ(files.key, dir_ / "server.key");
    for (const char* name : {"ca.pem", "ca.key", "server.pem", "server.key"}) {
        EXPECT_TRUE(fs::is_regular_file(dir_ / name)) << name;
    }
    EXPECT_EQ(mode_of(dir_), 0700u);
    EXPECT_EQ(mode_of(dir_ / "ca.key"), 0600u);
    EXPECT_EQ(mode_of(dir_ / "server.key"), 0600u);
    EXPECT_EQ(mode_of(dir_ / "ca.pem"), 0644u);
    // No temporary files left behind.
    EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 4);
    // server.pem is the certificate alone, no chain and no key.
    const std::string pem = read_bytes(files.cert);
    EXPECT_EQ(pem.find("-----BEGIN CERTIFICATE-----"), 0u);
    EXPECT_EQ(pem.find("-----BEGIN", 1), std::string::npos);
}

TEST_F(TlsFiles, ca_is_a_p256_ca_that_signs_only_leaves) {
    const tls_files files = ensure(dir_, names_);
    const x509_ptr ca = load_certificate(files.ca_cert);
    ASSERT_TRUE(ca);
    EXPECT_EQ(common_name(ca.get()).rfind("anxin dispatcher CA (", 0), 0u) << common_name(ca.get());
    EXPECT_EQ(X509_check_ca(ca.get()), 1);
    EXPECT_EQ(X509_get_pathlen(ca.get()), 0);
    EXPECT_EQ(X509_get_key_usage(ca.get()), static_cast<uint32_t>(KU_KEY_CERT_SIGN | KU_CRL_SIGN));
    EXPECT_NE(X509_get0_subject_key_id(ca.get()), nullptr);
    EXPECT_EQ(EVP_PKEY_get_bits(X509_get0_pubkey(ca.get())), 256);
    int days = 0, seconds = 0;
    ASSERT_EQ(ASN1_TIME_diff(&days, &seconds, X509_get0_notBefore(ca.get()),
                             X509_get0_notAfter(ca.get())),
              1);
    EXPECT_NEAR(days, 20 * 365.25, 1.5);
}

TEST_F(TlsFiles, server_certificate_chains_to_the_ca_with_the_names_asked_for) {
    const tls_files files = ensure(dir_, names_);
    const x509_ptr ca = load_certificate(files.ca_cert);
    const x509_ptr cert = load_certificate(files.cert);
    ASSERT_TRUE(ca && cert);
    EXPECT_EQ(verify_server_chain(cert.get(), ca.get()), X509_V_OK);
    EXPECT_EQ(common_name(cert.get()), "localhost");
    EXPECT_EQ(subject_alt_names(cert.get()),
              (std::vector<std::string>{"DNS:localhost", "DNS:dispatcher.example", "IP:127.0.0.1",
                                        "IP:::1", "IP:10.1.2.3"}));
    EXPECT_EQ(X509_check_host(cert.get(), "dispatcher.example", 0, 0, nullptr), 1);
    EXPECT_EQ(X509_check_ip_asc(cert.get(), "::1", 0), 1);
    EXPECT_NE(X509_check_host(cert.get(), "elsewhere.example", 0, 0, nullptr), 1);
    EXPECT_TRUE(X509_get_extended_key_usage(cert.get()) & XKU_SSL_SERVER);
    EXPECT_EQ(X509_check_purpose(cert.get(), X509_PURPOSE_SSL_SERVER, 0), 1);
    EXPECT_EQ(X509_get_key_usage(cert.get()), static_cast<uint32_t>(KU_DIGITAL_SIGNATURE));
    EXPECT_EQ(X509_check_ca(cert.get()), 0);
    EXPECT_NE(X509_get0_authority_key_id(cert.get()), nullptr);
    EXPECT_EQ(ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(cert.get()),
                                    X509_get0_subject_key_id(ca.get())),
              0);
    const std::unique_ptr<BIGNUM, openssl_deleter<BN_free>> serial(
        ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert.get()), nullptr));
    ASSERT_TRUE(serial);
    EXPECT_LE(BN_num_bits(serial.get()), 159);
    EXPECT_GT(BN_num_bits(serial.get()), 64);  // random, not a counter
    int days = 0, seconds = 0;
    ASSERT_EQ(ASN1_TIME_diff(&days, &seconds, X509_get0_notBefore(cert.get()),
                             X509_get0_notAfter(cert.get())),
              1);
    EXPECT_NEAR(days, 10 * 365.25, 1.5);
}

TEST_F(TlsFiles, second_call_returns_the_same_files_unchanged) {
    const tls_files first = ensure(dir_, names_);
    std::string error;
    const std::string ca_fp = certificate_fingerprint(first.ca_cert, error);
    const std::string server_fp = certificate_fingerprint(first.cert, error);
    std::vector<std::string> before;
    for (const char* name : {"ca.pem", "ca.key", "server.pem", "server.key"}) {
        before.push_back(read_bytes(dir_ / name));
    }

    // Other names do not reissue an existing certificate.
    const tls_files second = ensure(dir_, {"other.example"});
    EXPECT_EQ(second.ca_cert, first.ca_cert);
    EXPECT_EQ(second.cert, first.cert);
    EXPECT_EQ(second.key, first.key);
    EXPECT_EQ(certificate_fingerprint(second.ca_cert, error), ca_fp);
    EXPECT_EQ(certificate_fingerprint(second.cert, error), server_fp);
    std::vector<std::string> after;
    for (const char* name : {"ca.pem", "ca.key", "server.pem", "server.key"}) {
        after.push_back(read_bytes(dir_ / name));
    }
    EXPECT_EQ(after, before);
}

TEST_F(TlsFiles, missing_server_files_are_reissued_by_the_same_ca) {
    const tls_files first = ensure(dir_, names_);
    std::string error;
    const std::string ca_fp = certificate_fingerprint(first.ca_cert, error);
    const std::string old_server_fp = certificate_fingerprint(first.cert, error);
    const std::string ca_key = read_bytes(dir_ / "ca.key");
    const std::string old_key = read_bytes(first.key);
    fs::remove(first.cert);
    fs::remove(first.key);

    const tls_files second = ensure(dir_, {"reissued.example", "192.0.2.7"});
    EXPECT_EQ(certificate_fingerprint(second.ca_cert, error), ca_fp);
    EXPECT_EQ(read_bytes(dir_ / "ca.key"), ca_key);
    EXPECT_NE(certificate_fingerprint(second.cert, error), old_server_fp);
    EXPECT_NE(read_bytes(second.key), old_key);
    EXPECT_EQ(mode_of(second.key), 0600u);
    const x509_ptr ca = load_certificate(second.ca_cert);
    const x509_ptr cert = load_certificate(second.cert);
    ASSERT_TRUE(ca && cert);
    EXPECT_EQ(verify_server_chain(cert.get(), ca.get()), X509_V_OK);
    EXPECT_EQ(common_name(cert.get()), "reissued.example");
    EXPECT_EQ(subject_alt_names(cert.get()),
              (std::vector<std::string>{"DNS:reissued.example", "IP:192.0.2.7"}));
}

TEST_F(TlsFiles, key_without_its_certificate_gets_one_and_is_kept) {
    const tls_files first = ensure(dir_, names_);
    const std::string key = read_bytes(first.key);
    fs::remove(first.cert);  // as if the first start stopped between the key and the certificate

    const tls_files second = ensure(dir_, names_);
    EXPECT_EQ(read_bytes(second.key), key);
    EXPECT_TRUE(fs::exists(second.cert));
    EXPECT_EQ(handshake(second, second.ca_cert).completed, true);
}

TEST_F(TlsFiles, certificate_without_its_key_is_an_error_and_is_not_overwritten) {
    const tls_files first = ensure(dir_, names_);
    const std::string cert = read_bytes(first.cert);
    fs::remove(first.key);

    std::string error;
    EXPECT_FALSE(ensure_tls_files(dir_, names_, error).has_value());
    EXPECT_NE(error.find("server.key"), std::string::npos) << error;
    EXPECT_EQ(read_bytes(first.cert), cert);
    EXPECT_FALSE(fs::exists(first.key));
}

TEST_F(TlsFiles, server_certificate_from_another_ca_is_an_error) {
    const tls_files ours = ensure(dir_, names_);
    const tls_files theirs = ensure(root_ / "other", names_);
    fs::copy_file(theirs.cert, ours.cert, fs::copy_options::overwrite_existing);
    fs::copy_file(theirs.key, ours.key, fs::copy_options::overwrite_existing);

    std::string error;
    EXPECT_FALSE(ensure_tls_files(dir_, names_, error).has_value());
    EXPECT_NE(error.find("was not issued by"), std::string::npos) << error;
}

TEST_F(TlsFiles, fingerprint_matches_the_openssl_command_line) {
    const tls_files files = ensure(dir_, names_);
    std::string error;
    const std::string fp = certificate_fingerprint(files.ca_cert, error);
    EXPECT_EQ(error, "");
    ASSERT_EQ(fp.size(), 32u * 3 - 1) << fp;

    // Nothing to compare with where the openssl program is not installed.
    if (!has_program("openssl")) GTEST_SKIP() << "no openssl binary in PATH";
    // "sha256 Fingerprint=AB:CD:...\n" (OpenSSL 3; 1.1 printed "SHA256 Fingerprint=").
    std::string out =
        run("openssl x509 -noout -fingerprint -sha256 -in '" + files.ca_cert.string() + "'");
    ASSERT_NE(out.find('='), std::string::npos) << out;
    out = out.substr(out.find('=') + 1);
    while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
    EXPECT_EQ(fp, out);
}

TEST_F(TlsFiles, fingerprint_of_a_missing_or_non_pem_file_is_an_error) {
    std::string error;
    EXPECT_EQ(certificate_fingerprint(root_ / "absent.pem", error), "");
    EXPECT_NE(error, "");

    error.clear();
    std::ofstream(root_ / "garbage.pem") << "not a certificate\n";
    EXPECT_EQ(certificate_fingerprint(root_ / "garbage.pem", error), "");
    EXPECT_NE(error, "");
}

TEST_F(TlsFiles, unwritable_directory_is_an_error) {
    std::ofstream(root_ / "a-file") << "x";
    std::string error;
    // Under a regular file: refused even to root, unlike a read-only directory.
    EXPECT_FALSE(ensure_tls_files(root_ / "a-file" / "tls", names_, error).has_value());
    EXPECT_NE(error, "");
}

TEST_F(TlsFiles, unusable_names_are_an_error) {
    std::string error;
    EXPECT_FALSE(ensure_tls_files(dir_, {}, error).has_value());
    EXPECT_NE(error, "");
    EXPECT_FALSE(ensure_tls_files(dir_, {"localhost", "has space"}, error).has_value());
    EXPECT_NE(error.find("has space"), std::string::npos) << error;
}

TEST_F(TlsFiles, handshake_verifies_against_the_generated_ca) {
    const tls_files files = ensure(dir_, default_server_names(""));
    const handshake_result r = handshake(files, files.ca_cert);
    EXPECT_TRUE(r.completed);
    EXPECT_EQ(r.client_verify_result, X509_V_OK)
        << X509_verify_cert_error_string(r.client_verify_result);
}

TEST_F(TlsFiles, handshake_fails_against_a_different_ca) {
    const tls_files files = ensure(dir_, default_server_names(""));
    const tls_files stranger = ensure(root_ / "stranger", default_server_names(""));
    const handshake_result r = handshake(files, stranger.ca_cert);
    EXPECT_FALSE(r.completed);
    // Both CAs carry the same subject (same host name); the key identifiers tell them apart.
    EXPECT_EQ(r.client_verify_result, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY)
        << X509_verify_cert_error_string(r.client_verify_result);
}

TEST_F(TlsFiles, default_server_names_cover_loopback_the_host_and_a_specific_bind_address) {
    char host[256] = {};
    ASSERT_EQ(::gethostname(host, sizeof host - 1), 0);
    const auto contains = [](const std::vector<std::string>& v, const std::string& s) {
        return std::find(v.begin(), v.end(), s) != v.end();
    };
    const std::vector<std::string> any = default_server_names("0.0.0.0");
    EXPECT_EQ(std::vector<std::string>(any.begin(), any.begin() + 3),
              (std::vector<std::string>{"localhost", "127.0.0.1", "::1"}));
    EXPECT_TRUE(contains(any, host));
    EXPECT_FALSE(contains(any, "0.0.0.0"));
    EXPECT_EQ(default_server_names("::"), any);
    EXPECT_EQ(default_server_names(""), any);
    EXPECT_TRUE(contains(default_server_names("10.1.2.3"), "10.1.2.3"));
    EXPECT_TRUE(contains(default_server_names("dispatcher.example"), "dispatcher.example"));
    const std::vector<std::string> loopback = default_server_names("127.0.0.1");
    EXPECT_EQ(std::count(loopback.begin(), loopback.end(), "127.0.0.1"), 1);
}

}  // namespace
}  // namespace anxin::dispatcher
