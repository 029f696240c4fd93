#include "anxin/dispatcher/tls_files.hpp"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <memory>
#include <set>
#include <string_view>
#include <system_error>
#include <utility>

namespace anxin::dispatcher {

namespace fs = std::filesystem;

namespace {

template <auto free_fn>
struct openssl_deleter {
    template <class T>
    void operator()(T* p) const {
        free_fn(p);
    }
};

using bio_ptr = std::unique_ptr<BIO, openssl_deleter<BIO_free_all>>;
using bn_ptr = std::unique_ptr<BIGNUM, openssl_deleter<BN_free>>;
using pkey_ptr = std::unique_ptr<EVP_PKEY, openssl_deleter<EVP_PKEY_free>>;
using x509_ptr = std::unique_ptr<X509, openssl_deleter<X509_free>>;
using extension_ptr = std::unique_ptr<X509_EXTENSION, openssl_deleter<X509_EXTENSION_free>>;
using general_name_ptr = std::unique_ptr<GENERAL_NAME, openssl_deleter<GENERAL_NAME_free>>;
using general_names_ptr = std::unique_ptr<GENERAL_NAMES, openssl_deleter<GENERAL_NAMES_free>>;
using octet_string_ptr =
    std::unique_ptr<ASN1_OCTET_STRING, openssl_deleter<ASN1_OCTET_STRING_free>>;
using ia5_string_ptr = std::unique_ptr<ASN1_IA5STRING, openssl_deleter<ASN1_IA5STRING_free>>;

class unique_fd {
  public:
    explicit unique_fd(int fd) : fd_(fd) {}
    ~unique_fd() {
        if (fd_ >= 0) ::close(fd_);
    }
    unique_fd(const unique_fd&) = delete;
    unique_fd& operator=(const unique_fd&) = delete;
    int get() const { return fd_; }
    // For close(), whose error must be seen: a full disk can surface only there.
    int release() { return std::exchange(fd_, -1); }

