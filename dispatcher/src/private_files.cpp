#include "anxin/dispatcher/private_files.hpp"

#include <spdlog/spdlog.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cerrno>
#include <cstring>

namespace fs = std::filesystem;

namespace anxin::dispatcher {

namespace {

std::string mode_text(mode_t m) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(m & 07777));
    return buf;
}

// Narrows one entry to `allowed` bits; true if it had to.
bool narrow(const fs::path& path, const struct stat& st, mode_t allowed) {
    const mode_t mode = st.st_mode & 07777;
    if ((mode & ~allowed) == 0) return false;
    const mode_t target = mode & allowed;
    if (::chmod(path.c_str(), target) != 0) {
        spdlog::error("{} is mode {} (readable by others) and cannot be narrowed: {}",
                      path.string(), mode_text(mode), std::strerror(errno));
        return false;
    }
    spdlog::warn("{} was mode {}: narrowed to {}", path.string(), mode_text(mode),
                 mode_text(target));
    return true;
}

bool is_certificate(const fs::path& p) {
    return p.extension() == ".pem";
}

}  // namespace

std::string make_private_dir(const fs::path& dir) {
    std::error_code ec;
    if (!dir.parent_path().empty() && !fs::exists(dir.parent_path(), ec))
        fs::create_directories(dir.parent_path(), ec);
    if (ec) return "cannot create " + dir.parent_path().string() + ": " + ec.message();
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
        return "cannot create " + dir.string() + ": " + std::strerror(errno);
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0)
        return "cannot stat " + dir.string() + ": " + strerror(errno);
    if (!S_ISDIR(st.st_mode)) return dir.string() + " is not a directory";
    narrow(dir, st, 0700);
    return {};
}

int tighten_private_tree(const fs::path& dir) {
    int narrowed = 0;
    std::error_code ec;
    fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec),
        end;
    for (; !ec && it != end; it.increment(ec)) {
        struct stat st {};
        if (::lstat(it->path().c_str(), &st) != 0 || S_ISLNK(st.st_mode)) continue;
        mode_t allowed = 0600;
        if (S_ISDIR(st.st_mode))
            allowed = 0700;
        else if (S_ISSOCK(st.st_mode))
            allowed = 0700;  // redis-server makes its socket --unixsocketperm 700
        else if (S_ISREG(st.st_mode) && is_certificate(it->path()))
            allowed = 0644;
        if (narrow(it->path(), st, allowed)) ++narrowed;
    }
    if (ec) spdlog::warn("checking the modes under {}: {}", dir.string(), ec.message());
    return narrowed;
}

std::optional<std::string> read_secret_file(const fs::path& path, std::string& error) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        error = "cannot open " + path.string() + ": " + std::strerror(errno);
        return std::nullopt;
    }
    struct stat st {};
    if (::fstat(fd, &st) == 0 && (st.st_mode & 077) != 0)
        spdlog::warn("{} (a secret) is mode {}: others may read it; chmod 600 it", path.string(),
                     mode_text(st.st_mode));
    std::string text;
    char buf[4096];
    for (;;) {
        auto n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        text.append(buf, static_cast<std::size_t>(n));
        if (text.size() > 65536) break;  // a secret is short: this is the wrong file
    }
    ::close(fd);
    if (auto nl = text.find('\n'); nl != std::string::npos) text.resize(nl);
    while (!text.empty() && (text.back() == '\r' || text.back() == ' ' || text.back() == '\t'))
        text.pop_back();
    if (text.empty()) {
        error = path.string() + " is empty";
        return std::nullopt;
    }
    return text;
}

std::string create_secret_file(const fs::path& path, const std::string& contents, bool& exists) {
    exists = false;
    // Written whole under a temporary name, then linked into place: link() fails if the name
    // exists, so two processes starting together agree on one file, and no reader ever sees it
    // half written.
    auto tmp = path;
    tmp += ".tmp-" + std::to_string(::getpid());
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) return "cannot create " + tmp.string() + ": " + std::strerror(errno);
    // The umask can only narrow 0600; fchmod makes sure of the mode whatever it is.
    std::string error;
    if (::fchmod(fd, 0600) != 0) error = std::strerror(errno);
    std::size_t off = 0;
    while (error.empty() && off < contents.size()) {
        auto n = ::write(fd, contents.data() + off, contents.size() - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0)
            error = std::strerror(errno);
        else
            off += static_cast<std::size_t>(n);
    }
    if (error.empty() && ::fsync(fd) != 0) error = std::strerror(errno);
    ::close(fd);
    if (error.empty() && ::link(tmp.c_str(), path.c_str()) != 0) {
        exists = errno == EEXIST;
        error = std::strerror(errno);
    }
    ::unlink(tmp.c_str());
    if (!error.empty()) return "cannot create " + path.string() + ": " + error;
    return {};
}

}  // namespace anxin::dispatcher
