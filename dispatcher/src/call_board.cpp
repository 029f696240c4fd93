#include "anxin/dispatcher/call_board.hpp"

#include "anxin/dispatcher/directory.hpp"

#include <ext/pb_ds/assoc_container.hpp>
#include <ext/pb_ds/tree_policy.hpp>

#include <algorithm>
#include <limits>
#include <tuple>

namespace cv = anxin::console::v1;

namespace anxin::dispatcher {

namespace {

constexpr std::int64_t tombstone_ms = 2 * 60 * 1000;  // far longer than a resync or bus delay
constexpr const char* cc_key = "@cc";                 // by_station key of command-centre calls

// Board order: priority, waiting before accepted, oldest first, id.
struct board_key {
    int priority = 3;
    int accepted = 0;  // 0 waiting (received, offered), 1 accepted
    std::int64_t received_ms = 0;
    std::string id;
    bool operator<(const board_key& o) const {
        return std::tie(priority, accepted, received_ms, id) <
               std::tie(o.priority, o.accepted, o.received_ms, o.id);
    }
};

// An ordered set with ranks (order_of_key, find_by_order in O(log n)).
using ranked_set =
    __gnu_pbds::tree<board_key, __gnu_pbds::null_type, std::less<board_key>,
                     __gnu_pbds::rb_tree_tag, __gnu_pbds::tree_order_statistics_node_update>;

int clamp_priority(int p) {
    return std::clamp(p, 1, 3);
}

bool is_waiting(const std::string& state) {
    return state != "accepted";
}

// The first key of (priority, accepted): no real key sorts before it.
board_key first_of(int priority, int accepted) {
    return {priority, accepted, std::numeric_limits<std::int64_t>::min(), {}};
}

struct entry {
    cv::CallLine line;
    board_key key;
    std::string station_key;    // by_station key
    std::string first_station;  // first tier (the area's station); empty if none
    std::uint64_t seq = 0;      // call_board::seq() when last applied
};

struct group {
    std::uint32_t waiting = 0;
    std::uint32_t emergencies = 0;
    std::set<std::pair<std::int64_t, std::string>> oldest;  // waiting calls by received time
    std::string name;
};

}  // namespace

std::string check_watch(const cv::Watch& w) {
    for (int p : w.priorities()) {
        if (p < 1 || p > 3) return "priorities are 1 (emergency), 2 (urgent) or 3 (technical)";
    }
    if (w.limit() > max_watch_limit)
        return "limit is 1.." + std::to_string(max_watch_limit) +
               " (0: " + std::to_string(default_watch_limit) + ")";
    if (!w.station_id().empty() && !valid_id(w.station_id())) return "not a station id";
    if (w.area().size() > 200) return "area is at most 200 bytes";
    if (!w.state().empty() && w.state() != "waiting" && w.state() != "accepted")
        return "state is \"\", \"waiting\" or \"accepted\"";
    return {};
}

std::uint32_t watch_limit(const cv::Watch& w) {
    return w.limit() == 0 ? default_watch_limit : std::min(w.limit(), max_watch_limit);
}

struct call_board::impl {
    std::unordered_map<std::string, entry> calls;
    // Trees: "" all calls, "a\x1f<area>", "s\x1f<station>", "as\x1f<area>\x1f<station>".
    std::unordered_map<std::string, ranked_set> trees;
    std::uint32_t open = 0, waiting = 0, accepted = 0;
    std::map<int, group> by_priority;
    std::map<std::string, group> by_area;
    std::map<std::string, group> by_station;
    group all_waiting;
    struct tomb {
        std::int64_t at_ms;
        std::uint64_t seq;
    };
    std::unordered_map<std::string, tomb> tombs;
    std::deque<std::pair<std::int64_t, std::string>> tomb_order;  // for expiry, oldest first
    std::unordered_map<std::string, board_station> stations;
    std::array<std::pair<std::int64_t, std::uint32_t>, 60> per_second{};  // (second, count)

    static std::string area_tree(const std::string& a) { return "a\x1f" + a; }
    static std::string station_tree(const std::string& s) { return "s\x1f" + s; }
    static std::string both_tree(const std::string& a, const std::string& s) {
        return "as\x1f" + a + "\x1f" + s;
    }

    // The area of the first-tier station, else of the current one; "" if neither is known.
    std::string area_of(const std::string& first, const std::string& current) const {
        auto it = stations.find(first);
        if (it != stations.end()) return it->second.area;
        it = stations.find(current);
        if (it != stations.end()) return it->second.area;
        return {};
    }

