#pragma once
// What every fuzz target shares: a check that stays on in every build type (assert() would vanish
// with NDEBUG) and reports through abort(), which libFuzzer turns into a saved crash input, and a
// deterministic chunking of the input, so that a stream decoder is fed the same bytes in many
// different reads and a crash still reproduces from its input alone.

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <google/protobuf/stubs/logging.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            std::fprintf(stderr, "%s:%d: fuzz invariant broken: %s\n", __FILE__, __LINE__, #cond); \
            std::abort();                                                                          \
        }                                                                                          \
    } while (0)

namespace anxin::fuzz {

// protobuf logs every rejected string ("contains invalid UTF-8 data") and JSON parse to stderr;
// at tens of thousands of inputs a second that is all the fuzzer would do.
inline void quiet_protobuf() {
    static const bool done = [] {
        google::protobuf::SetLogHandler(nullptr);
        return true;
    }();
    (void)done;
}

// FNV-1a: the chunking seed comes from the input itself, so that a saved crash replays alone.
inline std::uint64_t hash_bytes(std::string_view s) {
    std::uint64_t h = 1469598103934665603ull;
    for (unsigned char c : s) {
        h ^= c;
        h *= 1099511628211ull;
    }
    return h;
}

// Sizes of consecutive reads covering n bytes: 1..max_read each, drawn from a SplitMix64 stream.
inline std::vector<std::size_t> chunk_sizes(std::size_t n, std::uint64_t seed,
                                            std::size_t max_read) {
    std::vector<std::size_t> out;
    std::uint64_t x = seed;
    while (n > 0) {
        x += 0x9e3779b97f4a7c15ull;
        std::uint64_t z = x;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        z ^= z >> 31;
        // Mostly short reads (a trickling peer), sometimes long ones (a full socket buffer).
        std::size_t len = (z & 3) == 0 ? 1 + (z >> 8) % max_read : 1 + (z >> 8) % 8;
        if (len > n) len = n;
        out.push_back(len);
        n -= len;
    }
    return out;
}

// True if s is well-formed UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF): what a
// browser demands of a WebSocket text frame before it closes the connection.
inline bool valid_utf8(std::string_view s) {
    std::size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x80) {
            ++i;
            continue;
        }
        std::size_t n = 0;
        std::uint32_t cp = 0;
        if ((c & 0xE0) == 0xC0) {
            n = 1;
            cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            n = 2;
            cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            n = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (i + n >= s.size()) return false;  // truncated sequence
        for (std::size_t k = 1; k <= n; ++k) {
            const auto cc = static_cast<unsigned char>(s[i + k]);
            if ((cc & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (cc & 0x3F);
        }
        static constexpr std::uint32_t min_cp[] = {0, 0x80, 0x800, 0x10000};
        if (cp < min_cp[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
        i += n + 1;
    }
    return true;
}

// True if every string field (not bytes) in m, recursively, is well-formed UTF-8.
inline bool strings_are_utf8(const google::protobuf::Message& m) {
    const auto* d = m.GetDescriptor();
    const auto* r = m.GetReflection();
    for (int i = 0; i < d->field_count(); ++i) {
        const auto* f = d->field(i);
        const int n = f->is_repeated() ? r->FieldSize(m, f) : 1;
        for (int k = 0; k < n; ++k) {
            if (f->type() == google::protobuf::FieldDescriptor::TYPE_STRING) {
                std::string scratch;
                const std::string& s = f->is_repeated()
                                           ? r->GetRepeatedStringReference(m, f, k, &scratch)
                                           : r->GetStringReference(m, f, &scratch);
                if (!valid_utf8(s)) return false;
            } else if (f->cpp_type() == google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE) {
                if (!f->is_repeated() && !r->HasField(m, f)) continue;
                const auto& sub =
                    f->is_repeated() ? r->GetRepeatedMessage(m, f, k) : r->GetMessage(m, f);
                if (!strings_are_utf8(sub)) return false;
            }
        }
    }
    return true;
}

}  // namespace anxin::fuzz
