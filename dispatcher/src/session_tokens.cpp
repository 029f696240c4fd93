#include "anxin/dispatcher/session_tokens.hpp"
#include "anxin/dispatcher/redis_keys.hpp"

#include "anxin/dispatcher/redis_reply.hpp"
#include "anxin/protocol/device_auth.hpp"

#include <openssl/sha.h>

#include <sstream>

namespace asio = boost::asio;

namespace anxin::dispatcher {

std::string session_key(const std::string& token) {
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(), md);
    return keys::session(
        protocol::to_hex(std::string_view(reinterpret_cast<const char*>(md), sizeof md)));
}

asio::awaitable<std::string> session_tokens::issue(const console_identity& who) {
    std::string token = protocol::to_hex(protocol::random_bytes(16));
    auto cmd = redis_cmd("SET", session_key(token),
                         who.role + " " + who.operator_id + " " + who.station_id, "EX",
                         std::to_string(ttl_.count()));
    auto r = co_await redis_.exec(std::move(cmd));
    if (!r.ok()) co_return std::string();
    co_return token;
}

asio::awaitable<std::optional<console_identity>> session_tokens::check(const std::string& token,
                                                                       bool* unavailable) {
    if (unavailable) *unavailable = false;
    // Tokens are ours: 32 hex digits. Anything else is not worth a round trip.
    if (token.size() != 32 || token.find_first_not_of("0123456789abcdef") != std::string::npos)
        co_return std::nullopt;
    auto cmd = redis_cmd("GETEX", session_key(token), "EX", std::to_string(ttl_.count()));
    auto r = co_await redis_.exec(std::move(cmd));
    if (!r.ok()) {
        if (unavailable) *unavailable = true;
        co_return std::nullopt;
    }
    if (r.reply.is_nil()) co_return std::nullopt;
    console_identity who;
    std::istringstream in(r.reply.str);
    in >> who.role >> who.operator_id >> who.station_id;
    if (who.operator_id.empty()) co_return std::nullopt;
    co_return who;
}

asio::awaitable<void> session_tokens::revoke(const std::string& token) {
    if (token.empty()) co_return;
    co_await redis_.exec(redis_cmd("DEL", session_key(token)));
}

}  // namespace anxin::dispatcher
