// Tests for the handshake cryptography (protocol/include/anxin/protocol/device_auth.hpp), against
// published HMAC test vectors and the worked handshake in protocol/README.md.

#include "anxin/protocol/device_auth.hpp"

#include <gtest/gtest.h>

#include <string>

namespace anxin::protocol {
namespace {

std::string nonce_00_to_1f() {
    std::string nonce;
    for (int i = 0; i < 32; ++i) nonce.push_back(static_cast<char>(i));
    return nonce;
}

TEST(device_auth, hmac_sha256_rfc4231_test_case_1) {
    EXPECT_EQ(to_hex(hmac_sha256(std::string(20, '\x0b'), "Hi There")),
              "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
}

TEST(device_auth, hmac_sha256_rfc4231_test_case_2) {
    const std::string mac = hmac_sha256("Jefe", "what do ya want for nothing?");
    EXPECT_EQ(mac.size(), 32u);  // raw digest, not hex
    EXPECT_EQ(to_hex(mac), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(device_auth, hmac_sha256_rfc4231_test_case_6_key_longer_than_block) {
    EXPECT_EQ(to_hex(hmac_sha256(std::string(131, '\xaa'),
                                 "Test Using Larger Than Block-Size Key - Hash Key First")),
              "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

TEST(device_auth, hmac_of_readme_handshake_example) {
    const std::string nonce = nonce_00_to_1f();
    ASSERT_EQ(nonce.size(), nonce_bytes);
    const std::string mac = hmac_sha256("0123456789abcdef0123456789abcdef", nonce);
    EXPECT_EQ(mac.size(), 32u);
    EXPECT_EQ(to_hex(mac), "da7164a2bac13505f97e4d5e630fa9e59f47e8ea74fb7b30c59a1ec4cb355363");
}

TEST(device_auth, hmac_depends_on_key_and_message) {
    const std::string nonce = nonce_00_to_1f();
    const std::string good = hmac_sha256("0123456789abcdef0123456789abcdef", nonce);
    EXPECT_NE(hmac_sha256("0123456789abcdef0123456789abcdeF", nonce), good);
    std::string other_nonce = nonce;
    other_nonce[31] = '\x20';
    EXPECT_NE(hmac_sha256("0123456789abcdef0123456789abcdef", other_nonce), good);
}

TEST(device_auth, constant_time_equal_compares_whole_contents) {
    EXPECT_TRUE(constant_time_equal("", ""));
    EXPECT_TRUE(constant_time_equal("abc", "abc"));
    EXPECT_TRUE(constant_time_equal(std::string("a\0b", 3), std::string("a\0b", 3)));
    EXPECT_FALSE(constant_time_equal("abc", "abd"));  // last byte differs
    EXPECT_FALSE(constant_time_equal("xbc", "abc"));  // first byte differs
    EXPECT_FALSE(constant_time_equal(std::string("a\0b", 3), std::string("a\0c", 3)));
    // A prefix is not a match, in either order.
    EXPECT_FALSE(constant_time_equal("abc", "abcd"));
    EXPECT_FALSE(constant_time_equal("abcd", "abc"));
    EXPECT_FALSE(constant_time_equal("", "a"));
}

TEST(device_auth, constant_time_equal_on_hmacs) {
    const std::string nonce = nonce_00_to_1f();
    const std::string mac = hmac_sha256("secret", nonce);
    EXPECT_TRUE(constant_time_equal(mac, hmac_sha256("secret", nonce)));
    EXPECT_FALSE(constant_time_equal(mac, hmac_sha256("secreT", nonce)));
    EXPECT_FALSE(constant_time_equal(mac, mac.substr(0, 31)));
}

TEST(device_auth, random_bytes_has_requested_length) {
    EXPECT_EQ(random_bytes(0).size(), 0u);
    EXPECT_EQ(random_bytes(1).size(), 1u);
    EXPECT_EQ(random_bytes(nonce_bytes).size(), 32u);
    EXPECT_EQ(random_bytes(1000).size(), 1000u);
}

TEST(device_auth, random_bytes_differ_between_calls) {
    // Two equal 32-byte nonces would happen with probability 2^-256.
    const std::string a = random_bytes(nonce_bytes);
    const std::string b = random_bytes(nonce_bytes);
    EXPECT_NE(a, b);
    EXPECT_NE(a, std::string(nonce_bytes, '\0'));
}

TEST(device_auth, to_hex_is_lowercase_two_digits_per_byte) {
    EXPECT_EQ(to_hex(""), "");
    EXPECT_EQ(to_hex(std::string("\x00", 1)), "00");
    EXPECT_EQ(to_hex(std::string("\x00\x01\x0f\x10\x7f\x80\xab\xff", 8)), "00010f107f80abff");
    EXPECT_EQ(to_hex("dev"), "646576");
    EXPECT_EQ(to_hex(nonce_00_to_1f()),
              "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
}

}  // namespace
}  // namespace anxin::protocol
