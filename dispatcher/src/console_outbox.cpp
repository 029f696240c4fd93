#include "anxin/dispatcher/console_outbox.hpp"

#include <cassert>

namespace anxin::dispatcher {

bool console_outbox::push(std::string json, const std::string& key, bool answer) {
    std::size_t replaced_bytes = 0;
    auto it = key.empty() ? by_key_.end() : by_key_.find(key);
    if (it != by_key_.end()) replaced_bytes = pending_[it->second - first_seq_].json.size();
    const std::size_t events = live_ + (it == by_key_.end() ? 1 : 0);
    const std::size_t bytes = bytes_ - replaced_bytes + json.size();
    if (events > limits_.max_events || bytes > limits_.max_bytes) return false;
    if (it != by_key_.end()) {
        auto& old = pending_[it->second - first_seq_];
        old.dropped = true;
        old.json = {};
        if (old.answer) --answers_;
        --live_;
        ++coalesced_;
    }
    const std::uint64_t seq = first_seq_ + pending_.size();
    if (!key.empty()) by_key_[key] = seq;
    answers_ += answer ? 1 : 0;
    ++live_;
    bytes_ = bytes;
    pending_.push_back(entry{std::move(json), key, answer, false});
    return true;
}

console_outbox::clock::time_point console_outbox::due() const {
    if (answers_ > 0) return clock::time_point::min();
    return last_frame_ + limits_.interval;
}

std::string console_outbox::take_frame(clock::time_point now, std::size_t* events) {
    assert(!empty());
    const bool everything = answers_ > 0;
    std::string frame;
    std::size_t n = 0;
    std::string first;  // the frame if it holds one event: sent as it is
    std::size_t size = 0;
    while (!pending_.empty()) {
        auto& e = pending_.front();
        if (!e.dropped) {
            if (!everything && n > 0 && size + e.json.size() > limits_.max_frame_bytes) break;
            if (n == 0) {
                first = std::move(e.json);
            } else {
                if (n == 1) {
                    frame.reserve(first.size() + e.json.size() + 32);
                    frame = "{\"batch\":{\"events\":[";
                    frame += first;
                }
                frame.push_back(',');
                frame += e.json;
            }
            const std::size_t len = n == 0 ? first.size() : e.json.size();
            size += len + 1;
            bytes_ -= len;
            --live_;
            if (e.answer) --answers_;
            if (!e.key.empty()) by_key_.erase(e.key);
            ++n;
        }
        pending_.pop_front();
        ++first_seq_;
    }
    last_frame_ = now;
    if (events) *events = n;
    if (n == 1) return first;
    frame += "]}}";
    return frame;
}

}  // namespace anxin::dispatcher
