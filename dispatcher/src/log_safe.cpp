#include "anxin/dispatcher/log_safe.hpp"

#include <cstdint>
#include <cstdio>

namespace anxin::dispatcher {

namespace {

// Length of the well-formed UTF-8 sequence starting at s[i] and its code point; 0 if malformed.
std::size_t utf8_sequence(std::string_view s, std::size_t i, std::uint32_t& cp) {
    const auto b0 = static_cast<unsigned char>(s[i]);
    std::size_t len = 0;
    std::uint32_t min = 0;
    if (b0 < 0x80) {
        cp = b0;
        return 1;
    } else if (b0 >= 0xc2 && b0 <= 0xdf) {
        len = 2, cp = b0 & 0x1f, min = 0x80;
    } else if (b0 >= 0xe0 && b0 <= 0xef) {
        len = 3, cp = b0 & 0x0f, min = 0x800;
    } else if (b0 >= 0xf0 && b0 <= 0xf4) {
        len = 4, cp = b0 & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (i + len > s.size()) return 0;
    for (std::size_t k = 1; k < len; ++k) {
        const auto b = static_cast<unsigned char>(s[i + k]);
        if ((b & 0xc0) != 0x80) return 0;
        cp = (cp << 6) | (b & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    return len;
}

bool hides_text(std::uint32_t cp) {
    return (cp >= 0x80 && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029 ||
           (cp >= 0x200e && cp <= 0x200f) || (cp >= 0x202a && cp <= 0x202e) ||
           (cp >= 0x2066 && cp <= 0x2069) || cp == 0x061c;
}

void append_hex_byte(std::string& out, unsigned char b) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "\\x%02x", b);
    out += buf;
}

}  // namespace

std::string log_safe(std::string_view s, std::size_t max) {
    std::string out;
    out.reserve(std::min(s.size(), max) + 16);
    std::size_t i = 0;
    while (i < s.size()) {
        std::uint32_t cp = 0;
        std::size_t len = utf8_sequence(s, i, cp);
        if (i + (len == 0 ? 1 : len) > max) break;
        if (len == 0) {
            append_hex_byte(out, static_cast<unsigned char>(s[i]));
            i += 1;
            continue;
        }
        if (len == 1) {
            const auto ch = s[i];
            switch (ch) {
                case '\n':
                    out += "\\n";
                    break;
                case '\r':
                    out += "\\r";
                    break;
                case '\t':
                    out += "\\t";
                    break;
                case '\\':
                    out += "\\\\";
                    break;
                case '"':
                    out += "\\\"";
                    break;
                case '\'':
                    out += "\\'";
                    break;
                default:
                    if (static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f)
                        append_hex_byte(out, static_cast<unsigned char>(ch));
                    else
                        out += ch;
            }
        } else if (hides_text(cp)) {
            char buf[16];
            std::snprintf(buf, sizeof buf, "\\u{%04x}", static_cast<unsigned>(cp));
            out += buf;
        } else {
            out.append(s.substr(i, len));
        }
        i += len;
    }
    if (i < s.size()) {
        out += "\xe2\x80\xa6(";  // U+2026 HORIZONTAL ELLIPSIS
        out += std::to_string(s.size());
        out += " bytes)";
    }
    return out;
}

}  // namespace anxin::dispatcher
