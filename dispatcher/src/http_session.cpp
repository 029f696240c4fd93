#include "anxin/dispatcher/http_session.hpp"

#include "admin.pb.h"
#include "console.pb.h"

#include "anxin/dispatcher/call_scan.hpp"
#include "anxin/dispatcher/call_store.hpp"
#include "anxin/dispatcher/connection_gate.hpp"
#include "anxin/dispatcher/console_api.hpp"
#include "anxin/dispatcher/console_session.hpp"
#include "anxin/dispatcher/directory.hpp"
#include "anxin/dispatcher/metrics.hpp"
#include "anxin/dispatcher/report.hpp"
#include "anxin/dispatcher/session_tokens.hpp"
#include "anxin/dispatcher/web_assets.hpp"
#include "anxin/protocol/device_auth.hpp"
#include "anxin/protocol/maybe_tls_stream.hpp"

#include <google/protobuf/util/json_util.h>
#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/core/detect_ssl.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include <array>
#include <cctype>
#include <functional>
#include <optional>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace adm = anxin::admin::v1;
using namespace std::chrono_literals;

namespace anxin::dispatcher {

namespace {

constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);
// Bodies are read only once the request is authorised, and only provisioning (the admin token)
// needs a large one: a district of ~100k residents in one call. Every other route takes none; a
// few bytes are tolerated for clients that send an empty JSON object.
constexpr std::size_t provision_max_body = 64 * 1024 * 1024;
constexpr std::size_t small_max_body = 4 * 1024;
constexpr int max_heavy_reads = 2;
// HSTS: a browser that has once reached the console over HTTPS refuses plaintext for a year.
constexpr const char* hsts = "max-age=31536000";

using request = http::request<http::string_body>;
using response = http::response<http::string_body>;

std::string to_json(const google::protobuf::Message& m) {
    std::string out;
    google::protobuf::util::JsonPrintOptions opts;
    opts.preserve_proto_field_names = true;
    opts.always_print_primitive_fields = true;
    (void)google::protobuf::util::MessageToJsonString(m, &out, opts);
    return out;
}

response reply(const request& req, http::status st, std::string body,
               std::string content_type = "application/json") {
    response res{st, req.version()};
    res.set(http::field::server, "anxin-dispatcher");
    res.set(http::field::content_type, content_type);
    res.set(http::field::cache_control, "no-store");
    res.keep_alive(req.keep_alive());
    res.body() = std::move(body);
    res.prepare_payload();
    return res;
}

response error(const request& req, http::status st, const std::string& code,
               const std::string& message) {
    adm::ErrorBody e;
    e.set_error(code);
    e.set_message(message);
    return reply(req, st, to_json(e));
}

// Who is asking: the admin token may do everything; a console's session token (LoginOk) may read
// what that console needs (supervisors: the district; operators: the station list); the metrics
// token may read /metrics and nothing else.
enum class access { none, unavailable, metrics, operator_, supervisor, admin };

asio::awaitable<access> authorize(const request& req, server_context& ctx) {
    auto h = req[http::field::authorization];
    constexpr std::string_view prefix = "Bearer ";
    if (h.size() <= prefix.size() || h.size() > 512 || h.substr(0, prefix.size()) != prefix)
        co_return access::none;
    std::string token(h.substr(prefix.size()));
    if (protocol::constant_time_equal(token, ctx.settings.admin_token)) co_return access::admin;
    if (!ctx.settings.metrics_token.empty() &&
        protocol::constant_time_equal(token, ctx.settings.metrics_token))
        co_return access::metrics;
    session_tokens tokens = ctx.store.sessions();
    bool unavailable = false;
    auto who = co_await tokens.check(token, &unavailable);
    if (unavailable) co_return access::unavailable;
    if (!who) co_return access::none;
    co_return who->supervisor() ? access::supervisor : access::operator_;
}

// The origin of the map tile template ("http://tiles.local/{z}/{x}/{y}.png" →
// "http://tiles.local"), which the console's images may come from; a template in the host part
// gives the scheme alone.
std::string tile_origin(const std::string& url) {
    const auto scheme_end = url.find("://");
    if (scheme_end == std::string::npos || url.compare(0, 4, "http") != 0) return {};
    const auto host_end = url.find('/', scheme_end + 3);
    std::string origin = url.substr(0, host_end);
    if (origin.find_first_of("{} ;'\"") != std::string::npos) return url.substr(0, scheme_end + 1);
    return origin;
}

// The console's files, with headers that keep scripts, styles, sockets and images to this origin
// (images may also come from the configured map tile server) and forbid framing the page.
response static_file(const request& req, const web_asset& a, const server_context& ctx) {
    response res = reply(req, http::status::ok, std::string(a.body), std::string(a.content_type));
    res.set(http::field::cache_control, "no-cache");
    res.set("X-Content-Type-Options", "nosniff");
    res.set("X-Frame-Options", "DENY");
    res.set("Referrer-Policy", "no-referrer");
    std::string img = "'self' data:";
    if (auto o = tile_origin(ctx.settings.map_tile_url); !o.empty()) img += " " + o;
    res.set("Content-Security-Policy", "default-src 'self'; connect-src 'self'; img-src " + img +
                                           "; style-src 'self'; frame-ancestors 'none'; "
                                           "base-uri 'none'; form-action 'self'");
    if (req.method() == http::verb::head) {
        res.body().clear();
        res.content_length(a.body.size());
    }
    return res;
}

// The value of `name` in the query string (no percent-decoding: values here are plain).
std::string query_param(std::string_view query, std::string_view name) {
    while (!query.empty()) {
        auto amp = query.find('&');
        auto pair = query.substr(0, amp);
        auto eq = pair.find('=');
        if (pair.substr(0, eq) == name)
            return eq == std::string_view::npos ? "" : std::string(pair.substr(eq + 1));
        if (amp == std::string_view::npos) break;
        query = query.substr(amp + 1);
    }
    return {};
}

// The query's from/to (epoch ms or YYYY-MM-DD; default the last 24 h); false if malformed.
bool time_range(std::string_view query, std::int64_t& from, std::int64_t& to) {
    auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
    std::string from_s = query_param(query, "from"), to_s = query_param(query, "to");
    from = from_s.empty() ? now_ms - 24 * 3600 * 1000LL : parse_time_bound(from_s);
    to = to_s.empty() ? now_ms + 1 : parse_time_bound(to_s);
    return from >= 0 && to >= 0 && to > from;
}

response bad_range(const request& req) {
    return error(req, http::status::bad_request, "bad_range",
                 "from/to must be epoch milliseconds or YYYY-MM-DD, with from < to");
}

// At most max_heavy_reads reports and searches at once on this instance; the others are told to
// come back (503 with Retry-After) rather than queued behind them.
struct heavy_read {
    server_context& ctx;
    bool admitted;
    explicit heavy_read(server_context& c) : ctx(c), admitted(c.heavy_reads < max_heavy_reads) {
        if (admitted)
            ++ctx.heavy_reads;
        else
            ++ctx.stats.http_busy;
    }
    ~heavy_read() {
        if (admitted) --ctx.heavy_reads;
    }
    heavy_read(const heavy_read&) = delete;
    heavy_read& operator=(const heavy_read&) = delete;
};

response busy(const request& req) {
    auto res = error(req, http::status::service_unavailable, "busy",
                     "other reports or searches are running on this instance; retry shortly");
    res.set(http::field::retry_after, "2");
    return res;
}

asio::awaitable<response> report(const request& req, server_context& ctx, std::string_view query) {
    std::int64_t from = 0, to = 0;
    if (!time_range(query, from, to)) co_return bad_range(req);
    const std::string format = query_param(query, "format");
    if (!format.empty() && format != "json" && format != "csv") {
        co_return error(req, http::status::bad_request, "bad_format", "format must be json or csv");
    }
    heavy_read slot(ctx);
    if (!slot.admitted) co_return busy(req);
    // The range is read a page at a time (call_scan.hpp): other commands on the connection wait
    // behind one page, not behind the range. A report counts at most 500,000 calls.
    constexpr std::size_t page_size = 1000, max_calls = 500'000;
    call_scan scan = ctx.store.scan(from, to, false);
    std::vector<call_summary> calls;
    std::vector<std::string> ids;
    while (!scan.done() && calls.size() < max_calls) {
        if (!co_await scan.next(std::min(page_size, max_calls - calls.size()), ids))
            co_return error(req, http::status::service_unavailable, "unavailable",
                            "store unavailable");
        auto rows = co_await ctx.store.report_rows(ids);
        if (!rows)
            co_return error(req, http::status::service_unavailable, "unavailable",
                            "store unavailable");
        for (auto& c : *rows) calls.push_back(std::move(c));
    }
    adm::Report rep;
    build_report(calls, from, to, rep);
    rep.set_truncated(!scan.done());
    auto offline = co_await ctx.store.offline_devices(10'000);
    if (offline) {
        for (const auto& d : *offline) rep.add_devices_offline_now(d);
    }
    if (format == "csv")
        co_return reply(req, http::status::ok, report_csv(rep), "text/csv; charset=utf-8");
    co_return reply(req, http::status::ok, to_json(rep));
}

asio::awaitable<response> search(const request& req, server_context& ctx, std::string_view query) {
    std::int64_t from = 0, to = 0;
    if (!time_range(query, from, to)) co_return bad_range(req);
    std::size_t limit = 200;
    if (std::string limit_s = query_param(query, "limit"); !limit_s.empty()) {
        limit = static_cast<std::size_t>(std::strtoul(limit_s.c_str(), nullptr, 10));
        if (limit < 1 || limit > 5000)
            co_return error(req, http::status::bad_request, "bad_limit", "limit is 1..5000");
    }
    const std::string q = url_decode(query_param(query, "q"));
    if (q.size() > 200)
        co_return error(req, http::status::bad_request, "bad_query", "q is at most 200 bytes");
    const std::string cursor = query_param(query, "cursor");
    heavy_read slot(ctx);
    if (!slot.admitted) co_return busy(req);
    adm::CallList list;
    switch (co_await search_calls(ctx, from, to, q, limit, cursor, list)) {
        case search_status::ok:
            break;
        case search_status::bad_cursor:
            co_return error(req, http::status::bad_request, "bad_cursor",
                            "cursor must be a next_cursor of the same search");
        case search_status::unavailable:
            co_return error(req, http::status::service_unavailable, "unavailable",
                            "store unavailable");
    }
    co_return reply(req, http::status::ok, to_json(list));
}

// Which listener a connection came in on.
enum class listener { https, plain, metrics };

// What a request may do, decided from its head alone, before any of its body is read: a
// stranger's 64 MiB is never taken into memory.
struct admission {
    access who = access::none;
    std::size_t body_limit = small_max_body;
    std::optional<response> refuse;  // answered at once, and the connection closed
};

asio::awaitable<admission> admit(const request& head, server_context& ctx, listener where) {
    admission a;
    std::string_view target = head.target();
    target = target.substr(0, target.find('?'));
    const bool api = target.substr(0, 5) == "/api/";
    if (where == listener::metrics) {
        // The metrics address (--metrics-listen, for a scraper on an internal network) serves
        // /metrics and /healthz without a token, and nothing else.
        if (target != "/metrics" && target != "/healthz")
            a.refuse = error(head, http::status::not_found, "not_found",
                             "this address serves /metrics and /healthz only");
        co_return a;
    }
    if (!api && target != "/metrics") co_return a;  // /healthz and the console's files: public
    a.who = co_await authorize(head, ctx);
    if (a.who == access::unavailable) {
        a.refuse = error(head, http::status::service_unavailable, "unavailable",
                         "store unavailable, cannot check the session token");
        co_return a;
    }
    if (a.who == access::none) {
        ++ctx.stats.http_unauthorized;
        a.refuse = error(head, http::status::unauthorized, "unauthorized",
                         "missing or wrong bearer token");
        a.refuse->set(http::field::www_authenticate, "Bearer");
        co_return a;
    }
    // Session tokens read; only the admin token provisions. Operators see the station list (for
    // transfers); supervisors the whole district. The metrics token reads /metrics only.
    const bool read_only = head.method() == http::verb::get || head.method() == http::verb::head;
    bool allowed = false;
    if (target == "/metrics")
        allowed = a.who == access::metrics || a.who == access::admin;
    else if (a.who == access::metrics)
        allowed = false;
    else if (!read_only)
        allowed = a.who == access::admin;
    else
        allowed = a.who >= (target == "/api/stations" ? access::operator_ : access::supervisor);
    if (!allowed) {
        ++ctx.stats.http_forbidden;
        a.refuse = error(head, http::status::forbidden, "forbidden",
                         "this token may not " + std::string(read_only ? "read" : "change") + " " +
                             std::string(target));
        co_return a;
    }
    if (target == "/api/provision" && head.method() == http::verb::post)
        a.body_limit = provision_max_body;
    co_return a;
}

asio::awaitable<response> handle(const request& req, server_context& ctx) {
    std::string_view target = req.target();
    std::string_view query;
    if (auto q = target.find('?'); q != std::string_view::npos) {
        query = target.substr(q + 1);
        target = target.substr(0, q);
    }

    if (target == "/healthz") {
        if (req.method() != http::verb::get)
            co_return error(req, http::status::method_not_allowed, "method", "GET only");
        bool up = ctx.store.connected();
        co_return reply(req, up ? http::status::ok : http::status::service_unavailable,
                        std::string("{\"status\":\"") + (up ? "ok" : "degraded") +
                            "\",\"redis\":\"" + (up ? "up" : "down") + "\",\"instance\":\"" +
                            ctx.settings.instance + "\"}");
    }
    if (target == "/metrics") {
        if (req.method() != http::verb::get)
            co_return error(req, http::status::method_not_allowed, "method", "GET only");
        auto by_state = co_await ctx.store.calls_by_state();
        co_return reply(
            req, http::status::ok,
            ctx.stats.render(by_state, ctx.store.connected(), ctx.store.round_trip_seconds()),
            "text/plain; version=0.0.4");
    }
    if (target.substr(0, 5) != "/api/") {
        if (const auto* a = find_web_asset(target)) {
            if (req.method() != http::verb::get && req.method() != http::verb::head)
                co_return error(req, http::status::method_not_allowed, "method", "GET only");
            co_return static_file(req, *a, ctx);
        }
        co_return error(req, http::status::not_found, "not_found", "no such path");
    }
    // Authorised in admit(), before the body was read.
    if (target == "/api/provision") {
        if (req.method() != http::verb::post)
            co_return error(req, http::status::method_not_allowed, "method", "POST only");
        adm::ProvisionRequest pr;
        auto st = google::protobuf::util::JsonStringToMessage(req.body(), &pr);
        if (!st.ok())
            co_return error(req, http::status::bad_request, "bad_json", std::string(st.message()));
        adm::ProvisionResult result;
        auto err = co_await ctx.dir.provision(pr, result);
        if (!err.empty()) {
            bool unavailable = err.rfind("unavailable", 0) == 0;
            co_return error(req,
                            unavailable ? http::status::service_unavailable
                                        : http::status::unprocessable_entity,
                            unavailable ? "unavailable" : "invalid", err);
        }
        spdlog::info("admin: provisioned {} stations, {} residents, {} devices, {} operators",
                     result.stations(), result.residents(), result.devices(), result.operators());
        co_return reply(req, http::status::ok, to_json(result));
    }
    if (req.method() != http::verb::get)
        co_return error(req, http::status::method_not_allowed, "method", "GET only");
    if (target == "/api/reports") co_return co_await report(req, ctx, query);
    if (target == "/api/stations") {
        adm::StationList list;
        for (auto& s : co_await ctx.dir.list_stations()) *list.add_stations() = std::move(s);
        co_return reply(req, http::status::ok, to_json(list));
    }
    if (target == "/api/overview") {
        adm::Overview ov;
        if (!co_await build_overview(ctx, ov))
            co_return error(req, http::status::service_unavailable, "unavailable",
                            "store unavailable");
        co_return reply(req, http::status::ok, to_json(ov));
    }
    if (target == "/api/calls") co_return co_await search(req, ctx, query);
    constexpr std::string_view calls_prefix = "/api/calls/";
    if (target.substr(0, calls_prefix.size()) == calls_prefix) {
        std::string id(target.substr(calls_prefix.size()));
        if (!valid_id(id))
            co_return error(req, http::status::bad_request, "bad_id", "malformed call id");
        adm::CallRecord rec;
        auto loaded = co_await ctx.store.load(id);
        if (!loaded.ok)
            co_return error(req, http::status::service_unavailable, "unavailable",
                            "store unavailable");
        if (!loaded.found)
            co_return error(req, http::status::not_found, "not_found", "no call " + id);
        co_await ctx.store.load_console_call(id, *rec.mutable_call());
        resident_record r;
        if (co_await ctx.dir.find_resident(rec.call().resident_id(), r) == lookup_status::found) {
            to_console_resident(r, *rec.mutable_resident());
        }
        auto history = co_await ctx.store.history(id);
        if (history) {
            for (auto& entry : *history) *rec.add_history() = std::move(entry);
        }
        co_return reply(req, http::status::ok, to_json(rec));
    }
    co_return error(req, http::status::not_found, "not_found", "no such path");
}

// A Host header fit to put in a redirect: a DNS name or IP literal and an optional port.
bool plausible_host(std::string_view h) {
    if (h.empty() || h.size() > 255) return false;
    for (char ch : h) {
        if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '.' && ch != '-' && ch != ':' &&
            ch != '[' && ch != ']')
            return false;
    }
    return true;
}

// A plaintext request that reached the HTTPS port: a browser's GET is sent to the same address
// over HTTPS; anything else is told to use HTTPS. Either way the connection is then closed: no
// token or password typed into a plaintext form is ever read past its headers.
asio::awaitable<void> answer_plaintext(beast::tcp_stream& tcp, beast::flat_buffer& buf,
                                       server_context& ctx) {
    ++ctx.stats.http_plain_redirected;
    http::request_parser<http::string_body> parser;
    auto [ec, n] = co_await http::async_read_header(tcp, buf, parser, use_nothrow);
    if (ec) co_return;
    const auto& head = parser.get();
    response res;
    const auto host = head[http::field::host];
    const std::string_view target = head.target();
    if ((head.method() == http::verb::get || head.method() == http::verb::head) &&
        plausible_host(host) && !target.empty() && target.front() == '/' &&
        target.find_first_of("\r\n") == std::string_view::npos) {
        res = reply(head, http::status::moved_permanently, "");
        res.set(http::field::location, "https://" + std::string(host) + std::string(target));
    } else {
        res = error(head, http::status::bad_request, "https_required",
                    "this port speaks HTTPS: use https://");
    }
    res.keep_alive(false);
    co_await http::async_write(tcp, res, use_nothrow);
    boost::system::error_code ignored;
    tcp.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
}

// After refusing a request whose body is still coming: stop sending, then read and discard what
// the client is still sending for a moment (at most 1 s and 1 MiB, into a fixed buffer), so that
// an honest client that sent its body anyway reads the refusal instead of a connection reset.
asio::awaitable<void> linger(beast::tcp_stream& tcp) {
    boost::system::error_code ec;
    tcp.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ec);
    tcp.expires_after(std::chrono::seconds(1));
    std::array<char, 16 * 1024> sink;
    for (std::size_t drained = 0; drained < 1024 * 1024;) {
        auto [rec, n] = co_await tcp.async_read_some(asio::buffer(sink), use_nothrow);
        if (rec) break;
        drained += n;
    }
}

