#pragma once
// Runs a blocking function (password hashing) on a thread pool and resumes the awaiting coroutine
// on its own executor with the result: the event loop that serves devices never waits for it.

#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <utility>

namespace anxin::dispatcher {

template <class T, class F>
boost::asio::awaitable<T> offload(boost::asio::thread_pool& pool, F f) {
    namespace asio = boost::asio;
    auto ex = co_await asio::this_coro::executor;
    co_return co_await asio::async_initiate<const asio::use_awaitable_t<>&, void(T)>(
        [&pool, ex](auto handler, F fn) {
            asio::post(pool, [handler = std::move(handler), fn = std::move(fn), ex]() mutable {
                T result = fn();
                asio::post(ex,
                           [handler = std::move(handler), result = std::move(result)]() mutable {
                               std::move(handler)(std::move(result));
                           });
            });
        },
        asio::use_awaitable, std::move(f));
}

}  // namespace anxin::dispatcher