    void tree_insert(const std::string& name, const board_key& k) { trees[name].insert(k); }
    void tree_erase(const std::string& name, const board_key& k) {
        auto it = trees.find(name);
        if (it == trees.end()) return;
        it->second.erase(k);
        if (it->second.empty()) trees.erase(it);
    }

    static void group_add(group& g, const entry& e) {
        ++g.waiting;
        if (e.key.priority == 1) ++g.emergencies;
        g.oldest.emplace(e.key.received_ms, e.key.id);
    }
    template <class Map, class Key>
    static void group_remove(Map& m, const Key& k, const entry& e) {
        auto it = m.find(k);
        if (it == m.end()) return;
        auto& g = it->second;
        --g.waiting;
        if (e.key.priority == 1) --g.emergencies;
        g.oldest.erase({e.key.received_ms, e.key.id});
        if (g.waiting == 0) m.erase(it);
    }

    // Adds e to the indexes and counters (e is already in `calls`).
    void index(const entry& e) {
        const auto& area = e.line.area();
        tree_insert("", e.key);
        tree_insert(area_tree(area), e.key);
        tree_insert(station_tree(e.line.station_id()), e.key);
        tree_insert(both_tree(area, e.line.station_id()), e.key);
        ++open;
        if (e.key.accepted) {
            ++accepted;
            return;
        }
        ++waiting;
        group_add(all_waiting, e);
        group_add(by_priority[e.key.priority], e);
        group_add(by_area[area], e);
        auto& st = by_station[e.station_key];
        group_add(st, e);
        st.name = e.line.station_name();
    }

    void unindex(const entry& e) {
        const auto& area = e.line.area();
        tree_erase("", e.key);
        tree_erase(area_tree(area), e.key);
        tree_erase(station_tree(e.line.station_id()), e.key);
        tree_erase(both_tree(area, e.line.station_id()), e.key);
        --open;
        if (e.key.accepted) {
            --accepted;
            return;
        }
        --waiting;
        all_waiting.waiting--;
        if (e.key.priority == 1) all_waiting.emergencies--;
        all_waiting.oldest.erase({e.key.received_ms, e.key.id});
        group_remove(by_priority, e.key.priority, e);
        group_remove(by_area, area, e);
        group_remove(by_station, e.station_key, e);
    }

    void note_received(std::int64_t received_ms, std::int64_t now_ms) {
        const std::int64_t sec = received_ms / 1000, now_s = now_ms / 1000;
        if (sec <= now_s - 60) return;
        auto& slot = per_second[static_cast<std::size_t>(((sec % 60) + 60) % 60)];
        if (slot.first > sec) return;  // the slot holds a later second already
        if (slot.first != sec) slot = {sec, 0};
        ++slot.second;
    }

    void bury(const std::string& id, std::int64_t now_ms, std::uint64_t seq) {
        auto [it, fresh] = tombs.try_emplace(id, tomb{now_ms, seq});
        if (!fresh) return;
        tomb_order.emplace_back(now_ms, id);
        while (!tomb_order.empty() && tomb_order.front().first < now_ms - tombstone_ms) {
            tombs.erase(tomb_order.front().second);
            tomb_order.pop_front();
        }
    }

    entry make_entry(const cv::Call& c) const {
        entry e;
        auto& l = e.line;
        l.set_id(c.id());
        l.set_priority(c.priority());
        l.set_alarm_type(c.alarm_type());
        l.set_state(c.state());
        l.set_received_ms(c.received_ms());
        l.set_station_id(c.station_id());
        l.set_station_name(c.station_name());
        e.first_station = c.tier_station_ids_size() > 0 ? c.tier_station_ids(0) : std::string();
        l.set_area(area_of(e.first_station, c.station_id()));
        l.set_operator_id(c.operator_id());
        l.set_at_command_centre(c.at_command_centre());
        l.set_cancelled_ms(c.cancelled_ms());
        l.set_tiers(static_cast<std::uint32_t>(c.tier_station_ids_size()));
        e.key = {clamp_priority(c.priority()), is_waiting(c.state()) ? 0 : 1, c.received_ms(),
                 c.id()};
        e.station_key = c.station_id().empty() ? std::string(cc_key) : c.station_id();
        return e;
    }

