#include "anxin/dispatcher/proto_json.hpp"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>

#include <cfloat>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace anxin::dispatcher {

namespace {

using google::protobuf::FieldDescriptor;

// As protobuf's JSON escaping: quotes, backslash, control characters, DEL, '<' and '>', and the
// JavaScript line separators U+2028 / U+2029.
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
                if (c >= 0x20) {
                    // U+2028 / U+2029 (E2 80 A8 / E2 80 A9) end lines in JavaScript.
                    if (c == 0xE2 && i + 2 < s.size() &&
                        static_cast<unsigned char>(s[i + 1]) == 0x80 &&
                        (static_cast<unsigned char>(s[i + 2]) == 0xA8 ||
                         static_cast<unsigned char>(s[i + 2]) == 0xA9)) {
                        out += static_cast<unsigned char>(s[i + 2]) == 0xA8 ? "\\u2028" : "\\u2029";
                        i += 2;
                        continue;
                    }
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
    out.push_back('{');
    bool first = true;
    // Declaration order, as protobuf's printer; absent and (proto3) default fields are omitted.
    for (int i = 0; i < d->field_count(); ++i) {
        const auto* f = d->field(i);
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
