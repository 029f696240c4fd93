#pragma once
// The device handshake's cryptography (protocol/README.md, "Handshake"): the server sends a
// random nonce, the device proves it holds its secret with HMAC-SHA256(secret, nonce).

#include <cstddef>
#include <string>
#include <string_view>

namespace anxin::protocol {

inline constexpr std::size_t nonce_bytes = 32;

// Cryptographically random bytes (OpenSSL RAND_bytes). Aborts if the RNG fails: a server that
// cannot make nonces must not accept devices.
std::string random_bytes(std::size_t n);

// HMAC-SHA256(key, message), 32 raw bytes.
std::string hmac_sha256(std::string_view key, std::string_view message);

// Compares in time independent of where the inputs differ.
bool constant_time_equal(std::string_view a, std::string_view b);

std::string to_hex(std::string_view bytes);

}  // namespace anxin::protocol