    void remove(const std::string& id) {
        auto it = calls.find(id);
        if (it == calls.end()) return;
        unindex(it->second);
        calls.erase(it);
    }

    // Ranks [begin, end) in tree t of the calls of the watch's priorities and state.
    static std::vector<std::pair<std::size_t, std::size_t>> ranges(const ranked_set& t,
                                                                   const cv::Watch& w,
                                                                   const std::string& state) {
        std::vector<int> prios(w.priorities().begin(), w.priorities().end());
        if (prios.empty()) prios = {1, 2, 3};
        std::sort(prios.begin(), prios.end());
        prios.erase(std::unique(prios.begin(), prios.end()), prios.end());
        std::vector<std::pair<std::size_t, std::size_t>> out;
        for (int p : prios) {
            const int from = state == "accepted" ? 1 : 0;
            const int to = state == "waiting" ? 1 : 2;  // exclusive
            const auto b = t.order_of_key(first_of(p, from));
            const auto e = t.order_of_key(first_of(p, to));
            if (e > b) out.emplace_back(b, e);
        }
        return out;
    }

    const ranked_set* tree_for(const cv::Watch& w) const {
        std::string name;
        if (!w.area().empty() && !w.station_id().empty())
            name = both_tree(w.area(), w.station_id());
        else if (!w.area().empty())
            name = area_tree(w.area());
        else if (!w.station_id().empty())
            name = station_tree(w.station_id());
        auto it = trees.find(name);
        return it == trees.end() ? nullptr : &it->second;
    }