asio::awaitable<void> serve(maybe_tls_stream& stream, beast::flat_buffer& buf, server_context& ctx,
                            listener where, std::shared_ptr<console_session>& console,
                            const std::function<void()>& on_console_login) {
    auto& tcp = beast::get_lowest_layer(stream);
    for (bool first = true;; first = false) {
        http::request_parser<http::string_body> parser;
        // The largest any route takes, for the header's Content-Length; the route's own limit is
        // set once the request is authorised, before any of the body is read.
        parser.body_limit(provision_max_body);
        // The first request must be complete within the handshake timeout of the accept (a
        // client trickling its headers a byte at a time is cut off); later ones get a minute.
        if (!first) tcp.expires_after(std::chrono::seconds(60));
        auto [ec, n] = co_await http::async_read_header(stream, buf, parser, use_nothrow);
        if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
            ec == asio::error::eof)
            break;
        admission adm_;
        if (!ec) {
            const auto& head = parser.get();
            if (beast::websocket::is_upgrade(head)) {
                if (head.target() != "/console" || where == listener::metrics) {
                    auto res = error(head, http::status::not_found, "not_found",
                                     "WebSocket endpoint is /console");
                    res.keep_alive(false);
                    co_await http::async_write(stream, res, use_nothrow);
                    break;
                }
                // An upgrade has no body; the console proves who it is with its login message.
                parser.body_limit(0);
                if (!parser.is_done())
                    std::tie(ec, n) = co_await http::async_read(stream, buf, parser, use_nothrow);
                if (ec) break;
                console = std::make_shared<console_session>(std::move(stream), ctx);
                console->on_authenticated(on_console_login);
                co_await console->run(parser.release());
                co_return;
            }
            adm_ = co_await admit(head, ctx, where);
            if (!adm_.refuse && parser.content_length() &&
                *parser.content_length() > adm_.body_limit) {
                ++ctx.stats.http_bodies_too_large;
                adm_.refuse = error(head, http::status::payload_too_large, "too_large",
                                    "a body of at most " + std::to_string(adm_.body_limit) +
                                        " bytes on this route");
            }
            if (adm_.refuse) {
                adm_.refuse->keep_alive(false);  // its body, if any, is never read
                if (stream.is_tls()) adm_.refuse->set(http::field::strict_transport_security, hsts);
                tcp.expires_after(std::chrono::seconds(10));
                auto [wec, wn] = co_await http::async_write(stream, *adm_.refuse, use_nothrow);
                if (!wec && !parser.is_done()) co_await linger(tcp);
                break;
            }
            parser.body_limit(adm_.body_limit);
            if (!parser.is_done()) {
                // curl and others wait for this before sending a large body.
                if (beast::iequals(head[http::field::expect], "100-continue")) {
                    http::response<http::empty_body> cont{http::status::continue_, head.version()};
                    auto [cec, cn] = co_await http::async_write(stream, cont, use_nothrow);
                    if (cec) break;
                }
                tcp.expires_after(adm_.body_limit > small_max_body ? std::chrono::seconds(300)
                                                                   : std::chrono::seconds(60));
                std::tie(ec, n) = co_await http::async_read(stream, buf, parser, use_nothrow);
            }
        }
        if (ec) {
            // A malformed request: say so once, then drop the connection (the stream is unusable).
            if (ec == http::error::body_limit) ++ctx.stats.http_bodies_too_large;
            request dummy;
            dummy.version(11);
            const bool too_large = ec == http::error::body_limit;
            auto res = error(
                dummy, too_large ? http::status::payload_too_large : http::status::bad_request,
                too_large ? "too_large" : "bad_request", ec.message());
            res.keep_alive(false);
            tcp.expires_after(std::chrono::seconds(10));
            co_await http::async_write(stream, res, use_nothrow);
            break;
        }
        request req = parser.release();
        ++ctx.stats.http_requests;
        auto res = co_await handle(req, ctx);
        if (stream.is_tls()) res.set(http::field::strict_transport_security, hsts);
        bool keep = res.keep_alive();
        tcp.expires_after(60s);
        auto [wec, wn] = co_await http::async_write(stream, res, use_nothrow);
        if (wec || !keep) break;
    }
    if (stream.is_tls()) {
        // close_notify, bounded: a peer that has gone does not hold the connection.
        tcp.expires_after(std::chrono::seconds(2));
        co_await stream.tls().async_shutdown(use_nothrow);
    }
    boost::system::error_code ec;
    tcp.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ec);
}

}  // namespace

