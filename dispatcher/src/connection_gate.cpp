#include "anxin/dispatcher/connection_gate.hpp"

#include <algorithm>

namespace anxin::dispatcher {

connection_gate::decision connection_gate::admit(std::uint64_t id, const std::string& address,
                                                 clock::time_point now) {
    decision d;
    auto mine = by_address_.find(address);
    const std::size_t my_pending = mine == by_address_.end() ? 0 : mine->second.size();
    std::uint64_t oldest = 0;
    if (limits_.max_pending_per_address > 0 && my_pending >= limits_.max_pending_per_address) {
        oldest = *mine->second.begin();
    } else if (limits_.max_pending > 0 && by_id_.size() >= limits_.max_pending) {
        oldest = by_id_.begin()->first;
        // Fairness before age: an address holding far more than this one gives way first.
        const auto [heaviest_count, heaviest] = *by_load_.rbegin();  // a copy: release() edits it
        if (heaviest != address && heaviest_count > 2 * my_pending + 1 &&
            now - by_id_.at(oldest).since < limits_.shed_after) {
            oldest = *by_address_.at(heaviest).begin();
            d.shed = oldest;
            release(oldest);
            oldest = 0;
        }
    }
    if (oldest != 0) {
        if (now - by_id_.at(oldest).since < limits_.shed_after) {
            d.admitted = false;  // all busy with real work: the newcomer waits its turn
            return d;
        }
        d.shed = oldest;
        release(oldest);
    }
    by_id_.emplace(id, entry{address, now});
    auto& set = by_address_[address];
    set.insert(id);
    count(address, set.size() - 1, set.size());
    return d;
}

void connection_gate::count(const std::string& address, std::size_t before, std::size_t after) {
    if (before > 0) by_load_.erase({before, address});
    if (after > 0) by_load_.insert({after, address});
}

std::optional<connection_gate::clock::time_point> connection_gate::release(std::uint64_t id) {
    auto it = by_id_.find(id);
    if (it == by_id_.end()) return std::nullopt;
    auto a = by_address_.find(it->second.address);
    if (a != by_address_.end()) {
        const auto before = a->second.size();
        a->second.erase(id);
        count(it->second.address, before, a->second.size());
        if (a->second.empty()) by_address_.erase(a);
    }
    const auto since = it->second.since;
    by_id_.erase(it);
    return since;
}

std::size_t connection_gate::pending_from(const std::string& address) const {
    auto a = by_address_.find(address);
    return a == by_address_.end() ? 0 : a->second.size();
}

std::uint64_t pending_connections::admit(const std::string& address, std::function<void()> close) {
    const auto id = next_id_++;
    const auto d = gate_.admit(id, address, connection_gate::clock::now());
    if (!d.admitted) {
        ++refused_;
        return 0;
    }
    closers_.emplace(id, std::move(close));
    if (d.shed != 0) {
        ++shed_;
        auto c = closers_.find(d.shed);
        if (c != closers_.end()) {
            auto closer = std::move(c->second);
            closers_.erase(c);
            closer();  // may call release(shed): already gone, ignored
        }
    }
    return id;
}

void pending_connections::release(std::uint64_t id, bool completed) {
    const auto since = gate_.release(id);
    closers_.erase(id);
    if (!since || !completed) return;
    const double ms =
        std::chrono::duration<double, std::milli>(connection_gate::clock::now() - *since).count();
    handshake_ms_ = handshake_ms_ == 0 ? ms : 0.95 * handshake_ms_ + 0.05 * ms;
    const auto shed_after = std::chrono::milliseconds(std::clamp(
        static_cast<std::int64_t>(4 * handshake_ms_), std::int64_t{250}, std::int64_t{5000}));
    gate_.set_shed_after(shed_after);
}

}  // namespace anxin::dispatcher
