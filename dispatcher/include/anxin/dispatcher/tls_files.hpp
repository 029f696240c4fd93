#pragma once
// The device port's TLS certificate when none is configured: the dispatcher makes its own CA and
// a server certificate in its data directory on first start and reuses them on every restart, so
// a fresh install serves TLS with nothing to set up; devices and device-sim trust ca.pem.
//
// Blocking file I/O and key generation (a few ms): call at start-up, before the io thread runs.
// Concurrent calls on one directory, from threads or processes, are serialised by an flock on it.

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace anxin::dispatcher {

struct tls_files {
    std::filesystem::path ca_cert;  // PEM: the CA devices and device-sim trust
    std::filesystem::path cert;     // PEM: the server certificate (followed by nothing else)
    std::filesystem::path key;      // PEM: the server's private key (mode 0600)
};

// Returns <dir>/ca.pem, ca.key, server.pem, server.key, creating whatever is missing: an EC P-256
// CA (CN "anxin dispatcher CA (<host name>)", basicConstraints critical CA:TRUE pathlen 0,
// keyUsage critical keyCertSign+cRLSign, subjectKeyIdentifier, valid 20 years) and a server
// certificate signed by it (CN = first server name, subjectAltName with every entry of
// server_names — entries that parse as IPv4/IPv6 addresses as IP:, others as DNS: —
// extendedKeyUsage serverAuth, keyUsage critical digitalSignature, basicConstraints CA:FALSE,
// authorityKeyIdentifier, valid 10 years but never past the CA, random 159-bit serial).
// If ca.pem and ca.key exist but the server files do not, a new server certificate is issued by
// the existing CA; a key whose certificate is missing (a start interrupted between the two) gets
// a new certificate. Existing files are never overwritten, nor checked against server_names or
// expiry: delete server.pem and server.key to reissue. Keys are written 0600, certificates 0644,
// each atomically (temp file in dir, fsync, rename, fsync dir). dir is created (0700) if missing.
// On failure: nullopt and `error` says what failed (with OpenSSL's error string). Failures include
// a certificate without its key, a key that does not match its certificate, a server.pem not
// signed by ca.pem, an empty server_names and a name that is neither an address nor ASCII.
std::optional<tls_files> ensure_tls_files(const std::filesystem::path& dir,
                                          const std::vector<std::string>& server_names,
                                          std::string& error);

// "AB:CD:..." SHA-256 fingerprint of the first certificate in a PEM file (as `openssl x509
// -fingerprint -sha256` prints it); empty + error on failure.
std::string certificate_fingerprint(const std::filesystem::path& pem, std::string& error);

// The names a generated server certificate should carry by default: "localhost", "127.0.0.1",
// "::1", this machine's host name (gethostname) and, if given, the bind address unless it is
// 0.0.0.0 / :: (any spelling). No duplicates.
std::vector<std::string> default_server_names(const std::string& bind_address);

}  // namespace anxin::dispatcher
