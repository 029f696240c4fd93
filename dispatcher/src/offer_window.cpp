#include "anxin/dispatcher/offer_window.hpp"

namespace anxin::dispatcher {

offer_window::rank offer_window::rank_of(const offer& o) {
    const int p = o.priority >= 1 && o.priority <= 3 ? o.priority : 4;
    return {p, o.received_ms, o.call_id};
}

std::string offer_window::queued_withdrawn(const std::string& call_id) {
    // Call ids are checked (valid_call_id) before anything is stored under them: nothing to escape.
    return R"({"withdrawn":{"call_id":")" + call_id + R"(","reason":"queued"}})";
}

std::vector<std::string> offer_window::add(offer o) {
    std::vector<std::string> out;
    paused_ = false;
    const rank r = rank_of(o);
    auto it = calls_.find(o.call_id);
    if (it != calls_.end()) {
        auto& e = it->second;
        if (e.shown) {
            shown_.erase(e.r);
            shown_.insert(r);
            out.push_back(o.json);
        } else {
            held_.erase(e.r);
            held_.insert(r);
        }
        e.r = r;
        e.json = std::move(o.json);
        if (!e.shown) e.follow_ups.clear();  // the new offer carries the call as it is now
    } else {
        held_.insert(r);
        calls_.emplace(o.call_id, entry{r, std::move(o.json), false, {}});
    }
    rebalance(out);
    return out;
}

std::vector<std::string> offer_window::withdraw(const std::string& call_id,
                                                std::string withdrawn_json) {
    std::vector<std::string> out;
    auto it = calls_.find(call_id);
    if (it == calls_.end()) return out;
    if (it->second.shown) out.push_back(std::move(withdrawn_json));
    erase(call_id, out);
    return out;
}

std::vector<std::string> offer_window::remove(const std::string& call_id) {
    std::vector<std::string> out;
    erase(call_id, out);
    return out;
}

std::vector<std::string> offer_window::follow(const std::string& call_id, std::string json) {
    auto it = calls_.find(call_id);
    if (it == calls_.end() || it->second.shown) return {std::move(json)};
    it->second.follow_ups.push_back(std::move(json));
    return {};
}

void offer_window::clear() {
    paused_ = false;
    calls_.clear();
    shown_.clear();
    held_.clear();
}

bool offer_window::shown(const std::string& call_id) const {
    auto it = calls_.find(call_id);
    return it != calls_.end() && it->second.shown;
}

std::vector<std::string> offer_window::call_ids() const {
    std::vector<std::string> ids;
    ids.reserve(calls_.size());
    for (const auto& [id, e] : calls_) ids.push_back(id);
    return ids;
}

void offer_window::erase(const std::string& call_id, std::vector<std::string>& out) {
    auto it = calls_.find(call_id);
    if (it == calls_.end()) return;
    (it->second.shown ? shown_ : held_).erase(it->second.r);
    calls_.erase(it);
    rebalance(out);
}

void offer_window::rebalance(std::vector<std::string>& out) {
    if (paused_) return;
    auto show = [&] {
        auto node = held_.extract(held_.begin());
        auto& e = calls_.at(std::get<2>(node.value()));
        e.shown = true;
        out.push_back(e.json);
        for (auto& f : e.follow_ups) out.push_back(std::move(f));
        e.follow_ups.clear();
        shown_.insert(std::move(node));
    };
    while (shown_.size() < size_ && !held_.empty()) show();
    // A more urgent held call takes the place of the least urgent shown one.
    while (!held_.empty() && !shown_.empty() && *held_.begin() < *shown_.rbegin()) {
        auto node = shown_.extract(std::prev(shown_.end()));
        const std::string& id = std::get<2>(node.value());
        calls_.at(id).shown = false;
        out.push_back(queued_withdrawn(id));
        held_.insert(std::move(node));
        show();
    }
}

}  // namespace anxin::dispatcher