  private:
    int fd_;
};

// ub-common-name (RFC 5280): OpenSSL refuses a longer CN, and a host name may be 64 bytes.
constexpr std::size_t max_common_name = 64;
constexpr int ca_years = 20;
constexpr int server_years = 10;
// What `openssl req -x509` uses: 20 bytes, positive, as RFC 5280 allows at most.
constexpr int serial_bits = 159;

// Drains OpenSSL's per-thread error queue into `what: <errors>`, so that a later SSL_get_error on
// this thread does not read our leftovers.
std::string openssl_error(std::string_view what) {
    std::string out(what);
    const char* sep = ": ";
    while (const unsigned long e = ERR_get_error()) {
        char buf[256];
        ERR_error_string_n(e, buf, sizeof buf);
        out += sep;
        out += buf;
        sep = "; ";
    }
    return out;
}

std::string system_error(std::string_view what, const fs::path& path, int err) {
    return std::string(what) + " " + path.string() + ": " + std::strerror(err);
}

// The bytes of an IPv4 or IPv6 literal ("[::1]" too), empty if s is not one.
std::string ip_bytes(std::string_view s) {
    if (s.size() > 2 && s.front() == '[' && s.back() == ']') s = s.substr(1, s.size() - 2);
    const std::string text(s);
    unsigned char buf[sizeof(in6_addr)];
    if (inet_pton(AF_INET, text.c_str(), buf) == 1) {
        return std::string(reinterpret_cast<char*>(buf), sizeof(in_addr));
    }
    if (inet_pton(AF_INET6, text.c_str(), buf) == 1) {
        return std::string(reinterpret_cast<char*>(buf), sizeof(in6_addr));
    }
    return {};
}

std::string host_name() {
    char buf[HOST_NAME_MAX + 1] = {};
    if (gethostname(buf, sizeof buf - 1) != 0) return {};
    return buf;
}

bool file_exists(const fs::path& p, bool& exists, std::string& error) {
    std::error_code ec;
    exists = fs::exists(p, ec);
    if (ec) error = "checking " + p.string() + ": " + ec.message();
    return !ec;
}

// Parents get the usual permissions; the directory itself 0700, since it holds private keys.
bool make_private_dir(const fs::path& dir, std::string& error) {
    std::error_code ec;
    if (fs::is_directory(dir, ec)) return true;
    if (dir.has_parent_path()) {
        fs::create_directories(dir.parent_path(), ec);
        if (ec) {
            error = "creating " + dir.parent_path().string() + ": " + ec.message();
            return false;
        }
    }
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
        error = system_error("creating", dir, errno);
        return false;
    }
    return true;
}

// A reader never sees half a file, and a crash leaves either no file or the whole of it.
bool write_file_atomically(int dir_fd, const fs::path& path, std::string_view data, mode_t mode,
                           std::string& error) {
    std::string tmp = (path.parent_path() / ("." + path.filename().string() + ".XXXXXX")).string();
    unique_fd fd(::mkostemp(tmp.data(), O_CLOEXEC));
    if (fd.get() < 0) {
        error = system_error("creating a temporary file for", path, errno);
        return false;
    }
    const auto fail = [&](std::string_view what, int err) {
        error = system_error(what, path, err);
        ::unlink(tmp.c_str());
        return false;
    };
    // mkostemp's 0600 is still subject to the umask; the mode must not be.
    if (::fchmod(fd.get(), mode) != 0) return fail("setting the mode of", errno);
    while (!data.empty()) {
        const ssize_t n = ::write(fd.get(), data.data(), data.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return fail("writing", errno);
        data.remove_prefix(static_cast<std::size_t>(n));
    }
    if (::fsync(fd.get()) != 0) return fail("syncing", errno);
    if (::close(fd.release()) != 0) return fail("closing", errno);
    if (::rename(tmp.c_str(), path.c_str()) != 0)
        return fail("renaming a temporary file to", errno);
    // Without this the rename itself may be lost on a power cut, leaving no file after all.
    if (::fsync(dir_fd) != 0) {
        error = system_error("syncing the directory of", path, errno);
        return false;
    }
    return true;
}

// The mem BIO's bytes, for write_file_atomically.
std::string_view bio_contents(BIO* bio) {
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio, &data);
    return n > 0 ? std::string_view(data, static_cast<std::size_t>(n)) : std::string_view();
}

// An encrypted key would otherwise make OpenSSL prompt for a pass phrase on the terminal.
int no_pass_phrase(char*, int, int, void*) {
    return -1;
}

pkey_ptr load_key(const fs::path& path, std::string& error) {
    bio_ptr bio(BIO_new_file(path.c_str(), "r"));
    pkey_ptr key(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, no_pass_phrase, nullptr)
                     : nullptr);
    if (!key) error = openssl_error("reading the private key " + path.string());
    return key;
}

x509_ptr load_certificate(const fs::path& path, std::string& error) {
    bio_ptr bio(BIO_new_file(path.c_str(), "r"));
    x509_ptr cert(bio ? PEM_read_bio_X509(bio.get(), nullptr, no_pass_phrase, nullptr) : nullptr);
    if (!cert) error = openssl_error("reading the certificate " + path.string());
    return cert;
}

pkey_ptr create_key(int dir_fd, const fs::path& path, std::string& error) {
    pkey_ptr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
    if (!key) {
        error = openssl_error("generating the key for " + path.string());
        return nullptr;
    }
    // secmem: the PEM text is wiped when the BIO is freed.
    bio_ptr bio(BIO_new(BIO_s_secmem()));
    if (!bio || PEM_write_bio_PrivateKey(bio.get(), key.get(), nullptr, nullptr, 0, nullptr,
                                         nullptr) != 1) {
        error = openssl_error("encoding the key for " + path.string());
        return nullptr;
    }
    if (!write_file_atomically(dir_fd, path, bio_contents(bio.get()), 0600, error)) return nullptr;
    return key;
}

bool write_certificate(int dir_fd, const fs::path& path, X509* cert, std::string& error) {
    bio_ptr bio(BIO_new(BIO_s_mem()));
    if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) {
        error = openssl_error("encoding " + path.string());
        return false;
    }
    return write_file_atomically(dir_fd, path, bio_contents(bio.get()), 0644, error);
}

