#include "anxin/dispatcher/connection_gate.hpp"

namespace anxin::dispatcher {

std::uint64_t connection_gate::admit(std::uint64_t id, const std::string& address) {
    std::uint64_t shed = 0;
    auto& mine = by_address_[address];
    if (limits_.max_pending_per_address > 0 && mine.size() >= limits_.max_pending_per_address) {
        shed = *mine.begin();
    } else if (limits_.max_pending > 0 && by_id_.size() >= limits_.max_pending) {
        shed = by_id_.begin()->first;
    }
    if (shed != 0) release(shed);
    by_id_.emplace(id, address);
    by_address_[address].insert(id);  // `mine` may be gone: release() erases empty sets
    return shed;
}

void connection_gate::release(std::uint64_t id) {
    auto it = by_id_.find(id);
    if (it == by_id_.end()) return;
    auto a = by_address_.find(it->second);
    if (a != by_address_.end()) {
        a->second.erase(id);
        if (a->second.empty()) by_address_.erase(a);
    }
    by_id_.erase(it);
}

std::size_t connection_gate::pending_from(const std::string& address) const {
    auto a = by_address_.find(address);
    return a == by_address_.end() ? 0 : a->second.size();
}

std::uint64_t pending_connections::admit(const std::string& address, std::function<void()> close) {
    const auto id = next_id_++;
    const auto shed = gate_.admit(id, address);
    closers_.emplace(id, std::move(close));
    if (shed != 0) {
        ++shed_;
        auto c = closers_.find(shed);
        if (c != closers_.end()) {
            auto closer = std::move(c->second);
            closers_.erase(c);
            closer();  // may call release(shed): already gone, ignored
        }
    }
    return id;
}

void pending_connections::release(std::uint64_t id) {
    gate_.release(id);
    closers_.erase(id);
}

}  // namespace anxin::dispatcher
