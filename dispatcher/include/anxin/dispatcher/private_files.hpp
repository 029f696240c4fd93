#pragma once
// Files only the dispatcher's user may read: the data directory and what lies in it (the embedded
// Redis's AOF holds every resident's record and the operators' password hashes), the admin token,
// the secrets key, Redis passwords.
//
// Blocking file I/O: call at start-up, before the io thread runs. Errors come back as a message
// (empty: success); nothing here throws.

#include <filesystem>
#include <optional>
#include <string>

namespace anxin::dispatcher {

// Creates dir (and missing parents) with mode 0700. An existing dir that group or others may
// enter is narrowed to 0700, with a warning in the log.
std::string make_private_dir(const std::filesystem::path& dir);

// Narrows, with a warning for each, whatever under dir is wider than it should be: directories
// 0700, files 0600; certificates (*.pem, public by nature) may stay readable (0644) but never
// writable by others. Symbolic links are not followed. Returns how many entries were narrowed.
int tighten_private_tree(const std::filesystem::path& dir);

// The first line of a small secret file (trailing CR/LF and spaces removed); nullopt with `error`
// when it cannot be read or is empty. A file that group or others may read draws a warning (it is
// not changed: it may be the administrator's, e.g. root:anxin 0640).
std::optional<std::string> read_secret_file(const std::filesystem::path& path, std::string& error);

// Creates path with mode 0600 from the start (open O_CREAT|O_EXCL, never created wider and
// chmod'ed after), writes contents and fsyncs. Fails with EEXIST's message if it exists:
// `exists` is then set, so that a caller racing another process can read the winner's file.
std::string create_secret_file(const std::filesystem::path& path, const std::string& contents,
                               bool& exists);

}  // namespace anxin::dispatcher
