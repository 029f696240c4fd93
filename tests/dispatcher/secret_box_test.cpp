#include "anxin/dispatcher/secret_box.hpp"

#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>
#include <filesystem>
#include <fstream>
#include <set>

using namespace anxin::dispatcher;
namespace fs = std::filesystem;

namespace {

secret_box::key_bytes key_of(std::uint8_t fill) {
    secret_box::key_bytes k{};
    for (std::size_t i = 0; i < k.size(); ++i) k[i] = static_cast<std::uint8_t>(fill + i);
    return k;
}

constexpr const char* secret = "secret-of-dev-1-0123456789";

}  // namespace

TEST(SecretBox, RoundTrip) {
    secret_box box(key_of(1));
    auto sealed = box.seal("dev-1", secret);
    ASSERT_TRUE(sealed.starts_with("v1:")) << sealed;
    EXPECT_EQ(sealed.find(secret), std::string::npos);
    // 12-byte nonce + ciphertext + 16-byte tag, hex.
    EXPECT_EQ(sealed.size(), 3 + 2 * (12 + std::string(secret).size() + 16));
    std::string out;
    EXPECT_EQ(box.open("dev-1", sealed, out), secret_box::open_status::sealed);
    EXPECT_EQ(out, secret);
}

TEST(SecretBox, FreshNonceEverySeal) {
    secret_box box(key_of(1));
    std::set<std::string> seen;
    for (int i = 0; i < 50; ++i) seen.insert(box.seal("dev-1", secret));
    EXPECT_EQ(seen.size(), 50u);
}

TEST(SecretBox, WrongKeyFails) {
    auto sealed = secret_box(key_of(1)).seal("dev-1", secret);
    std::string out = "untouched";
    EXPECT_EQ(secret_box(key_of(2)).open("dev-1", sealed, out), secret_box::open_status::failed);
    EXPECT_EQ(out, "untouched");
}

TEST(SecretBox, AnotherDevicesValueDoesNotOpen) {
    secret_box box(key_of(1));
    auto sealed = box.seal("dev-1", secret);
    std::string out;
    EXPECT_EQ(box.open("dev-2", sealed, out), secret_box::open_status::failed);
}

TEST(SecretBox, TamperedValueFails) {
    secret_box box(key_of(1));
    auto sealed = box.seal("dev-1", secret);
    std::string out;
    // Every hex digit of nonce, ciphertext and tag is covered.
    for (std::size_t i = 3; i < sealed.size(); ++i) {
        auto t = sealed;
        t[i] = t[i] == '0' ? '1' : '0';
        EXPECT_EQ(box.open("dev-1", t, out), secret_box::open_status::failed) << "digit " << i;
    }
    EXPECT_EQ(box.open("dev-1", sealed.substr(0, sealed.size() - 2), out),
              secret_box::open_status::failed);
    EXPECT_EQ(box.open("dev-1", "v1:", out), secret_box::open_status::failed);
    EXPECT_EQ(box.open("dev-1", "v1:zz", out), secret_box::open_status::failed);
    EXPECT_EQ(box.open("dev-1", sealed + "0", out), secret_box::open_status::failed);
}

TEST(SecretBox, LegacyPlaintextIsReportedAsSuch) {
    secret_box box(key_of(1));
    std::string out;
    EXPECT_EQ(box.open("dev-1", secret, out), secret_box::open_status::plaintext);
    EXPECT_EQ(out, secret);
    EXPECT_FALSE(secret_box::is_sealed(secret));
    EXPECT_TRUE(secret_box::is_sealed(box.seal("dev-1", secret)));
}

TEST(SecretBox, KeyText) {
    auto k = key_of(7);
    auto text = secret_box::key_to_text(k);
    EXPECT_EQ(text.size(), 64u);
    EXPECT_EQ(secret_box::key_from_text(text), k);
    EXPECT_FALSE(secret_box::key_from_text(text.substr(1)));
    EXPECT_FALSE(secret_box::key_from_text(text + "0"));
    EXPECT_FALSE(secret_box::key_from_text(std::string(64, 'g')));
    EXPECT_NE(secret_box::generate_key(), secret_box::generate_key());
}

TEST(SecretBox, KeyFileCreatedOnce0600) {
    auto dir = fs::temp_directory_path() / ("anx-key-" + std::to_string(getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    auto path = dir / "secrets.key";
    bool created = false;
    std::string error;
    auto k1 = load_or_create_secrets_key(path, created, error);
    ASSERT_TRUE(k1) << error;
    EXPECT_TRUE(created);
    struct stat st {};
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0600u);
    auto k2 = load_or_create_secrets_key(path, created, error);
    ASSERT_TRUE(k2) << error;
    EXPECT_FALSE(created);
    EXPECT_EQ(*k1, *k2);
    // Nothing but the key is left behind (no temporary file).
    EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator()), 1);

    std::ofstream(dir / "bad.key") << "not a key\n";
    EXPECT_FALSE(load_or_create_secrets_key(dir / "bad.key", created, error));
    EXPECT_NE(error.find("not a secrets key"), std::string::npos) << error;
    fs::remove_all(dir);
}
