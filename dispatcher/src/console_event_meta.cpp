#include "anxin/dispatcher/console_event_meta.hpp"

#include "console.pb.h"

#include <charconv>

namespace cv = anxin::console::v1;

namespace anxin::dispatcher {

namespace {

// A forward-only reader over one JSON text; every step checks the bounds and fails (returns
// false) on anything unexpected.
class json_cursor {
  public:
    explicit json_cursor(std::string_view s) : s_(s) {}

    bool eat(char c) {
        skip_ws();
        if (i_ >= s_.size() || s_[i_] != c) return false;
        ++i_;
        return true;
    }
    bool peek(char c) {
        skip_ws();
        return i_ < s_.size() && s_[i_] == c;
    }
    // A string's raw text between its quotes (escapes left as they are: ids and keys have none).
    bool string(std::string_view& out) {
        if (!eat('"')) return false;
        const auto start = i_;
        while (i_ < s_.size() && s_[i_] != '"') i_ += s_[i_] == '\\' ? 2 : 1;
        if (i_ >= s_.size()) return false;
        out = s_.substr(start, i_ - start);
        ++i_;
        return true;
    }
    // A number, bare or quoted (proto3 JSON quotes 64-bit integers).
    bool integer(std::int64_t& out) {
        skip_ws();
        std::string_view text;
        if (peek('"')) {
            if (!string(text)) return false;
        } else {
            const auto start = i_;
            while (i_ < s_.size() && (s_[i_] == '-' || (s_[i_] >= '0' && s_[i_] <= '9'))) ++i_;
            text = s_.substr(start, i_ - start);
        }
        auto r = std::from_chars(text.data(), text.data() + text.size(), out);
        return r.ec == std::errc();
    }
    bool skip_value() {
        skip_ws();
        if (i_ >= s_.size()) return false;
        if (s_[i_] == '"') {
            std::string_view ignored;
            return string(ignored);
        }
        if (s_[i_] != '{' && s_[i_] != '[') {
            while (i_ < s_.size() && s_[i_] != ',' && s_[i_] != '}' && s_[i_] != ']') ++i_;
            return i_ < s_.size();
        }
        int depth = 0;
        while (i_ < s_.size()) {
            const char c = s_[i_];
            if (c == '"') {
                std::string_view ignored;
                if (!string(ignored)) return false;
                continue;
            }
            ++i_;
            if (c == '{' || c == '[') ++depth;
            if ((c == '}' || c == ']') && --depth == 0) return true;
        }
        return false;
    }

  private:
    void skip_ws() {
        while (i_ < s_.size() &&
               (s_[i_] == ' ' || s_[i_] == '\n' || s_[i_] == '\r' || s_[i_] == '\t'))
            ++i_;
    }

    std::string_view s_;
    std::size_t i_ = 0;
};

// Walks the members of the object at the cursor, calling on_member(key) with the cursor before
// each value; on_member consumes the value and returns false to stop.
template <class F>
bool members(json_cursor& c, F&& on_member) {
    if (!c.eat('{')) return false;
    if (c.eat('}')) return true;
    for (;;) {
        std::string_view key;
        if (!c.string(key) || !c.eat(':')) return false;
        if (!on_member(key)) return false;
        if (c.eat('}')) return true;
        if (!c.eat(',')) return false;
    }
}

bool read_call(json_cursor& c, console_event_meta& m) {
    return members(c, [&](std::string_view key) {
        std::string_view s;
        std::int64_t n = 0;
        if (key == "id") {
            if (!c.string(s)) return false;
            m.call_id = std::string(s);
            return true;
        }
        if (key == "priority") {
            if (!c.integer(n)) return false;
            m.priority = static_cast<int>(n);
            return true;
        }
        if (key == "received_ms") {
            if (!c.integer(n)) return false;
            m.received_ms = n;
            return true;
        }
        return c.skip_value();
    });
}

}  // namespace

std::string console_event_meta::coalescing_key() const {
    if (kind == "call_changed") return "call_changed:" + call_id;
    if (kind == "summary" || kind == "board" || kind == "queue") return kind;
    return {};
}

console_event_meta describe_console_json(std::string_view json) {
    console_event_meta m;
    json_cursor c(json);
    // The body is the one member besides req; req is field 1, written first by both renderers,
    // so the walk may stop after the body's call (an offer's resident card is never scanned).
    members(c, [&](std::string_view key) {
        if (key == "req") {
            std::string_view req;
            if (!c.string(req)) return false;
            m.answer = !req.empty();
            return true;
        }
        if (!m.kind.empty()) return c.skip_value();
        m.kind = std::string(key);
        if (!c.peek('{')) return c.skip_value();
        bool done = false;
        const bool ok = members(c, [&](std::string_view field) {
            if (field == "call" && c.peek('{')) {
                done = read_call(c, m);
                return false;  // everything needed is in the call
            }
            if (field == "call_id") {
                std::string_view id;
                if (!c.string(id)) return false;
                m.call_id = std::string(id);
                return true;
            }
            return c.skip_value();
        });
        return ok && !done;
    });
    return m;
}

console_event_meta describe_console_event(const cv::ConsoleEvent& ev) {
    console_event_meta m;
    m.answer = !ev.req().empty();
    const auto* field = cv::ConsoleEvent::descriptor()->FindFieldByNumber(ev.body_case());
    if (field) m.kind = field->name();
    switch (ev.body_case()) {
        case cv::ConsoleEvent::kOffer:
            m.call_id = ev.offer().call().id();
            m.priority = ev.offer().call().priority();
            m.received_ms = ev.offer().call().received_ms();
            break;
        case cv::ConsoleEvent::kAccepted:
            m.call_id = ev.accepted().call().id();
            m.priority = ev.accepted().call().priority();
            m.received_ms = ev.accepted().call().received_ms();
            break;
        case cv::ConsoleEvent::kCallChanged:
            m.call_id = ev.call_changed().call().id();
            m.priority = ev.call_changed().call().priority();
            m.received_ms = ev.call_changed().call().received_ms();
            break;
        case cv::ConsoleEvent::kWithdrawn:
            m.call_id = ev.withdrawn().call_id();
            break;
        case cv::ConsoleEvent::kClosed:
            m.call_id = ev.closed().call_id();
            break;
        case cv::ConsoleEvent::kCancelled:
            m.call_id = ev.cancelled().call_id();
            break;
        case cv::ConsoleEvent::kNoteAdded:
            m.call_id = ev.note_added().call_id();
            break;
        case cv::ConsoleEvent::kTransferred:
            m.call_id = ev.transferred().call_id();
            break;
        default:
            break;
    }
    return m;
}

}  // namespace anxin::dispatcher
