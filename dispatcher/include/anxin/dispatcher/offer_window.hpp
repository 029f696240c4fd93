#pragma once
// The calls on offer to one console, of which only the most urgent `size` (20) are sent to it as
// `offer` events (protocol/CONSOLE.md "The queue window"): priority first (1 emergency), then the
// oldest received_ms, then the call id. The others are held (with their rendered offer) and sent
// when a shown one leaves. A more urgent call arriving when the window is full takes the place of
// the least urgent shown one, which is withdrawn with reason "queued" (it stays on offer, held).
//
// Every operation returns the rendered events to send, in order. Pure; one owner (the
// console's strand).

#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

namespace anxin::dispatcher {

class offer_window {
  public:
    static constexpr std::size_t default_size = 20;

    struct offer {
        std::string call_id;
        int priority = 0;  // 1..3; anything else ranks after them
        std::int64_t received_ms = 0;
        std::string json;  // the rendered `offer` event
    };

    explicit offer_window(std::size_t size = default_size) : size_(size) {}

    // A call is (again) on offer. A shown call's new offer is sent again (it may carry news);
    // a held one's replaces what is kept.
    std::vector<std::string> add(offer o);
    // The call left the queue (taken, closed, reassigned): the withdrawn event is for the console
    // only if the call was shown; then the next held call is sent.
    std::vector<std::string> withdraw(const std::string& call_id, std::string withdrawn_json);
    // The call left the queue and the console knows it already (this operator accepted it).
    std::vector<std::string> remove(const std::string& call_id);
    // Another event about a call (e.g. `cancelled`): sent now if the call is shown or not in the
    // window; kept if it is held, and sent right after its offer when that is shown.
    std::vector<std::string> follow(const std::string& call_id, std::string json);
    // No next offer is sent until the next add(): the operator holds as many calls as allowed,
    // so the router is about to withdraw all their offers (showing the held ones one after the
    // other as the withdrawals come would only flicker).
    void pause() { paused_ = true; }
    // Forgets everything (the console logged out).
    void clear();

    bool shown(const std::string& call_id) const;
    bool contains(const std::string& call_id) const { return calls_.count(call_id) > 0; }
    std::size_t offered() const { return calls_.size(); }
    std::size_t shown_count() const { return shown_.size(); }
    std::vector<std::string> call_ids() const;

    // The withdrawn event sent for a shown call moved out of the window.
    static std::string queued_withdrawn(const std::string& call_id);

  private:
    using rank = std::tuple<int, std::int64_t, std::string>;
    struct entry {
        rank r;
        std::string json;
        bool shown = false;
        std::vector<std::string> follow_ups;
    };
    static rank rank_of(const offer& o);
    void erase(const std::string& call_id, std::vector<std::string>& out);
    void rebalance(std::vector<std::string>& out);

    std::size_t size_;
    bool paused_ = false;
    std::unordered_map<std::string, entry> calls_;
    std::set<rank> shown_;
    std::set<rank> held_;
};

}  // namespace anxin::dispatcher