asio::awaitable<void> serve_http(asio::ip::tcp::socket socket, server_context& ctx,
                                 asio::ssl::context* tls, bool metrics_only) {
    boost::system::error_code ep_ec;
    const auto ep = socket.remote_endpoint(ep_ec);
    const listener where = metrics_only ? listener::metrics
                           : tls        ? listener::https
                                        : listener::plain;
    beast::tcp_stream tcp(std::move(socket));
    maybe_tls_stream stream =
        tls ? maybe_tls_stream(maybe_tls_stream::tls_stream(std::move(tcp), *tls))
            : maybe_tls_stream(std::move(tcp));
    std::shared_ptr<console_session> console;  // once upgraded: it owns the stream
    // Until a console logs in, this connection is a stranger's: it may be shed (closed) to
    // make room for a newer one at the pending caps (connection_gate.hpp). Declared after the
    // stream, so it is released before the stream goes.
    struct pending_guard {
        server_context& ctx;
        std::uint64_t id = 0;
        void release(bool completed = false) {
            if (id == 0 || !ctx.http_gate) return;
            ctx.http_gate->release(std::exchange(id, 0), completed);
            ctx.stats.pending_http = static_cast<std::int64_t>(ctx.http_gate->pending());
        }
        ~pending_guard() { release(); }
    } pending{ctx};
    if (ctx.http_gate) {
        const auto shed_before = ctx.http_gate->shed();
        pending.id = ctx.http_gate->admit(
            ep_ec ? std::string("?") : ep.address().to_string(), [&stream, &console, &pending] {
                pending.id = 0;
                if (console) {
                    console->close();
                    return;
                }
                boost::system::error_code ignored;
                beast::get_lowest_layer(stream).socket().close(ignored);
            });
        ctx.stats.http_connections_shed += ctx.http_gate->shed() - shed_before;
        ctx.stats.pending_http = static_cast<std::int64_t>(ctx.http_gate->pending());
        if (pending.id == 0) {
            ++ctx.stats.http_connections_refused;  // all pending are young: come back later
            boost::system::error_code ignored;
            beast::get_lowest_layer(stream).socket().close(ignored);
            co_return;
        }
    }
    // The TLS handshake and the first request must be complete within the handshake timeout of
    // the accept.
    auto& lowest = beast::get_lowest_layer(stream);
    lowest.expires_after(
        std::chrono::duration_cast<std::chrono::seconds>(ctx.settings.handshake_timeout));
    beast::flat_buffer buf;
    if (stream.is_tls()) {
        // A browser told http:// reaches this port in plaintext: answer it (a redirect) rather
        // than with a TLS alert it cannot show.
        auto [dec, is_tls] = co_await beast::async_detect_ssl(lowest, buf, use_nothrow);
        if (dec) co_return;
        if (!is_tls) {
            co_await answer_plaintext(lowest, buf, ctx);
            co_return;
        }
        auto [hec, used] = co_await stream.tls().async_handshake(asio::ssl::stream_base::server,
                                                                 buf.data(), use_nothrow);
        if (hec) {
            ++ctx.stats.http_tls_failures;
            spdlog::debug("https ({}): TLS handshake failed: {}",
                          ep_ec ? std::string("?") : ep.address().to_string(), hec.message());
            co_return;
        }
        buf.consume(used);
    }
    co_await serve(stream, buf, ctx, where, console, [&pending] { pending.release(true); });
}

}  // namespace anxin::dispatcher
