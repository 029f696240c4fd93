#include "anxin/dispatcher/password.hpp"

#include "anxin/protocol/device_auth.hpp"

#include <openssl/evp.h>

#include <charconv>
#include <vector>

namespace anxin::dispatcher {

namespace {

std::string pbkdf2(std::string_view password, std::string_view salt, int iterations) {
    std::string out(32, '\0');
    PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()),
                      reinterpret_cast<const unsigned char*>(salt.data()),
                      static_cast<int>(salt.size()), iterations, EVP_sha256(),
                      static_cast<int>(out.size()), reinterpret_cast<unsigned char*>(out.data()));
    return out;
}

bool from_hex(std::string_view hex, std::string& out) {
    if (hex.size() % 2) return false;
    out.clear();
    for (std::size_t i = 0; i < hex.size(); i += 2) {
        unsigned v = 0;
        auto [p, ec] = std::from_chars(hex.data() + i, hex.data() + i + 2, v, 16);
        if (ec != std::errc{} || p != hex.data() + i + 2) return false;
        out.push_back(static_cast<char>(v));
    }
    return true;
}

}  // namespace

std::string hash_password(std::string_view password, int iterations) {
    const std::string salt = protocol::random_bytes(16);
    return "pbkdf2-sha256$" + std::to_string(iterations) + "$" + protocol::to_hex(salt) + "$" +
           protocol::to_hex(pbkdf2(password, salt, iterations));
}

bool verify_password(std::string_view password, std::string_view stored) {
    std::vector<std::string_view> parts;
    std::size_t start = 0;
    while (true) {
        auto d = stored.find('$', start);
        parts.push_back(stored.substr(start, d == std::string_view::npos ? d : d - start));
        if (d == std::string_view::npos) break;
        start = d + 1;
    }
    if (parts.size() != 4 || parts[0] != "pbkdf2-sha256") return false;
    int iterations = 0;
    auto [p, ec] = std::from_chars(parts[1].data(), parts[1].data() + parts[1].size(), iterations);
    if (ec != std::errc{} || p != parts[1].data() + parts[1].size() || iterations < 1 ||
        iterations > 10'000'000) {
        return false;
    }
    std::string salt, expected;
    if (!from_hex(parts[2], salt) || !from_hex(parts[3], expected)) return false;
    return protocol::constant_time_equal(pbkdf2(password, salt, iterations), expected);
}

}  // namespace anxin::dispatcher
