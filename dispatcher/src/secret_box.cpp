#include "anxin/dispatcher/secret_box.hpp"

#include "anxin/dispatcher/private_files.hpp"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <memory>
#include <stdexcept>
#include <vector>

namespace anxin::dispatcher {

namespace {

constexpr std::size_t nonce_size = 12;
constexpr std::size_t tag_size = 16;

struct ctx_free {
    void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
using cipher_ctx = std::unique_ptr<EVP_CIPHER_CTX, ctx_free>;

const unsigned char* bytes(std::string_view s) {
    return reinterpret_cast<const unsigned char*>(s.data());
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

std::string to_hex(const unsigned char* p, std::size_t n) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(n * 2);
    for (std::size_t i = 0; i < n; ++i) {
        out.push_back(digits[p[i] >> 4]);
        out.push_back(digits[p[i] & 15]);
    }
    return out;
}

bool from_hex(std::string_view hex, std::vector<unsigned char>& out) {
    if (hex.size() % 2 != 0) return false;
    out.resize(hex.size() / 2);
    for (std::size_t i = 0; i < out.size(); ++i) {
        int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) return false;
        out[i] = static_cast<unsigned char>(hi << 4 | lo);
    }
    return true;
}

}  // namespace

secret_box::key_bytes secret_box::generate_key() {
    key_bytes key{};
    if (RAND_bytes(key.data(), static_cast<int>(key.size())) != 1)
        throw std::runtime_error("RAND_bytes failed");
    return key;
}

std::string secret_box::key_to_text(const key_bytes& key) {
    return to_hex(key.data(), key.size());
}

std::optional<secret_box::key_bytes> secret_box::key_from_text(std::string_view text) {
    std::vector<unsigned char> raw;
    if (text.size() != 2 * key_size || !from_hex(text, raw)) return std::nullopt;
    key_bytes key{};
    std::copy(raw.begin(), raw.end(), key.begin());
    return key;
}

std::string secret_box::seal(std::string_view device_id, std::string_view secret) const {
    unsigned char nonce[nonce_size];
    if (RAND_bytes(nonce, sizeof nonce) != 1) return {};
    cipher_ctx ctx(EVP_CIPHER_CTX_new());
    std::vector<unsigned char> out(nonce_size + secret.size() + tag_size);
    std::copy(nonce, nonce + nonce_size, out.begin());
    int len = 0, fin = 0;
    if (!ctx ||
        EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key_.data(), nonce) != 1 ||
        EVP_EncryptUpdate(ctx.get(), nullptr, &len, bytes(device_id),
                          static_cast<int>(device_id.size())) != 1 ||
        EVP_EncryptUpdate(ctx.get(), out.data() + nonce_size, &len, bytes(secret),
                          static_cast<int>(secret.size())) != 1 ||
        EVP_EncryptFinal_ex(ctx.get(), out.data() + nonce_size + len, &fin) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, tag_size,
                            out.data() + nonce_size + secret.size()) != 1) {
        return {};
    }
    return std::string(prefix) + to_hex(out.data(), out.size());
}

secret_box::open_status secret_box::open(std::string_view device_id, std::string_view stored,
                                         std::string& out) const {
    if (!is_sealed(stored)) {
        out = std::string(stored);
        return open_status::plaintext;
    }
    std::vector<unsigned char> raw;
    if (!from_hex(stored.substr(prefix.size()), raw) || raw.size() < nonce_size + tag_size)
        return open_status::failed;
    const std::size_t text_size = raw.size() - nonce_size - tag_size;
    std::string plain(text_size, '\0');
    cipher_ctx ctx(EVP_CIPHER_CTX_new());
    int len = 0, fin = 0;
    auto* plain_out = reinterpret_cast<unsigned char*>(plain.data());
    if (!ctx ||
        EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key_.data(), raw.data()) != 1 ||
        EVP_DecryptUpdate(ctx.get(), nullptr, &len, bytes(device_id),
                          static_cast<int>(device_id.size())) != 1 ||
        EVP_DecryptUpdate(ctx.get(), plain_out, &len, raw.data() + nonce_size,
                          static_cast<int>(text_size)) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, tag_size,
                            raw.data() + nonce_size + text_size) != 1 ||
        EVP_DecryptFinal_ex(ctx.get(), plain_out + len, &fin) != 1) {
        return open_status::failed;  // the tag does not match: never use what came out
    }
    out = std::move(plain);
    return open_status::sealed;
}

std::optional<secret_box::key_bytes> load_or_create_secrets_key(const std::filesystem::path& path,
                                                                bool& created, std::string& error) {
    created = false;
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) {
        auto key = secret_box::generate_key();
        bool exists = false;
        error = create_secret_file(path, secret_box::key_to_text(key) + "\n", exists);
        if (error.empty()) {
            created = true;
            return key;
        }
        if (!exists) return std::nullopt;
        error.clear();  // another process made it first: use its key
    }
    auto text = read_secret_file(path, error);
    if (!text) return std::nullopt;
    auto key = secret_box::key_from_text(*text);
    if (!key) error = path.string() + " is not a secrets key (64 hex digits)";
    return key;
}

}  // namespace anxin::dispatcher
