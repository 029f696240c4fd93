#include "anxin/dispatcher/proto_json.hpp"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

namespace anxin::dispatcher {

namespace {

using google::protobuf::FieldDescriptor;

// The well-formed UTF-8 sequence at s[i]: its length (2..4) and code point, or length 0 if there
// is none (a stray continuation byte, a truncated or overlong sequence, a surrogate, or beyond
// U+10FFFF).
struct utf8_char {
    std::size_t length = 0;
    std::uint32_t code_point = 0;
};

utf8_char utf8_at(std::string_view s, std::size_t i) {
    const auto c = static_cast<unsigned char>(s[i]);
    const std::size_t n = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : c >= 0xC0 ? 1 : 0;
    if (n == 0 || c > 0xF4 || i + n >= s.size()) return {};
    std::uint32_t cp = c & (0x3F >> n);
    for (std::size_t k = 1; k <= n; ++k) {
        const auto cc = static_cast<unsigned char>(s[i + k]);
        if ((cc & 0xC0) != 0x80) return {};
        cp = (cp << 6) | (cc & 0x3F);
    }
    static constexpr std::uint32_t shortest[] = {0, 0x80, 0x800, 0x10000};
    if (cp < shortest[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return {};
    return {n + 1, cp};
}

// The non-ASCII code points protobuf's printer writes as \u escapes: the C1 controls and the
// invisible format characters (soft hyphen, bidirectional marks, the JavaScript line separators
// U+2028 / U+2029, zero-width spaces, the byte order mark, tags). Found by printing every code
// point with protobuf 3.21's MessageToJsonString; proto_json_fuzz holds us to it.
bool escaped_by_protobuf(std::uint32_t cp) {
    static constexpr std::uint32_t ranges[][2] = {
        {0x80, 0x9F},       {0xAD, 0xAD},       {0x600, 0x603},    {0x6DD, 0x6DD},
        {0x70F, 0x70F},     {0x17B4, 0x17B5},   {0x200B, 0x200F},  {0x2028, 0x202E},
        {0x2060, 0x2064},   {0x206A, 0x206F},   {0xFEFF, 0xFEFF},  {0xFFF9, 0xFFFB},
        {0x1D173, 0x1D17A}, {0xE0001, 0xE0001}, {0xE0020, 0xE007F}};
    for (const auto& r : ranges) {
        if (cp < r[0]) return false;
        if (cp <= r[1]) return true;
    }
    return false;
}

void append_u_escape(std::uint32_t unit, std::string& out) {
    static const char hex[] = "0123456789abcdef";
    out += "\\u";
    for (int shift = 12; shift >= 0; shift -= 4) out.push_back(hex[(unit >> shift) & 15]);
}

// As protobuf's JSON escaping: quotes, backslash, control characters, DEL, '<' and '>', and the
// code points above. Unlike protobuf's, the output is always UTF-8, as a WebSocket text frame
// must be (a browser closes the connection otherwise): a byte that does not begin a well-formed
// sequence becomes U+FFFD. Strings are UTF-8 when protobuf parsed them; the exception is text the
// server builds from a peer's bytes, such as the JSON parser's error message, which quotes the raw
// input a binary WebSocket frame may carry.
void append_string(std::string_view s, std::string& out) {
    static const char hex[] = "0123456789abcdef";
    out.push_back('"');
    for (std::size_t i = 0; i < s.size(); ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        switch (c) {
            case '"':
                out += "\\\"";
                continue;
            case '\\':
                out += "\\\\";
                continue;
            case '\b':
                out += "\\b";
                continue;
            case '\f':
                out += "\\f";
                continue;
            case '\n':
                out += "\\n";
                continue;
            case '\r':
                out += "\\r";
                continue;
            case '\t':
                out += "\\t";
                continue;
            case '<':
            case '>':
            case 0x7f:
                break;
            default:
                if (c >= 0x80) {
                    const utf8_char u = utf8_at(s, i);
                    if (u.length == 0) {
                        out += "\xEF\xBF\xBD";  // U+FFFD REPLACEMENT CHARACTER
                        continue;
                    }
                    if (!escaped_by_protobuf(u.code_point)) {
                        out.append(s.data() + i, u.length);
                    } else if (u.code_point < 0x10000) {
                        append_u_escape(u.code_point, out);
                    } else {
                        const std::uint32_t v = u.code_point - 0x10000;  // a surrogate pair
                        append_u_escape(0xD800 + (v >> 10), out);
                        append_u_escape(0xDC00 + (v & 0x3FF), out);
                    }
                    i += u.length - 1;
                    continue;
                }
                if (c >= 0x20) {
                    out.push_back(static_cast<char>(c));
                    continue;
                }
        }
        out += "\\u00";
        out.push_back(hex[c >> 4]);
        out.push_back(hex[c & 15]);
    }
    out.push_back('"');
}

// Shortest of 15 or 17 significant digits that reads back the same, as protobuf's SimpleDtoa.
void append_double(double v, std::string& out, bool is_float) {
    if (std::isnan(v)) {
        out += "\"NaN\"";
        return;
    }
    if (std::isinf(v)) {
        out += v > 0 ? "\"Infinity\"" : "\"-Infinity\"";
        return;
    }
    char buf[40];
    if (is_float) {
        const float f = static_cast<float>(v);
        std::snprintf(buf, sizeof buf, "%.*g", FLT_DIG, static_cast<double>(f));
        if (std::strtof(buf, nullptr) != f)
            std::snprintf(buf, sizeof buf, "%.*g", FLT_DIG + 3, static_cast<double>(f));
    } else {
        std::snprintf(buf, sizeof buf, "%.*g", DBL_DIG, v);
        if (std::strtod(buf, nullptr) != v) std::snprintf(buf, sizeof buf, "%.*g", DBL_DIG + 2, v);
    }
    out += buf;
}

void append_base64(const std::string& s, std::string& out) {
    static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    out.push_back('"');
    std::size_t i = 0;
    for (; i + 2 < s.size(); i += 3) {
        const unsigned v = (static_cast<unsigned char>(s[i]) << 16) |
                           (static_cast<unsigned char>(s[i + 1]) << 8) |
                           static_cast<unsigned char>(s[i + 2]);
        out.push_back(t[v >> 18]);
        out.push_back(t[(v >> 12) & 63]);
        out.push_back(t[(v >> 6) & 63]);
        out.push_back(t[v & 63]);
    }
    if (i < s.size()) {
        unsigned v = static_cast<unsigned char>(s[i]) << 16;
        if (i + 1 < s.size()) v |= static_cast<unsigned char>(s[i + 1]) << 8;
        out.push_back(t[v >> 18]);
        out.push_back(t[(v >> 12) & 63]);
        out.push_back(i + 1 < s.size() ? t[(v >> 6) & 63] : '=');
        out.push_back('=');
    }
    out.push_back('"');
}

void append_value(const google::protobuf::Message& m, const FieldDescriptor* f, int index,
                  std::string& out) {
    const auto* r = m.GetReflection();
    const bool rep = f->is_repeated();
    switch (f->cpp_type()) {
        case FieldDescriptor::CPPTYPE_INT32:
            out += std::to_string(rep ? r->GetRepeatedInt32(m, f, index) : r->GetInt32(m, f));
            break;
        case FieldDescriptor::CPPTYPE_UINT32:
            out += std::to_string(rep ? r->GetRepeatedUInt32(m, f, index) : r->GetUInt32(m, f));
            break;
        case FieldDescriptor::CPPTYPE_INT64:
            out.push_back('"');
            out += std::to_string(rep ? r->GetRepeatedInt64(m, f, index) : r->GetInt64(m, f));
            out.push_back('"');
            break;
        case FieldDescriptor::CPPTYPE_UINT64:
            out.push_back('"');
            out += std::to_string(rep ? r->GetRepeatedUInt64(m, f, index) : r->GetUInt64(m, f));
            out.push_back('"');
            break;
        case FieldDescriptor::CPPTYPE_DOUBLE:
            append_double(rep ? r->GetRepeatedDouble(m, f, index) : r->GetDouble(m, f), out, false);
            break;
        case FieldDescriptor::CPPTYPE_FLOAT:
            append_double(rep ? r->GetRepeatedFloat(m, f, index) : r->GetFloat(m, f), out, true);
            break;
        case FieldDescriptor::CPPTYPE_BOOL:
            out += (rep ? r->GetRepeatedBool(m, f, index) : r->GetBool(m, f)) ? "true" : "false";
            break;
        case FieldDescriptor::CPPTYPE_ENUM: {
            const int v = rep ? r->GetRepeatedEnumValue(m, f, index) : r->GetEnumValue(m, f);
            if (const auto* e = f->enum_type()->FindValueByNumber(v))
                append_string(e->name(), out);
            else
                out += std::to_string(v);
            break;
        }
        case FieldDescriptor::CPPTYPE_STRING: {
            std::string scratch;
            const std::string& s = rep ? r->GetRepeatedStringReference(m, f, index, &scratch)
                                       : r->GetStringReference(m, f, &scratch);
            if (f->type() == FieldDescriptor::TYPE_BYTES)
                append_base64(s, out);
            else
                append_string(s, out);
            break;
        }
        case FieldDescriptor::CPPTYPE_MESSAGE:
            append_proto3_json(rep ? r->GetRepeatedMessage(m, f, index) : r->GetMessage(m, f), out);
            break;
    }
}

}  // namespace

void append_proto3_json(const google::protobuf::Message& m, std::string& out) {
    const auto* d = m.GetDescriptor();
    const auto* r = m.GetReflection();
    // Field-number order, as protobuf's printer (it serialises the message and renders the binary
    // form, whose fields come in number order); most messages declare them in that order already.
    std::vector<const FieldDescriptor*> by_number;
    bool declared_in_order = true;
    for (int i = 1; i < d->field_count(); ++i)
        if (d->field(i)->number() < d->field(i - 1)->number()) declared_in_order = false;
    if (!declared_in_order) {
        by_number.reserve(static_cast<std::size_t>(d->field_count()));
        for (int i = 0; i < d->field_count(); ++i) by_number.push_back(d->field(i));
        std::sort(by_number.begin(), by_number.end(),
                  [](const FieldDescriptor* a, const FieldDescriptor* b) {
                      return a->number() < b->number();
                  });
    }
    out.push_back('{');
    bool first = true;
    // Absent and (proto3) default fields are omitted.
    for (int i = 0; i < d->field_count(); ++i) {
        const auto* f = declared_in_order ? d->field(i) : by_number[static_cast<std::size_t>(i)];
        const int n = f->is_repeated() ? r->FieldSize(m, f) : (r->HasField(m, f) ? 1 : 0);
        if (n == 0) continue;
        if (!first) out.push_back(',');
        first = false;
        append_string(f->name(), out);
        out.push_back(':');
        if (!f->is_repeated()) {
            append_value(m, f, 0, out);
            continue;
        }
        out.push_back('[');
        for (int k = 0; k < n; ++k) {
            if (k) out.push_back(',');
            append_value(m, f, k, out);
        }
        out.push_back(']');
    }
    out.push_back('}');
}

std::string to_proto3_json(const google::protobuf::Message& m) {
    std::string out;
    out.reserve(256);
    append_proto3_json(m, out);
    return out;
}

}  // namespace anxin::dispatcher
