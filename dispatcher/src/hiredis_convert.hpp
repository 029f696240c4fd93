#pragma once
// Copies a hiredis reply into an owned redis_reply (private to the library: redis_connection and
// sentinel_client both parse with hiredis).

#include "anxin/dispatcher/redis_reply.hpp"

#include <hiredis/hiredis.h>

namespace anxin::dispatcher::detail {

inline redis_reply convert(const redisReply* r) {
    redis_reply out;
    switch (r->type) {
        case REDIS_REPLY_STRING:
            out.type = redis_reply::kind::string;
            out.str.assign(r->str, r->len);
            break;
        case REDIS_REPLY_STATUS:
            out.type = redis_reply::kind::status;
            out.str.assign(r->str, r->len);
            break;
        case REDIS_REPLY_ERROR:
            out.type = redis_reply::kind::error;
            out.str.assign(r->str, r->len);
            break;
        case REDIS_REPLY_INTEGER:
            out.type = redis_reply::kind::integer;
            out.integer = r->integer;
            break;
        case REDIS_REPLY_ARRAY:
            out.type = redis_reply::kind::array;
            out.elements.reserve(r->elements);
            for (std::size_t i = 0; i < r->elements; ++i)
                out.elements.push_back(convert(r->element[i]));
            break;
        default:
            out.type = redis_reply::kind::nil;
    }
    return out;
}

}  // namespace anxin::dispatcher::detail