// Version 3, a random serial, the key, and validity from an hour ago (a device whose clock runs a
// little behind must not reject a certificate made a moment ago) for `years`.
bool set_common_fields(X509* cert, EVP_PKEY* key, const std::string& common_name, int years) {
    bn_ptr serial(BN_new());
    // Calendar years, not 365-day ones (timegm turns 29 February into 1 March).
    const std::time_t now = std::time(nullptr);
    std::tm until{};
    gmtime_r(&now, &until);
    until.tm_year += years;
    return X509_set_version(cert, X509_VERSION_3) == 1 && serial &&
           BN_rand(serial.get(), serial_bits, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) == 1 &&
           BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert)) != nullptr &&
           X509_gmtime_adj(X509_getm_notBefore(cert), -3600) != nullptr &&
           ASN1_TIME_set(X509_getm_notAfter(cert), timegm(&until)) != nullptr &&
           X509_set_pubkey(cert, key) == 1 &&
           X509_NAME_add_entry_by_txt(
               X509_get_subject_name(cert), "CN", MBSTRING_UTF8,
               reinterpret_cast<const unsigned char*>(common_name.data()),
               static_cast<int>(std::min(common_name.size(), max_common_name)), -1, 0) == 1;
}

bool add_extension(X509* cert, X509V3_CTX* ctx, int nid, const char* value) {
    extension_ptr ext(X509V3_EXT_conf_nid(nullptr, ctx, nid, value));
    return ext && X509_add_ext(cert, ext.get(), -1) == 1;
}

