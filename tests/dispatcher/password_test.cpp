// Tests for operator password storage (dispatcher/include/anxin/dispatcher/password.hpp).
// A low iteration count keeps them fast; the format records the count, so verification follows it.

#include "anxin/dispatcher/password.hpp"

#include <gtest/gtest.h>

#include <regex>
#include <string>
#include <vector>

namespace anxin::dispatcher {
namespace {

constexpr int fast = 1000;

// PBKDF2-HMAC-SHA256("correct horse battery staple", salt 00..0f, 1000 iterations, 32 bytes),
// computed independently with Python's hashlib.pbkdf2_hmac.
constexpr const char* known_stored =
    "pbkdf2-sha256$1000$000102030405060708090a0b0c0d0e0f$"
    "a69b179e3add3c1e0aaf227a0eb3aa2aa8645ab86fecf6ca00c17512697c719e";

TEST(password, hash_has_the_documented_format) {
    const std::string stored = hash_password("anxin-demo", fast);
    EXPECT_TRUE(
        std::regex_match(stored, std::regex(R"(pbkdf2-sha256\$1000\$[0-9a-f]{32}\$[0-9a-f]{64})")))
        << stored;
}

TEST(password, default_iteration_count_is_recorded) {
    EXPECT_EQ(default_pbkdf2_iterations, 100000);
    const std::string stored = hash_password("x");
    EXPECT_EQ(stored.rfind("pbkdf2-sha256$100000$", 0), 0u) << stored;
    EXPECT_TRUE(verify_password("x", stored));
}

TEST(password, right_password_verifies) {
    const std::string stored = hash_password("anxin-demo", fast);
    EXPECT_TRUE(verify_password("anxin-demo", stored));
}

TEST(password, wrong_password_does_not_verify) {
    const std::string stored = hash_password("anxin-demo", fast);
    EXPECT_FALSE(verify_password("anxin-demo ", stored));
    EXPECT_FALSE(verify_password("Anxin-demo", stored));
    EXPECT_FALSE(verify_password("anxin-dem", stored));
    EXPECT_FALSE(verify_password("", stored));
}

TEST(password, empty_and_non_ascii_passwords_work) {
    const std::string empty = hash_password("", fast);
    EXPECT_TRUE(verify_password("", empty));
    EXPECT_FALSE(verify_password(" ", empty));

    const std::string chinese = hash_password("通州安心123", fast);
    EXPECT_TRUE(verify_password("通州安心123", chinese));
    EXPECT_FALSE(verify_password("通州安心124", chinese));
}

TEST(password, two_hashes_of_one_password_differ_by_salt) {
    const std::string a = hash_password("anxin-demo", fast);
    const std::string b = hash_password("anxin-demo", fast);
    EXPECT_NE(a, b);
    // Salt (3rd part) differs, and so therefore does the hash; both verify.
    EXPECT_NE(a.substr(19, 32), b.substr(19, 32));
    EXPECT_TRUE(verify_password("anxin-demo", a));
    EXPECT_TRUE(verify_password("anxin-demo", b));
}

TEST(password, verifies_a_standard_pbkdf2_hash_made_elsewhere) {
    EXPECT_TRUE(verify_password("correct horse battery staple", known_stored));
    EXPECT_FALSE(verify_password("correct horse battery stapler", known_stored));
}

TEST(password, upper_case_hex_is_accepted) {
    EXPECT_TRUE(
        verify_password("correct horse battery staple",
                        "pbkdf2-sha256$1000$000102030405060708090A0B0C0D0E0F$"
                        "A69B179E3ADD3C1E0AAF227A0EB3AA2AA8645AB86FECF6CA00C17512697C719E"));
}

TEST(password, tampered_parts_do_not_verify) {
    const std::string pw = "correct horse battery staple";
    const std::string good = known_stored;
    const std::string salt = "000102030405060708090a0b0c0d0e0f";
    const std::string hash = "a69b179e3add3c1e0aaf227a0eb3aa2aa8645ab86fecf6ca00c17512697c719e";
    // Another iteration count gives another hash.
    EXPECT_FALSE(verify_password(pw, "pbkdf2-sha256$1001$" + salt + "$" + hash));
    // One salt digit changed, one hash digit changed.
    EXPECT_FALSE(
        verify_password(pw, "pbkdf2-sha256$1000$100102030405060708090a0b0c0d0e0f$" + hash));
    std::string last_digit_changed = good;
    last_digit_changed.back() = 'f';
    EXPECT_FALSE(verify_password(pw, last_digit_changed));
    // A truncated hash is not a match on its prefix.
    EXPECT_FALSE(verify_password(pw, "pbkdf2-sha256$1000$" + salt + "$" + hash.substr(0, 32)));
    EXPECT_FALSE(verify_password(pw, "pbkdf2-sha256$1000$" + salt + "$" + hash + "00"));
}

TEST(password, malformed_stored_strings_are_rejected) {
    const std::string pw = "correct horse battery staple";
    const std::string salt = "000102030405060708090a0b0c0d0e0f";
    const std::string hash = "a69b179e3add3c1e0aaf227a0eb3aa2aa8645ab86fecf6ca00c17512697c719e";
    const std::vector<std::string> malformed = {
        "",
        "$",
        "$$$",
        "pbkdf2-sha256",
        "pbkdf2-sha256$1000",
        "pbkdf2-sha256$1000$" + salt,
        "pbkdf2-sha256$1000$" + salt + "$",
        "pbkdf2-sha256$$" + salt + "$" + hash,
        "pbkdf2-sha256$1000$" + salt + "$" + hash + "$",
        "pbkdf2-sha256$1000$" + salt + "$" + hash + "$extra",
        "pbkdf2-sha1$1000$" + salt + "$" + hash,
        "PBKDF2-SHA256$1000$" + salt + "$" + hash,
        "bcrypt$1000$" + salt + "$" + hash,
        "$1000$" + salt + "$" + hash,
        "pbkdf2-sha256$0$" + salt + "$" + hash,
        "pbkdf2-sha256$-1000$" + salt + "$" + hash,
        "pbkdf2-sha256$abc$" + salt + "$" + hash,
        "pbkdf2-sha256$99999999999999999999$" + salt + "$" + hash,
        "pbkdf2-sha256$1000$zz0102030405060708090a0b0c0d0e0f$" + hash,
        "pbkdf2-sha256$1000$" + salt + "$" + hash.substr(0, 63) + "g",
        "pbkdf2-sha256$1000$" + salt.substr(1) + "$" + hash,  // odd length
        "pbkdf2-sha256$1000$" + salt + "$" + hash.substr(1),  // odd length
        "pbkdf2-sha256$1000$0x0102030405060708090a0b0c0d0e0f$" + hash,
        "pbkdf2-sha256$1000$ 00102030405060708090a0b0c0d0e0f$" + hash,
        "pbkdf2-sha256$1000$" + salt + "$" + hash + " ",
        " pbkdf2-sha256$1000$" + salt + "$" + hash,
        "pbkdf2-sha256$1000$" + salt + "$" + hash + std::string(1, '\0'),
    };
    for (const auto& s : malformed) {
        EXPECT_FALSE(verify_password(pw, s)) << '"' << s << '"';
        EXPECT_FALSE(verify_password("", s)) << '"' << s << '"';
    }
}

TEST(password, iteration_count_with_trailing_junk_is_malformed) {
    // The stored string is "malformed" unless every part is exactly what the format says; an
    // iteration field of "1000x" must not be read as 1000.
    const std::string salt = "000102030405060708090a0b0c0d0e0f";
    const std::string hash = "a69b179e3add3c1e0aaf227a0eb3aa2aa8645ab86fecf6ca00c17512697c719e";
    EXPECT_FALSE(verify_password("correct horse battery staple",
                                 "pbkdf2-sha256$1000x$" + salt + "$" + hash));
    EXPECT_FALSE(verify_password("correct horse battery staple",
                                 "pbkdf2-sha256$1000 $" + salt + "$" + hash));
}

TEST(password, absurd_iteration_counts_are_refused_without_hashing) {
    // A stored value could otherwise stall a login for minutes.
    const std::string salt = "000102030405060708090a0b0c0d0e0f";
    const std::string hash = "a69b179e3add3c1e0aaf227a0eb3aa2aa8645ab86fecf6ca00c17512697c719e";
    EXPECT_FALSE(verify_password("x", "pbkdf2-sha256$2000000000$" + salt + "$" + hash));
}

}  // namespace
}  // namespace anxin::dispatcher
