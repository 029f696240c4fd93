#pragma once
// An owned copy of one Redis reply, so it can outlive hiredis's callback and travel through
// coroutines. Plain value type.

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace anxin::dispatcher {

// Builds a command's argument list. Use it instead of a braced list inside co_await: g++ 12
// mishandles initializer_list temporaries that live across a coroutine suspension.
template <class... Args>
std::vector<std::string> redis_cmd(Args&&... args) {
    std::vector<std::string> v;
    v.reserve(sizeof...(args));
    (v.emplace_back(std::forward<Args>(args)), ...);
    return v;
}

struct redis_reply {
    enum class kind { nil, string, status, error, integer, array };
    kind type = kind::nil;
    std::string str;  // string, status, error
    std::int64_t integer = 0;
    std::vector<redis_reply> elements;

    bool is_nil() const { return type == kind::nil; }
    bool is_error() const { return type == kind::error; }
    bool is_array() const { return type == kind::array; }
    // String value, or the decimal form of an integer; empty for nil.
    std::string as_string() const {
        if (type == kind::integer) return std::to_string(integer);
        return str;
    }
    std::int64_t as_int() const;
};

// Outcome of sending a command: either Redis answered (reply, which may itself be an error
// reply), or the command never got an answer.
struct redis_result {
    enum class status { ok, unavailable, timeout };
    status st = status::unavailable;
    redis_reply reply;
    std::string detail;  // why, when not ok

    // Redis answered and the answer is not an error reply.
    bool ok() const { return st == status::ok && !reply.is_error(); }
    std::string error_text() const {
        if (st == status::ok) return reply.str;
        return detail;
    }
};

}  // namespace anxin::dispatcher
