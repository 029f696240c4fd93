#pragma once
// Device secrets at rest: AES-256-GCM under a key kept outside Redis, so that a copy of the
// store (an AOF, an RDB, a replica, a backup, `redis-cli --scan`) does not let anyone
// impersonate a resident's call button.
//
// Stored form: "v1:" + hex(nonce[12] || ciphertext || tag[16]), a fresh random 96-bit nonce per
// seal, the device id as additional authenticated data: a value copied to another device's
// record does not open. A stored value without the "v1:" prefix is a secret written before
// encryption existed (legacy plaintext); open() reports it as such so that the caller can use it
// and re-seal it.
//
// Pure: no I/O apart from the random nonce (RAND_bytes). A secret_box is immutable after
// construction and may be used from any thread.

#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace anxin::dispatcher {

class secret_box {
  public:
    static constexpr std::size_t key_size = 32;
    using key_bytes = std::array<std::uint8_t, key_size>;

    explicit secret_box(const key_bytes& key) : key_(key) {}

    // A new random key (RAND_bytes).
    static key_bytes generate_key();
    // The key file's text form (64 hex digits) and back; nullopt if it is not exactly that.
    static std::string key_to_text(const key_bytes& key);
    static std::optional<key_bytes> key_from_text(std::string_view text);

    // "v1:..." for this device; empty only if OpenSSL fails (out of memory).
    std::string seal(std::string_view device_id, std::string_view secret) const;

    enum class open_status {
        sealed,     // decrypted: `out` is the secret
        plaintext,  // no "v1:" prefix: a legacy value, `out` is the stored value itself
        failed,     // "v1:" but it does not open: another key, another device, or tampered
    };
    open_status open(std::string_view device_id, std::string_view stored, std::string& out) const;

    static bool is_sealed(std::string_view stored) { return stored.starts_with(prefix); }

  private:
    static constexpr std::string_view prefix = "v1:";
    key_bytes key_;
};

// Reads the key from path, or, if the file does not exist, creates it (mode 0600, O_EXCL: a
// process starting at the same moment reads the same key). nullopt with `error` when the file
// exists but is not a key, or cannot be read or created.
std::optional<secret_box::key_bytes> load_or_create_secrets_key(const std::filesystem::path& path,
                                                                bool& created, std::string& error);

}  // namespace anxin::dispatcher