    // Calls f(entry) for the matching calls from rank `offset`, at most `limit`; returns the
    // number of matches in all.
    template <class F>
    std::size_t walk(const cv::Watch& w, const std::string& state, std::size_t offset,
                     std::size_t limit, F f) const {
        const auto* t = tree_for(w);
        if (!t) return 0;
        std::size_t total = 0;
        for (auto [b, e] : ranges(*t, w, state)) {
            total += e - b;
            if (offset >= e - b) {
                offset -= e - b;
                continue;
            }
            auto it = t->find_by_order(b + offset);
            for (std::size_t r = b + offset; r < e && limit > 0; ++r, ++it, --limit) {
                f(calls.at(it->id));
            }
            offset = 0;
        }
        return total;
    }
};

call_board::call_board() : impl_(std::make_unique<impl>()) {}
call_board::~call_board() = default;

std::size_t call_board::size() const {
    return impl_->calls.size();
}

bool call_board::apply(const cv::Call& c, std::int64_t now_ms) {
    auto& m = *impl_;
    if (c.id().empty()) return false;
    ++seq_;
    if (m.tombs.count(c.id())) return false;
    auto it = m.calls.find(c.id());
    if (c.state() == "closed") {
        m.bury(c.id(), now_ms, seq_);
        if (it != m.calls.end()) {
            m.remove(c.id());
            ++version_;
        }
        return true;
    }
    if (it == m.calls.end()) {
        m.note_received(c.received_ms(), now_ms);
    } else {
        m.unindex(it->second);
    }
    auto e = m.make_entry(c);
    e.seq = seq_;
    auto& slot = m.calls[c.id()];
    slot = std::move(e);
    m.index(slot);
    ++version_;
    return true;
}

void call_board::resync(const std::vector<cv::Call>& open_calls, std::uint64_t since,
                        std::int64_t now_ms) {
    auto& m = *impl_;
    std::set<std::string> in_snapshot;
    for (const auto& c : open_calls) {
        in_snapshot.insert(c.id());
        auto it = m.calls.find(c.id());
        if (it != m.calls.end() && it->second.seq > since) continue;  // newer than the read
        apply(c, now_ms);
    }
    std::vector<std::string> gone;
    for (const auto& [id, e] : m.calls) {
        if (e.seq <= since && !in_snapshot.count(id)) gone.push_back(id);
    }
    for (const auto& id : gone) {
        // Not open in the store and not changed since the read began: closed meanwhile.
        m.remove(id);
        m.bury(id, now_ms, seq_);
    }
    ++version_;
}

void call_board::set_stations(const std::vector<board_station>& stations) {
    auto& m = *impl_;
    m.stations.clear();
    for (const auto& s : stations) m.stations[s.id] = s;
    for (auto& [id, e] : m.calls) {
        auto area = m.area_of(e.first_station, e.line.station_id());
        if (area == e.line.area()) continue;
        m.unindex(e);
        e.line.set_area(area);
        m.index(e);
    }
    ++version_;
}

void call_board::clear() {
    auto keep = std::move(impl_->stations);
    impl_ = std::make_unique<impl>();
    impl_->stations = std::move(keep);
    ++version_;
}

std::uint32_t call_board::received_last_minute(std::int64_t now_ms) const {
    const std::int64_t now_s = now_ms / 1000;
    std::uint32_t n = 0;
    for (const auto& [sec, count] : impl_->per_second) {
        if (sec > now_s - 60 && sec <= now_s) n += count;
    }
    return n;
}

cv::Summary call_board::summary(std::int64_t now_ms, const surge_thresholds& t) const {
    const auto& m = *impl_;
    cv::Summary s;
    s.set_server_time_ms(now_ms);
    s.set_open(m.open);
    s.set_waiting(m.waiting);
    s.set_accepted(m.accepted);
    auto fill = [](cv::Count& c, const std::string& key, const group* g) {
        c.set_key(key);
        if (!g) return;
        c.set_name(g->name);
        c.set_waiting(g->waiting);
        c.set_emergencies(g->emergencies);
        if (!g->oldest.empty()) c.set_oldest_received_ms(g->oldest.begin()->first);
    };
    for (int p = 1; p <= 3; ++p) {
        auto it = m.by_priority.find(p);
        fill(*s.add_by_priority(), std::to_string(p),
             it == m.by_priority.end() ? nullptr : &it->second);
    }
    auto ranked = [](const auto& groups, std::size_t max) {
        std::vector<std::pair<const std::string*, const group*>> v;
        v.reserve(groups.size());
        for (const auto& [k, g] : groups) v.emplace_back(&k, &g);
        auto order = [](const auto& a, const auto& b) {
            if (a.second->emergencies != b.second->emergencies)
                return a.second->emergencies > b.second->emergencies;
            if (a.second->waiting != b.second->waiting)
                return a.second->waiting > b.second->waiting;
            return *a.first < *b.first;
        };
        if (v.size() > max) {
            std::partial_sort(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(max), v.end(),
                              order);
            v.resize(max);
        } else {
            std::sort(v.begin(), v.end(), order);
        }
        return v;
    };
    for (auto [k, g] : ranked(m.by_area, m.by_area.size())) fill(*s.add_by_area(), *k, g);
    for (auto [k, g] : ranked(m.by_station, max_summary_stations)) fill(*s.add_by_station(), *k, g);
    if (!m.all_waiting.oldest.empty()) {
        s.set_oldest_waiting_call_id(m.all_waiting.oldest.begin()->second);
        s.set_oldest_waiting_received_ms(m.all_waiting.oldest.begin()->first);
    }
    if (auto it = m.by_priority.find(1); it != m.by_priority.end() && !it->second.oldest.empty()) {
        s.set_oldest_emergency_call_id(it->second.oldest.begin()->second);
        s.set_oldest_emergency_received_ms(it->second.oldest.begin()->first);
    }
    const auto per_minute = received_last_minute(now_ms);
    s.set_received_last_minute(per_minute);
    std::string why;
    if (per_minute >= t.calls_per_minute)
        why = std::to_string(per_minute) + " calls in the last minute (threshold " +
              std::to_string(t.calls_per_minute) + ")";
    if (m.waiting >= t.waiting) {
        if (!why.empty()) why += "; ";
        why += std::to_string(m.waiting) + " calls waiting (threshold " +
               std::to_string(t.waiting) + ")";
    }
    s.set_surge(!why.empty());
    s.set_surge_reason(why);
    return s;
}

cv::Board call_board::query(const cv::Watch& w, std::int64_t now_ms) const {
    cv::Board b;
    *b.mutable_watch() = w;
    b.mutable_watch()->set_limit(watch_limit(w));
    b.set_server_time_ms(now_ms);
    const auto total = impl_->walk(w, w.state(), w.offset(), watch_limit(w),
                                   [&](const entry& e) { *b.add_calls() = e.line; });
    b.set_total(static_cast<std::uint32_t>(total));
    return b;
}

std::vector<std::string> call_board::match(const cv::Watch& filter, std::size_t max) const {
    std::vector<std::string> ids;
    if (filter.state() == "accepted") return ids;
    impl_->walk(filter, "waiting", 0, max, [&](const entry& e) { ids.push_back(e.line.id()); });
    return ids;
}

}  // namespace anxin::dispatcher
