#include "anxin/dispatcher/private_files.hpp"

#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>
#include <filesystem>
#include <fstream>

using namespace anxin::dispatcher;
namespace fs = std::filesystem;

namespace {

unsigned mode_of(const fs::path& p) {
    struct stat st {};
    if (::lstat(p.c_str(), &st) != 0) return 0xffff;
    return st.st_mode & 07777;
}

struct temp_dir {
    fs::path path = fs::temp_directory_path() / ("anx-pf-" + std::to_string(getpid()));
    temp_dir() {
        fs::remove_all(path);
        fs::create_directories(path);
    }
    ~temp_dir() { fs::remove_all(path); }
};

}  // namespace

TEST(PrivateFiles, MakePrivateDirCreates0700AndNarrowsAnExistingOne) {
    temp_dir t;
    auto d = t.path / "a" / "data";
    EXPECT_EQ(make_private_dir(d), "");
    EXPECT_EQ(mode_of(d), 0700u);
    ::chmod(d.c_str(), 0755);
    EXPECT_EQ(make_private_dir(d), "");
    EXPECT_EQ(mode_of(d), 0700u);
    std::ofstream(t.path / "file") << "x";
    EXPECT_NE(make_private_dir(t.path / "file"), "");
}

TEST(PrivateFiles, TightenNarrowsWhatIsTooWide) {
    temp_dir t;
    auto d = t.path / "data";
    fs::create_directories(d / "tls");
    std::ofstream(d / "appendonly.aof") << "*1\r\n";
    std::ofstream(d / "tls" / "ca.pem") << "cert";
    std::ofstream(d / "tls" / "ca.key") << "key";
    ::chmod(d.c_str(), 0755);
    ::chmod((d / "tls").c_str(), 0755);
    ::chmod((d / "appendonly.aof").c_str(), 0644);
    ::chmod((d / "tls" / "ca.pem").c_str(), 0666);
    ::chmod((d / "tls" / "ca.key").c_str(), 0640);
    EXPECT_EQ(tighten_private_tree(d), 4);  // tls, the AOF, ca.pem, ca.key (d itself: not walked)
    EXPECT_EQ(mode_of(d / "tls"), 0700u);
    EXPECT_EQ(mode_of(d / "appendonly.aof"), 0600u);
    EXPECT_EQ(mode_of(d / "tls" / "ca.pem"), 0644u);  // a certificate is public, not writable
    EXPECT_EQ(mode_of(d / "tls" / "ca.key"), 0600u);
    EXPECT_EQ(tighten_private_tree(d), 0);
}

TEST(PrivateFiles, SecretFileIsCreated0600EvenUnderAWideUmask) {
    temp_dir t;
    auto old = ::umask(0);
    bool exists = true;
    EXPECT_EQ(create_secret_file(t.path / "token", "abc\n", exists), "");
    ::umask(old);
    EXPECT_FALSE(exists);
    EXPECT_EQ(mode_of(t.path / "token"), 0600u);
    std::string error;
    EXPECT_EQ(read_secret_file(t.path / "token", error), "abc");
    // Never overwritten.
    EXPECT_NE(create_secret_file(t.path / "token", "other\n", exists), "");
    EXPECT_TRUE(exists);
    EXPECT_EQ(read_secret_file(t.path / "token", error), "abc");
}

TEST(PrivateFiles, ReadSecretFileErrors) {
    temp_dir t;
    std::string error;
    EXPECT_FALSE(read_secret_file(t.path / "missing", error));
    EXPECT_NE(error.find("missing"), std::string::npos);
    std::ofstream(t.path / "empty") << "\n";
    EXPECT_FALSE(read_secret_file(t.path / "empty", error));
    std::ofstream(t.path / "crlf") << "pw  \r\nsecond line\n";
    EXPECT_EQ(read_secret_file(t.path / "crlf", error), "pw");
}
