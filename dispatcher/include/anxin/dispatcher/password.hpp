#pragma once
// Operator password storage: PBKDF2-HMAC-SHA256 with a random 16-byte salt, encoded as
// "pbkdf2-sha256$<iterations>$<salt hex>$<hash hex>". Slow on purpose: run it off the I/O thread.

#include <string>
#include <string_view>

namespace anxin::dispatcher {

inline constexpr int default_pbkdf2_iterations = 100000;

std::string hash_password(std::string_view password, int iterations = default_pbkdf2_iterations);

// False for a wrong password and for a malformed stored hash.
bool verify_password(std::string_view password, std::string_view stored);

}  // namespace anxin::dispatcher
