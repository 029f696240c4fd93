#pragma once
// Stations, residents, devices and operators: provisioned through the admin API, stored in Redis
// (the source of truth), read by the sessions and the router. Stations are cached per instance
// and reloaded when anx:directory:version changes.
//
// Threading: io thread only. Password hashing runs on the given thread pool (one thread: hashing
// must never take the event loop's core) and resumes on the io thread.

#include "anxin/dispatcher/geo.hpp"
#include "anxin/dispatcher/login_guard.hpp"
#include "anxin/dispatcher/redis_connection.hpp"
#include "anxin/dispatcher/secret_box.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace anxin::admin::v1 {
class ProvisionRequest;
class ProvisionResult;
class Station;
}  // namespace anxin::admin::v1
namespace anxin::console::v1 {
class Resident;
}

namespace anxin::dispatcher {

// A lookup that tells "does not exist" apart from "could not ask".
enum class lookup_status { found, not_found, unavailable };

struct device_record {
    std::string id;
    std::string secret;  // decrypted
    // The stored secret is sealed but does not open with this instance's key (another
    // --secrets-key-file, or a damaged value): `secret` is empty and the device cannot
    // authenticate. Logged by find_device (rate-limited); the caller counts it.
    bool secret_unreadable = false;
    std::string resident_id;
    int heartbeat_interval_s = 0;  // 0: the dispatcher's default
    std::string epoch;             // the counter epoch of its last Hello that gave one
};

struct operator_record {
    std::string id;
    std::string name;
    std::string station_id;  // empty for supervisors
    std::string password_hash;
    bool supervisor = false;
};

struct resident_record {
    std::string id;
    std::string name;
    std::string address;
    std::string phone;
    geo_point home;
    std::string date_of_birth;  // YYYY-MM-DD
    std::string health_conditions;
    std::string medication;
    std::string gp;
    std::string key_holders_json;  // JSON array of console KeyHolder
};

// Whole years between a YYYY-MM-DD birth date and a Unix time in ms; 0 if the date is malformed.
int age_on(const std::string& date_of_birth, std::int64_t now_ms);

class directory {
  public:
    // Device secrets are stored sealed by `secrets` (secret_box.hpp); legacy plaintext values
    // still authenticate and are sealed on their next use and by seal_legacy_secrets().
    directory(std::shared_ptr<redis_connection> redis, boost::asio::thread_pool& pool,
              int pbkdf2_iterations, std::shared_ptr<const secret_box> secrets);

    boost::asio::awaitable<lookup_status> find_device(const std::string& id, device_record& out);
    boost::asio::awaitable<lookup_status> find_operator(const std::string& id,
                                                        operator_record& out);
    boost::asio::awaitable<lookup_status> find_resident(const std::string& id,
                                                        resident_record& out);

    // All stations, from the cache (refreshed at most once a second from Redis). nullptr if they
    // were never loadable.
    boost::asio::awaitable<std::shared_ptr<const std::vector<station_site>>> stations();
    // The same list without waiting: a refresh starts in the background when it is due.
    std::shared_ptr<const std::vector<station_site>> cached_stations();
    boost::asio::awaitable<std::vector<anxin::admin::v1::Station>> list_stations();
    // The operators registered at each station (in the order of `station_ids`); nullopt when
    // Redis did not answer.
    boost::asio::awaitable<std::optional<std::vector<std::vector<std::string>>>> station_operators(
        const std::vector<std::string>& station_ids);
    // Residents' names, in the order of `ids` (empty where unknown or unreadable).
    boost::asio::awaitable<std::vector<std::string>> resident_names(
        const std::vector<std::string>& ids);

    // Validates everything first (nothing is written if anything is invalid), then writes.
    // Returns an error message, or empty on success with `result` filled in.
    boost::asio::awaitable<std::string> provision(const anxin::admin::v1::ProvisionRequest& req,
                                                  anxin::admin::v1::ProvisionResult& result);

    // The card shown with an offer: record, key-holders, devices (battery, last heartbeat) and the
    // resident's recent calls other than `current_call`.
    boost::asio::awaitable<bool> resident_card(const std::string& resident_id,
                                               const std::string& current_call,
                                               anxin::console::v1::Resident& out);

    // Console password logins: guess limits and the bounded hashing queue (login_guard.hpp).
    login_guard& logins() { return logins_; }

    // One pass over every device, sealing secrets still stored in plaintext (written before
    // encryption at rest, or by an older instance during a rolling upgrade). A compare-and-set
    // in Redis: a secret re-provisioned meanwhile is left alone. Returns how many it sealed, or
    // -1 if Redis was unavailable (the caller may try again).
    boost::asio::awaitable<int> seal_legacy_secrets();

  private:
    // Replaces a plaintext secret with its sealed form if it is still that plaintext.
    boost::asio::awaitable<bool> seal_if_unchanged(const std::string& id,
                                                   const std::string& plaintext);
    void note_unreadable(const std::string& id);

    std::shared_ptr<redis_connection> redis_;
    std::shared_ptr<const secret_box> secrets_;
    std::chrono::steady_clock::time_point unreadable_logged_{};
    std::uint64_t unreadable_unlogged_ = 0;
    boost::asio::thread_pool& pool_;
    int pbkdf2_iterations_;
    login_guard logins_;
    std::shared_ptr<const std::vector<station_site>> stations_;
    std::string stations_version_;
    std::chrono::steady_clock::time_point stations_checked_{};
    bool stations_refreshing_ = false;
    // Residents' records for their cards (every offer carries one), kept 10 s and dropped when the
    // directory version changes (any provisioning); devices and recent calls are always read.
    // Entries are shared_ptr so that a card being built keeps its record across awaits.
    struct cached_resident {
        resident_record record;
        std::string key_holders;  // the card's key holders, serialised Resident (parsed once)
        std::chrono::steady_clock::time_point at;
    };
    std::unordered_map<std::string, std::shared_ptr<const cached_resident>> residents_;
};

// Ids are 1-64 characters of [A-Za-z0-9_.-]: they appear in Redis keys and log lines.
bool valid_id(const std::string& id);

void to_console_resident(const resident_record& r, anxin::console::v1::Resident& out);

}  // namespace anxin::dispatcher
