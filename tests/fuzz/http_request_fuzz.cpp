// The HTTP port's input path, as serve_http() (http_session.cpp) runs it: one connection's bytes
// read into a flat_buffer and parsed by a fresh http::request_parser<string_body> per request,
// with the dispatcher's settings (body_limit 64 MiB, Beast's default 8 KiB header limit),
// keep-alive requests following each other in the same buffer; then the pure parts of routing
// that can be reached from outside http_session.cpp's anonymous namespace: the target split at
// '?', the WebSocket upgrade test, the bearer-token prefix, parse_time_bound() on every query
// value (report.cpp; time_range() calls it on from/to), and the JSON error body every refusal
// carries (including the "this session may not change <target>" one, which echoes the target).
//
// Invariants:
//  - the same requests come out whether the bytes arrive in one read or in reads of sizes drawn
//    from the input (up to the first error either way);
//  - a parsed request keeps to the limits: body within body_limit and equal to Content-Length
//    when one is given;
//  - parse_time_bound() answers -1 or a bound >= 0; a YYYY-MM-DD bound is a UTC midnight, a
//    number reads back as the same digits;
//  - every error body the server would send is well-formed JSON that parses back.
//
// Input: the bytes a client sends on one connection.

#include "anxin/dispatcher/report.hpp"

#include "admin.pb.h"
#include "fuzz_check.hpp"
#include "fuzz_error_body.hpp"

#include <google/protobuf/util/json_util.h>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include <algorithm>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace beast = boost::beast;
namespace http = beast::http;
namespace adm = anxin::admin::v1;
namespace pu = google::protobuf::util;

namespace {

constexpr std::size_t max_body = 64 * 1024 * 1024;  // http_session.cpp

struct parsed {
    std::vector<std::string> requests;  // method, target and body of each, in order
    bool failed = false;
    beast::error_code error;
};

// http_session.cpp's error(): the ErrorBody as to_json() prints it.
void check_time_bound(const std::string& s) {
    const std::int64_t v = anxin::dispatcher::parse_time_bound(s);
    FUZZ_CHECK(v == -1 || v >= 0);
    if (v < 0) return;
    if (s.size() == 10 && s[4] == '-' && s[7] == '-') {
        FUZZ_CHECK(v % 86'400'000 == 0);
    } else {
        // Digits; "-0" and "-00" are 0 to from_chars, and harmless.
        const std::size_t sign = !s.empty() && s[0] == '-' ? 1 : 0;
        if (sign) FUZZ_CHECK(v == 0);
        FUZZ_CHECK(s.size() > sign);
        FUZZ_CHECK(s.find_first_not_of("0123456789", sign) == std::string::npos);
        std::string digits = s.substr(std::min(s.find_first_not_of('0', sign), s.size()));
        if (digits.empty()) digits = "0";
        FUZZ_CHECK(std::to_string(v) == digits);
    }
}

// What handle() looks at before it needs Redis.
void route(const http::request<http::string_body>& req) {
    std::string_view target = req.target();
    std::string_view query;
    if (auto q = target.find('?'); q != std::string_view::npos) {
        query = target.substr(q + 1);
        target = target.substr(0, q);
    }
    (void)beast::websocket::is_upgrade(req);
    (void)req.keep_alive();
    auto h = req[http::field::authorization];
    constexpr std::string_view prefix = "Bearer ";
    if (h.size() > prefix.size() && h.substr(0, prefix.size()) == prefix) {
        FUZZ_CHECK(!h.substr(prefix.size()).empty());
    }
    // Every value in the query as a range bound (time_range() reads from= and to=).
    while (!query.empty()) {
        auto amp = query.find('&');
        auto pair = query.substr(0, amp);
        if (auto eq = pair.find('='); eq != std::string_view::npos)
            check_time_bound(std::string(pair.substr(eq + 1)));
        if (amp == std::string_view::npos) break;
        query = query.substr(amp + 1);
    }
    if (target.substr(0, 5) == "/api/")
        anxin::fuzz::check_error_body("forbidden",
                                      "this session may not change " + std::string(target));
}

// serve_http()'s loop over one connection, with the client's bytes arriving in `reads`.
parsed parse_connection(std::string_view bytes, const std::vector<std::size_t>& reads,
                        bool do_route) {
    parsed out;
    beast::flat_buffer buf;
    std::size_t at = 0, next_read = 0;
    for (;;) {
        http::request_parser<http::string_body> parser;
        parser.body_limit(max_body);
        beast::error_code ec;
        for (;;) {
            // Beast's read loop: hand the parser what is buffered; read more when it needs it.
            if (buf.size() > 0) {
                const std::size_t used = parser.put(buf.data(), ec);
                buf.consume(used);
                if (ec == http::error::need_more) {
                    ec = {};
                } else if (ec || parser.is_done()) {
                    break;
                } else if (used > 0) {
                    continue;
                }
            }
            if (next_read == reads.size()) {
                // The peer closed: nothing started is a clean end, anything else is cut short.
                if (!parser.got_some()) return out;
                parser.put_eof(ec);
                if (!ec && !parser.is_done()) ec = http::error::partial_message;
                break;
            }
            auto space = buf.prepare(reads[next_read]);
            std::memcpy(space.data(), bytes.data() + at, reads[next_read]);
            buf.commit(reads[next_read]);
            at += reads[next_read++];
        }
        if (ec) {
            out.failed = true;
            out.error = ec;
            // serve_http() answers a malformed request once, with the parser's message.
            if (do_route) anxin::fuzz::check_error_body("bad_request", ec.message());
            return out;
        }
        FUZZ_CHECK(parser.is_done());
        const auto declared = parser.content_length();  // as Beast read it ("098" is 98)
        auto req = parser.release();
        FUZZ_CHECK(req.body().size() <= max_body);
        if (declared) FUZZ_CHECK(req.body().size() == *declared);
        out.requests.push_back(std::string(req.method_string()) + ' ' + std::string(req.target()) +
                               '\n' + req.body());
        if (do_route) route(req);
        // An upgrade hands the stream to the console session; the rest is WebSocket frames.
        if (beast::websocket::is_upgrade(req)) return out;
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    anxin::fuzz::quiet_protobuf();
    const std::string_view bytes(reinterpret_cast<const char*>(data), size);
    const auto whole = parse_connection(
        bytes, size ? std::vector<std::size_t>{size} : std::vector<std::size_t>{}, true);
    const auto chunked = parse_connection(
        bytes, anxin::fuzz::chunk_sizes(size, anxin::fuzz::hash_bytes(bytes), 1500), false);
    const std::size_t common = std::min(whole.requests.size(), chunked.requests.size());
    for (std::size_t i = 0; i < common; ++i) FUZZ_CHECK(whole.requests[i] == chunked.requests[i]);
    if (!whole.failed && !chunked.failed) FUZZ_CHECK(whole.requests == chunked.requests);
    return 0;
}
