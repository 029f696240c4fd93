#include "anxin/dispatcher/report.hpp"

#include "admin.pb.h"

#include "anxin/dispatcher/call_policy.hpp"

#include <charconv>
#include <cstdio>
#include <ctime>
#include <map>

namespace anxin::dispatcher {

namespace {

void add_rows(const std::map<std::string, std::uint32_t>& counts,
              google::protobuf::RepeatedPtrField<anxin::admin::v1::CountRow>* rows) {
    for (const auto& [k, n] : counts) {
        auto* r = rows->Add();
        r->set_key(k);
        r->set_calls(n);
    }
}

// Answer-time buckets, in seconds; the last is open-ended.
constexpr std::int64_t bucket_edges[] = {10, 20, 30, 60, 120, 180};

std::string bucket_name(std::int64_t seconds_x1000) {
    std::int64_t lo = 0;
    for (auto edge : bucket_edges) {
        if (seconds_x1000 < edge * 1000) {
            return std::to_string(lo) + "-" + std::to_string(edge) + "s";
        }
        lo = edge;
    }
    return ">180s";
}

}  // namespace

void build_report(const std::vector<call_summary>& calls, std::int64_t from_ms, std::int64_t to_ms,
                  anxin::admin::v1::Report& out) {
    out.set_from_ms(from_ms);
    out.set_to_ms(to_ms);
    std::map<std::string, std::uint32_t> station, type, priority, outcome, histogram;
    std::map<std::string, std::pair<std::uint32_t, std::uint32_t>> ops;
    std::uint32_t total = 0, answered = 0, in60 = 0, in180 = 0;
    // Keep the histogram's rows in time order by naming them with their start, zero-filled.
    for (const auto& c : calls) {
        if (c.received_ms < from_ms || c.received_ms >= to_ms) continue;
        ++total;
        ++station[c.station_id.empty() ? "(command centre)" : c.station_id];
        ++type[c.alarm_type];
        ++priority[std::string(priority_name(c.priority))];
        ++outcome[c.state == "closed" ? c.outcome : "(open: " + c.state + ")"];
        if (c.accepted_ms > 0) {
            ++answered;
            auto t = c.accepted_ms - c.received_ms;
            if (t <= 60000) ++in60;
            if (t <= 180000) ++in180;
            ++histogram[bucket_name(t)];
            if (!c.operator_id.empty()) {
                ++ops[c.operator_id].first;
                if (c.state == "closed") ++ops[c.operator_id].second;
            }
        } else {
            ++histogram["unanswered"];
        }
    }
    out.set_calls(total);
    out.set_answered(answered);
    out.set_answered_within_60s(in60);
    out.set_answered_within_180s(in180);
    out.set_share_within_60s(total ? double(in60) / total : 0);
    out.set_share_within_180s(total ? double(in180) / total : 0);
    add_rows(station, out.mutable_by_station());
    add_rows(type, out.mutable_by_type());
    add_rows(priority, out.mutable_by_priority());
    add_rows(outcome, out.mutable_by_outcome());
    // Histogram in bucket order, not alphabetical.
    std::vector<std::string> order;
    std::int64_t lo = 0;
    for (auto edge : bucket_edges) {
        order.push_back(std::to_string(lo) + "-" + std::to_string(edge) + "s");
        lo = edge;
    }
    order.push_back(">180s");
    order.push_back("unanswered");
    for (const auto& k : order) {
        auto* r = out.add_answer_time_histogram();
        r->set_key(k);
        auto it = histogram.find(k);
        r->set_calls(it == histogram.end() ? 0 : it->second);
    }
    for (const auto& [op, n] : ops) {
        auto* r = out.add_by_operator();
        r->set_operator_id(op);
        r->set_accepted(n.first);
        r->set_closed(n.second);
    }
}

std::string report_csv(const anxin::admin::v1::Report& r) {
    std::string out = "section,key,value\n";
    auto row = [&](const std::string& section, const std::string& key, const std::string& value) {
        auto quote = [](const std::string& s) {
            if (s.find_first_of(",\"\n") == std::string::npos) return s;
            std::string q = "\"";
            for (char ch : s) {
                if (ch == '"') q += '"';
                q += ch;
            }
            return q + "\"";
        };
        out += quote(section) + "," + quote(key) + "," + quote(value) + "\n";
    };
    char share[32];
    row("range", "from_ms", std::to_string(r.from_ms()));
    row("range", "to_ms", std::to_string(r.to_ms()));
    row("total", "calls", std::to_string(r.calls()));
    row("total", "answered", std::to_string(r.answered()));
    row("total", "answered_within_60s", std::to_string(r.answered_within_60s()));
    row("total", "answered_within_180s", std::to_string(r.answered_within_180s()));
    std::snprintf(share, sizeof share, "%.4f", r.share_within_60s());
    row("total", "share_within_60s", share);
    std::snprintf(share, sizeof share, "%.4f", r.share_within_180s());
    row("total", "share_within_180s", share);
    for (const auto& c : r.by_station()) row("station", c.key(), std::to_string(c.calls()));
    for (const auto& c : r.by_type()) row("type", c.key(), std::to_string(c.calls()));
    for (const auto& c : r.by_priority()) row("priority", c.key(), std::to_string(c.calls()));
    for (const auto& c : r.by_outcome()) row("outcome", c.key(), std::to_string(c.calls()));
    for (const auto& c : r.answer_time_histogram())
        row("answer_time", c.key(), std::to_string(c.calls()));
    for (const auto& o : r.by_operator()) {
        row("operator_accepted", o.operator_id(), std::to_string(o.accepted()));
        row("operator_closed", o.operator_id(), std::to_string(o.closed()));
    }
    for (const auto& d : r.devices_offline_now()) row("device_offline", d, "1");
    return out;
}

std::int64_t parse_time_bound(const std::string& s) {
    if (s.size() == 10 && s[4] == '-' && s[7] == '-') {
        int y = 0, m = 0, d = 0;
        if (std::sscanf(s.c_str(), "%4d-%2d-%2d", &y, &m, &d) != 3 || m < 1 || m > 12 || d < 1 ||
            d > 31)
            return -1;
        std::tm tm{};
        tm.tm_year = y - 1900;
        tm.tm_mon = m - 1;
        tm.tm_mday = d;
        // Before 1970 is negative: "bad", not a bound some other negative number stands for.
        const std::time_t t = timegm(&tm);
        return t < 0 ? -1 : static_cast<std::int64_t>(t) * 1000;
    }
    std::int64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{} || p != s.data() + s.size() || v < 0) return -1;
    return v;
}

}  // namespace anxin::dispatcher
