// The bounded hashing queue of login_guard (the guess limits are login_limiter_test's): no Redis
// is needed, verify() never touches it.

#include "anxin/dispatcher/login_guard.hpp"
#include "anxin/dispatcher/password.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>

#include <map>

using namespace anxin::dispatcher;
namespace asio = boost::asio;

namespace {

using check = login_guard::password_check;

// Starts every (source, password, stored hash) check at once and returns the answers.
std::vector<check> run_all(
    login_guard& guard, const std::vector<std::tuple<std::string, std::string, std::string>>& in) {
    asio::io_context io;
    std::vector<check> out(in.size(), check::busy);
    for (std::size_t i = 0; i < in.size(); ++i) {
        asio::co_spawn(
            io,
            [&, i]() -> asio::awaitable<void> {
                auto [source, password, stored] = in[i];
                out[i] = co_await guard.verify(source, password, stored);
            },
            asio::detached);
    }
    io.run();
    return out;
}

}  // namespace

TEST(login_guard, checks_passwords_and_unknown_operators_never_match) {
    asio::thread_pool pool(1);
    login_guard guard(nullptr, pool, 1000);
    const auto stored = hash_password("right", 1000);
    auto r = run_all(guard, {{"10.0.0.1", "right", stored}});
    EXPECT_EQ(r[0], check::match);
    r = run_all(guard, {{"10.0.0.1", "wrong", stored}});
    EXPECT_EQ(r[0], check::mismatch);
    // An unknown operator: checked against the dummy hash, whatever the password.
    r = run_all(guard, {{"10.0.0.1", "", ""}, {"10.0.0.2", "right", ""}});
    EXPECT_EQ(r[0], check::mismatch);
    EXPECT_EQ(r[1], check::mismatch);
    EXPECT_EQ(guard.hash_jobs(), 0u);
    pool.join();
}

TEST(login_guard, one_source_gets_two_checks_at_a_time_the_rest_are_busy_at_once) {
    asio::thread_pool pool(1);
    login_guard guard(nullptr, pool, 1000);
    const auto stored = hash_password("right", 1000);
    std::vector<std::tuple<std::string, std::string, std::string>> in;
    for (int i = 0; i < 10; ++i) in.emplace_back("10.0.0.1", "guess", stored);
    in.emplace_back("192.168.1.20", "right", stored);  // the real operator, elsewhere
    auto r = run_all(guard, in);
    std::map<check, int> n;
    for (std::size_t i = 0; i + 1 < r.size(); ++i) ++n[r[i]];
    EXPECT_EQ(n[check::mismatch], 2);
    EXPECT_EQ(n[check::busy], 8);
    EXPECT_EQ(r.back(), check::match);
    EXPECT_GE(guard.busy_retry_after_ms(), 250);
    EXPECT_LE(guard.busy_retry_after_ms(), 5000);
    pool.join();
}

TEST(login_guard, at_most_eight_checks_queued_or_running) {
    asio::thread_pool pool(1);
    std::int64_t gauge = -1;
    login_guard guard(nullptr, pool, 1000);
    guard.report_to(&gauge, nullptr);
    const auto stored = hash_password("right", 1000);
    std::vector<std::tuple<std::string, std::string, std::string>> in;
    for (int i = 0; i < 20; ++i) in.emplace_back("10.0.1." + std::to_string(i), "guess", stored);
    auto r = run_all(guard, in);
    EXPECT_EQ(std::count(r.begin(), r.end(), check::mismatch), 8);
    EXPECT_EQ(std::count(r.begin(), r.end(), check::busy), 12);
    EXPECT_EQ(gauge, 0);  // all done
    // Room again once they are done.
    r = run_all(guard, {{"10.0.1.1", "right", stored}});
    EXPECT_EQ(r[0], check::match);
    pool.join();
}

// An unknown id costs what a known one does: its password is hashed, against a dummy of the
// configured cost, and the answer is a mismatch (never a match, whatever the password).
TEST(login_guard, unknown_ids_are_hashed_against_a_dummy_of_the_same_cost) {
    asio::thread_pool pool(1);
    std::int64_t gauge = -1;
    std::uint64_t hashed = 0;
    login_guard guard(nullptr, pool, 1234);
    guard.report_to(&gauge, &hashed);
    EXPECT_EQ(guard.dummy_hash().rfind("pbkdf2-sha256$1234$", 0), 0u) << guard.dummy_hash();
    const auto stored = hash_password("right", 1234);
    auto r = run_all(guard, {{"10.0.2.1", "right", stored},
                             {"10.0.2.2", "wrong", stored},
                             {"10.0.2.3", "right", ""},
                             {"10.0.2.4", "", ""}});
    EXPECT_EQ(r[0], check::match);
    EXPECT_EQ(r[1], check::mismatch);
    EXPECT_EQ(r[2], check::mismatch);
    EXPECT_EQ(r[3], check::mismatch);
    EXPECT_EQ(hashed, 4u);
    EXPECT_EQ(gauge, 0);
    pool.join();
}