x509_ptr create_ca(EVP_PKEY* key, std::string& error) {
    // The host name tells apart the CAs of several dispatchers in a device's trust store.
    const std::string prefix = "anxin dispatcher CA (";
    const std::string host = host_name().substr(0, max_common_name - prefix.size() - 1);
    x509_ptr cert(X509_new());
    if (!cert || !set_common_fields(cert.get(), key, prefix + host + ")", ca_years) ||
        X509_set_issuer_name(cert.get(), X509_get_subject_name(cert.get())) != 1) {
        error = openssl_error("creating the CA certificate");
        return nullptr;
    }
    X509V3_CTX ctx{};
    X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
    // pathlen 0: the CA signs server certificates only, never another CA.
    if (!add_extension(cert.get(), &ctx, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") ||
        !add_extension(cert.get(), &ctx, NID_key_usage, "critical,keyCertSign,cRLSign") ||
        !add_extension(cert.get(), &ctx, NID_subject_key_identifier, "hash") ||
        X509_sign(cert.get(), key, EVP_sha256()) <= 0) {
        error = openssl_error("creating the CA certificate");
        return nullptr;
    }
    return cert;
}

// Built as GENERAL_NAMES rather than a "DNS:a,IP:b" string, which a name with a comma would break.
bool add_subject_alt_names(X509* cert, const std::vector<std::string>& names, std::string& error) {
    general_names_ptr gens(GENERAL_NAMES_new());
    if (!gens) {
        error = openssl_error("building subjectAltName");
        return false;
    }
    std::set<std::pair<int, std::string>> seen;
    for (const auto& name : names) {
        const std::string ip = ip_bytes(name);
        const int type = ip.empty() ? GEN_DNS : GEN_IPADD;
        const std::string& value = ip.empty() ? name : ip;
        if (!seen.emplace(type, value).second) continue;
        general_name_ptr gen(GENERAL_NAME_new());
        bool ok = gen != nullptr;
        if (ok && type == GEN_IPADD) {
            octet_string_ptr octets(ASN1_OCTET_STRING_new());
            ok = octets && ASN1_OCTET_STRING_set(octets.get(),
                                                 reinterpret_cast<const unsigned char*>(ip.data()),
                                                 static_cast<int>(ip.size())) == 1;
            if (ok) GENERAL_NAME_set0_value(gen.get(), GEN_IPADD, octets.release());
        } else if (ok) {
            ia5_string_ptr dns(ASN1_IA5STRING_new());
            ok = dns && ASN1_STRING_set(dns.get(), name.data(), static_cast<int>(name.size())) == 1;
            if (ok) GENERAL_NAME_set0_value(gen.get(), GEN_DNS, dns.release());
        }
        if (!ok || sk_GENERAL_NAME_push(gens.get(), gen.get()) == 0) {
            error = openssl_error("building subjectAltName");
            return false;
        }
        gen.release();  // owned by gens now
    }
    if (X509_add1_ext_i2d(cert, NID_subject_alt_name, gens.get(), 0, X509V3_ADD_DEFAULT) != 1) {
        error = openssl_error("adding subjectAltName");
        return false;
    }
    return true;
}

x509_ptr issue_server_certificate(X509* ca, EVP_PKEY* ca_key, EVP_PKEY* key,
                                  const std::vector<std::string>& names, std::string& error) {
    x509_ptr cert(X509_new());
    if (!cert || !set_common_fields(cert.get(), key, names.front(), server_years) ||
        X509_set_issuer_name(cert.get(), X509_get_subject_name(ca)) != 1) {
        error = openssl_error("creating the server certificate");
        return nullptr;
    }
    X509V3_CTX ctx{};
    X509V3_set_ctx(&ctx, ca, cert.get(), nullptr, nullptr, 0);
    if (!add_extension(cert.get(), &ctx, NID_basic_constraints, "CA:FALSE") ||
        !add_extension(cert.get(), &ctx, NID_key_usage, "critical,digitalSignature") ||
        !add_extension(cert.get(), &ctx, NID_ext_key_usage, "serverAuth") ||
        !add_extension(cert.get(), &ctx, NID_authority_key_identifier, "keyid:always")) {
        error = openssl_error("adding the server certificate's extensions");
        return nullptr;
    }
    if (!add_subject_alt_names(cert.get(), names, error)) return nullptr;
    // A certificate reissued late in the CA's life must not outlive it: clients would reject it.
    if (ASN1_TIME_compare(X509_get0_notAfter(cert.get()), X509_get0_notAfter(ca)) > 0 &&
        X509_set1_notAfter(cert.get(), X509_get0_notAfter(ca)) != 1) {
        error = openssl_error("limiting the server certificate to the CA's validity");
        return nullptr;
    }
    if (X509_sign(cert.get(), ca_key, EVP_sha256()) <= 0) {
        error = openssl_error("signing the server certificate");
        return nullptr;
    }
    return cert;
}

bool check_names(const std::vector<std::string>& names, std::string& error) {
    if (names.empty()) {
        error = "no server names for the server certificate";
        return false;
    }
    for (const auto& name : names) {
        const bool printable_ascii =
            !name.empty() &&
            std::all_of(name.begin(), name.end(), [](char c) { return c > ' ' && c < 0x7f; });
        if (!printable_ascii) {
            error = "server name \"" + name +
                    "\" is neither an IP address nor an ASCII DNS name (use its punycode form)";
            return false;
        }
    }
    return true;
}

}  // namespace

