#include "anxin/dispatcher/http_session.hpp"

#include "admin.pb.h"
#include "console.pb.h"

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

#include <google/protobuf/util/json_util.h>
#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace adm = anxin::admin::v1;
using namespace std::chrono_literals;

namespace anxin::dispatcher {

namespace {

constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t max_body = 64 * 1024 * 1024;  // a district of ~100k residents in one call

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
// what that console needs (supervisors: the district; operators: the station list).
enum class access { none, unavailable, operator_, supervisor, admin };

asio::awaitable<access> authorize(const request& req, server_context& ctx) {
    auto h = req[http::field::authorization];
    constexpr std::string_view prefix = "Bearer ";
    if (h.size() <= prefix.size() || h.substr(0, prefix.size()) != prefix) co_return access::none;
    std::string token(h.substr(prefix.size()));
    if (protocol::constant_time_equal(token, ctx.settings.admin_token)) co_return access::admin;
    session_tokens tokens(ctx.store.redis());
    bool unavailable = false;
    auto who = co_await tokens.check(token, &unavailable);
    if (unavailable) co_return access::unavailable;
    if (!who) co_return access::none;
    co_return who->supervisor() ? access::supervisor : access::operator_;
}

// The console's files, with headers that keep scripts, styles and sockets to this origin (images
// may also come from the configured map tile server) and forbid framing the page.
response static_file(const request& req, const web_asset& a) {
    response res = reply(req, http::status::ok, std::string(a.body), std::string(a.content_type));
    res.set(http::field::cache_control, "no-cache");
    res.set("X-Content-Type-Options", "nosniff");
    res.set("X-Frame-Options", "DENY");
    res.set("Content-Security-Policy",
            "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data: http: https:; "
            "style-src 'self'; frame-ancestors 'none'");
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

asio::awaitable<response> report(const request& req, server_context& ctx, std::string_view query) {
    std::int64_t from = 0, to = 0;
    if (!time_range(query, from, to)) co_return bad_range(req);
    const std::string format = query_param(query, "format");
    if (!format.empty() && format != "json" && format != "csv") {
        co_return error(req, http::status::bad_request, "bad_format", "format must be json or csv");
    }
    auto ids = co_await ctx.store.redis().exec(
        redis_cmd("ZRANGEBYSCORE", "anx:calls:by_time", std::to_string(from),
                  "(" + std::to_string(to), "LIMIT", "0", "500000"));
    if (!ids.ok())
        co_return error(req, http::status::service_unavailable, "unavailable", "store unavailable");
    std::vector<std::vector<std::string>> cmds;
    for (const auto& id : ids.reply.elements) {
        cmds.push_back(redis_cmd("HMGET", "anx:call:" + id.str, "station", "type", "priority",
                                 "state", "outcome", "operator", "received_ms", "accepted_ms",
                                 "closed_ms"));
    }
    auto rows = co_await ctx.store.redis().exec_many(std::move(cmds));
    std::vector<call_summary> calls;
    for (std::size_t i = 0; i < rows.size(); ++i) {
        if (!rows[i].ok() || rows[i].reply.elements.size() != 9) continue;
        const auto& e = rows[i].reply.elements;
        call_summary c;
        c.id = ids.reply.elements[i].str;
        c.station_id = e[0].str;
        c.alarm_type = e[1].str;
        c.priority = static_cast<int>(e[2].as_int());
        c.state = e[3].str;
        c.outcome = e[4].str;
        c.operator_id = e[5].str;
        c.received_ms = e[6].as_int();
        c.accepted_ms = e[7].as_int();
        c.closed_ms = e[8].as_int();
        calls.push_back(std::move(c));
    }
    adm::Report rep;
    build_report(calls, from, to, rep);
    auto offline =
        co_await ctx.store.redis().exec(redis_cmd("ZRANGE", "anx:devices:offline", "0", "-1"));
    if (offline.ok()) {
        for (const auto& d : offline.reply.elements) rep.add_devices_offline_now(d.str);
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
    adm::CallList list;
    if (!co_await search_calls(ctx, from, to, q, limit, list))
        co_return error(req, http::status::service_unavailable, "unavailable", "store unavailable");
    co_return reply(req, http::status::ok, to_json(list));
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
        bool up = ctx.store.redis().connected();
        co_return reply(req, up ? http::status::ok : http::status::service_unavailable,
                        std::string("{\"status\":\"") + (up ? "ok" : "degraded") +
                            "\",\"redis\":\"" + (up ? "up" : "down") + "\",\"instance\":\"" +
                            ctx.settings.instance + "\"}");
    }
    if (target == "/metrics") {
        std::vector<std::pair<std::string, std::int64_t>> by_state;
        auto r = co_await ctx.store.redis().exec(redis_cmd("HGETALL", "anx:stats:calls_by_state"));
        if (r.ok()) {
            for (std::size_t i = 0; i + 1 < r.reply.elements.size(); i += 2) {
                by_state.emplace_back(r.reply.elements[i].str, r.reply.elements[i + 1].as_int());
            }
        }
        co_return reply(req, http::status::ok,
                        ctx.stats.render(by_state, ctx.store.redis().connected(),
                                         ctx.store.redis().last_rtt_seconds()),
                        "text/plain; version=0.0.4");
    }
    if (target.substr(0, 5) != "/api/") {
        if (const auto* a = find_web_asset(target)) {
            if (req.method() != http::verb::get && req.method() != http::verb::head)
                co_return error(req, http::status::method_not_allowed, "method", "GET only");
            co_return static_file(req, *a);
        }
        co_return error(req, http::status::not_found, "not_found", "no such path");
    }
    const access who = co_await authorize(req, ctx);
    if (who == access::unavailable)
        co_return error(req, http::status::service_unavailable, "unavailable",
                        "store unavailable, cannot check the session token");
    if (who == access::none) {
        auto res =
            error(req, http::status::unauthorized, "unauthorized", "missing or wrong bearer token");
        res.set(http::field::www_authenticate, "Bearer");
        co_return res;
    }
    // Session tokens read; only the admin token provisions. Operators see the station list (for
    // transfers); supervisors the whole district.
    const bool read_only = req.method() == http::verb::get;
    const access needed = !read_only                  ? access::admin
                          : target == "/api/stations" ? access::operator_
                                                      : access::supervisor;
    if (who < needed)
        co_return error(req, http::status::forbidden, "forbidden",
                        "this session may not " + std::string(read_only ? "read" : "change") + " " +
                            std::string(target));

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
    if (target == "/api/reports") {
        if (req.method() != http::verb::get)
            co_return error(req, http::status::method_not_allowed, "method", "GET only");
        co_return co_await report(req, ctx, query);
    }
    if (target == "/api/stations") {
        if (req.method() != http::verb::get)
            co_return error(req, http::status::method_not_allowed, "method", "GET only");
        adm::StationList list;
        for (auto& s : co_await ctx.dir.list_stations()) *list.add_stations() = std::move(s);
        co_return reply(req, http::status::ok, to_json(list));
    }
    if (target == "/api/overview") {
        if (req.method() != http::verb::get)
            co_return error(req, http::status::method_not_allowed, "method", "GET only");
        adm::Overview ov;
        if (!co_await build_overview(ctx, ov))
            co_return error(req, http::status::service_unavailable, "unavailable",
                            "store unavailable");
        co_return reply(req, http::status::ok, to_json(ov));
    }
    if (target == "/api/calls") {
        if (req.method() != http::verb::get)
            co_return error(req, http::status::method_not_allowed, "method", "GET only");
        co_return co_await search(req, ctx, query);
    }
    constexpr std::string_view calls_prefix = "/api/calls/";
    if (target.substr(0, calls_prefix.size()) == calls_prefix) {
        if (req.method() != http::verb::get)
            co_return error(req, http::status::method_not_allowed, "method", "GET only");
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
        auto h = co_await ctx.store.redis().exec(
            redis_cmd("LRANGE", "anx:call:" + id + ":history", "0", "-1"));
        if (h.ok()) {
            google::protobuf::util::JsonParseOptions po;
            po.ignore_unknown_fields = true;
            for (const auto& e : h.reply.elements) {
                adm::HistoryEntry entry;
                if (google::protobuf::util::JsonStringToMessage(e.str, &entry, po).ok())
                    *rec.add_history() = entry;
            }
        }
        co_return reply(req, http::status::ok, to_json(rec));
    }
    co_return error(req, http::status::not_found, "not_found", "no such path");
}

}  // namespace

asio::awaitable<void> serve_http(asio::ip::tcp::socket socket, server_context& ctx) {
    boost::system::error_code ep_ec;
    const auto ep = socket.remote_endpoint(ep_ec);
    beast::tcp_stream stream(std::move(socket));
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
        pending.id = ctx.http_gate->admit(ep_ec ? std::string("?") : ep.address().to_string(),
                                          [&stream, &console, &pending] {
                                              pending.id = 0;
                                              if (console) {
                                                  console->close();
                                                  return;
                                              }
                                              boost::system::error_code ignored;
                                              stream.socket().close(ignored);
                                          });
        ctx.stats.http_connections_shed += ctx.http_gate->shed() - shed_before;
        ctx.stats.pending_http = static_cast<std::int64_t>(ctx.http_gate->pending());
        if (pending.id == 0) {
            ++ctx.stats.http_connections_refused;  // all pending are young: come back later
            boost::system::error_code ignored;
            stream.socket().close(ignored);
            co_return;
        }
    }
    beast::flat_buffer buf;
    for (bool first = true;; first = false) {
        http::request_parser<http::string_body> parser;
        parser.body_limit(max_body);
        // The first request must be complete within the handshake timeout of the accept (a
        // client trickling its headers a byte at a time is cut off); later ones get a minute.
        stream.expires_after(
            first ? std::chrono::duration_cast<std::chrono::seconds>(ctx.settings.handshake_timeout)
                  : std::chrono::seconds(60));
        auto [ec, n] = co_await http::async_read(stream, buf, parser, use_nothrow);
        if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
            ec == asio::error::eof)
            break;
        if (ec) {
            // A malformed request: say so once, then drop the connection (the stream is unusable).
            request dummy;
            dummy.version(11);
            auto res = error(dummy,
                             ec == http::error::body_limit ? http::status::payload_too_large
                                                           : http::status::bad_request,
                             "bad_request", ec.message());
            res.keep_alive(false);
            co_await http::async_write(stream, res, use_nothrow);
            break;
        }
        request req = parser.release();
        ++ctx.stats.http_requests;
        if (beast::websocket::is_upgrade(req)) {
            if (req.target() != "/console") {
                auto res = error(req, http::status::not_found, "not_found",
                                 "WebSocket endpoint is /console");
                res.keep_alive(false);
                co_await http::async_write(stream, res, use_nothrow);
                break;
            }
            console = std::make_shared<console_session>(std::move(stream), ctx);
            console->on_authenticated([&pending] { pending.release(true); });
            co_await console->run(std::move(req));
            co_return;
        }
        auto res = co_await handle(req, ctx);
        bool keep = res.keep_alive();
        stream.expires_after(60s);
        auto [wec, wn] = co_await http::async_write(stream, res, use_nothrow);
        if (wec || !keep) break;
    }
    boost::system::error_code ec;
    stream.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ec);
}

}  // namespace anxin::dispatcher