std::optional<tls_files> ensure_tls_files(const fs::path& dir_in,
                                          const std::vector<std::string>& server_names,
                                          std::string& error) {
    error.clear();
    // "data/tls/" has an empty filename; its parent_path would be "data/tls" itself.
    const fs::path dir = dir_in.has_filename() ? dir_in : dir_in.parent_path();
    if (!check_names(server_names, error) || !make_private_dir(dir, error)) return std::nullopt;
    unique_fd dir_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (dir_fd.get() < 0) {
        error = system_error("opening", dir, errno);
        return std::nullopt;
    }
    // Two dispatchers started at once on one data directory must not make two CAs, each keeping
    // half of its files.
    while (::flock(dir_fd.get(), LOCK_EX) != 0) {
        if (errno != EINTR) {
            error = system_error("locking", dir, errno);
            return std::nullopt;
        }
    }

    const tls_files files{dir / "ca.pem", dir / "server.pem", dir / "server.key"};
    const fs::path ca_key_path = dir / "ca.key";
    bool have_ca_cert = false, have_ca_key = false, have_cert = false, have_key = false;
    if (!file_exists(files.ca_cert, have_ca_cert, error) ||
        !file_exists(ca_key_path, have_ca_key, error) ||
        !file_exists(files.cert, have_cert, error) || !file_exists(files.key, have_key, error)) {
        return std::nullopt;
    }
    // Keys are written before their certificates, so a key alone is an interrupted start that a
    // new certificate completes; a certificate alone cannot be completed without overwriting it.
    if (have_ca_cert && !have_ca_key) {
        error = files.ca_cert.string() + " exists without " + ca_key_path.string() +
                ": restore the key, or remove both CA and server files to make a new CA";
        return std::nullopt;
    }
    if (have_cert && !have_key) {
        error = files.cert.string() + " exists without " + files.key.string() +
                ": restore the key, or remove " + files.cert.string() + " to issue a new one";
        return std::nullopt;
    }
    if (have_cert && !have_ca_cert) {
        error = files.cert.string() + " exists without " + files.ca_cert.string() +
                ": a new CA could not have issued it; remove the server files too";
        return std::nullopt;
    }

    const pkey_ptr ca_key =
        have_ca_key ? load_key(ca_key_path, error) : create_key(dir_fd.get(), ca_key_path, error);
    if (!ca_key) return std::nullopt;
    x509_ptr ca;
    if (have_ca_cert) {
        ca = load_certificate(files.ca_cert, error);
        if (!ca) return std::nullopt;
        if (X509_check_private_key(ca.get(), ca_key.get()) != 1) {
            error = openssl_error(ca_key_path.string() + " is not the key of " +
                                  files.ca_cert.string());
            return std::nullopt;
        }
    } else {
        ca = create_ca(ca_key.get(), error);
        if (!ca || !write_certificate(dir_fd.get(), files.ca_cert, ca.get(), error)) {
            return std::nullopt;
        }
    }

    const pkey_ptr key =
        have_key ? load_key(files.key, error) : create_key(dir_fd.get(), files.key, error);
    if (!key) return std::nullopt;
    if (have_cert) {
        const x509_ptr cert = load_certificate(files.cert, error);
        if (!cert) return std::nullopt;
        if (X509_check_private_key(cert.get(), key.get()) != 1) {
            error = openssl_error(files.key.string() + " is not the key of " + files.cert.string());
            return std::nullopt;
        }
        // Devices trust ca.pem only: a server.pem it did not sign would fail every handshake.
        if (X509_verify(cert.get(), ca_key.get()) != 1) {
            error =
                openssl_error(files.cert.string() + " was not issued by " + files.ca_cert.string() +
                              "; remove it and " + files.key.string() + " to issue a new one");
            return std::nullopt;
        }
    } else {
        const x509_ptr cert =
            issue_server_certificate(ca.get(), ca_key.get(), key.get(), server_names, error);
        if (!cert || !write_certificate(dir_fd.get(), files.cert, cert.get(), error)) {
            return std::nullopt;
        }
    }
    return files;
}

std::string certificate_fingerprint(const fs::path& pem, std::string& error) {
    const x509_ptr cert = load_certificate(pem, error);
    if (!cert) return {};
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (X509_digest(cert.get(), EVP_sha256(), md, &len) != 1) {
        error = openssl_error("hashing " + pem.string());
        return {};
    }
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string out;
    for (unsigned int i = 0; i < len; ++i) {
        if (i) out += ':';
        out += hex[md[i] >> 4];
        out += hex[md[i] & 0xf];
    }
    return out;
}

std::vector<std::string> default_server_names(const std::string& bind_address) {
    std::vector<std::string> names{"localhost", "127.0.0.1", "::1"};
    const auto add = [&](const std::string& name) {
        if (!name.empty() && std::find(names.begin(), names.end(), name) == names.end()) {
            names.push_back(name);
        }
    };
    add(host_name());
    // The wildcard address names no host a device could dial.
    const std::string ip = ip_bytes(bind_address);
    const bool wildcard =
        !ip.empty() && std::all_of(ip.begin(), ip.end(), [](char c) { return c == 0; });
    if (!wildcard) add(bind_address);
    return names;
}

}  // namespace anxin::dispatcher
