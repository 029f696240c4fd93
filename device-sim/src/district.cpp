#include "anxin/sim/district.hpp"

#include <cmath>
#include <cstdio>
#include <numbers>
#include <random>

namespace anxin::sim {

namespace {

struct area {
    const char* name;
    double lat, lon;
    double weight;  // share of residents: the urban streets are denser than the outer towns
};

// Approximate centres of Tongzhou's 11 streets and 11 towns/townships.
const area areas[] = {
    {"中仓街道", 39.9050, 116.6600, 3},   {"新华街道", 39.9120, 116.6520, 3},
    {"北苑街道", 39.9180, 116.6400, 3},   {"玉桥街道", 39.8930, 116.6680, 3},
    {"潞源街道", 39.9150, 116.7200, 2},   {"通运街道", 39.8900, 116.6900, 2},
    {"文景街道", 39.9050, 116.7050, 2},   {"九棵树街道", 39.8850, 116.6500, 2},
    {"临河里街道", 39.8800, 116.6700, 2}, {"杨庄街道", 39.9250, 116.6600, 2},
    {"潞邑街道", 39.9350, 116.6900, 2},   {"梨园镇", 39.8800, 116.6300, 2},
    {"宋庄镇", 39.9600, 116.7200, 1.5},   {"张家湾镇", 39.8500, 116.7000, 1.5},
    {"漷县镇", 39.7600, 116.8000, 1},     {"马驹桥镇", 39.7600, 116.5600, 1.5},
    {"西集镇", 39.8100, 116.8800, 1},     {"台湖镇", 39.8400, 116.6000, 1.5},
    {"永乐店镇", 39.7000, 116.8000, 1},   {"于家务回族乡", 39.7300, 116.7200, 1},
    {"永顺镇", 39.9300, 116.6500, 2},     {"潞城镇", 39.9000, 116.7600, 1.5},
};
constexpr int area_count = sizeof(areas) / sizeof(areas[0]);

const char* surnames[] = {"王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴",
                          "徐", "孙", "马", "朱", "胡", "郭", "何", "高", "林", "罗",
                          "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯"};
const char* given[] = {"秀英", "桂英", "秀兰", "玉兰", "桂兰", "淑珍", "凤英", "玉珍",
                       "建国", "建华", "国华", "志明", "德明", "福贵", "玉梅", "淑英",
                       "振华", "国庆", "文华", "宝山", "长顺", "金凤", "淑兰", "永利",
                       "春生", "占山", "德顺", "玉华", "秀珍", "树林"};
const char* communities[] = {"运河",   "北关", "新华", "滨河", "玉桥",   "通惠", "梨园",
                             "果园",   "天时", "格兰", "东方", "西马庄", "翠屏", "云景",
                             "九棵树", "紫运", "万盛", "土桥", "临河",   "潞河"};
const char* operator_names[] = {"刘芳", "张伟", "王静", "李娜", "陈磊",
                                "杨洋", "赵敏", "孙丽", "周强", "吴婷"};

// A point at a random bearing and distance (km, uniform over the disc) from a centre.
void jitter(std::mt19937_64& rng, double lat, double lon, double radius_km, double& out_lat,
            double& out_lon) {
    std::uniform_real_distribution<double> u(0, 1);
    double r = radius_km * std::sqrt(u(rng));
    double theta = 2 * std::numbers::pi * u(rng);
    out_lat = lat + (r * std::cos(theta)) / 111.32;
    out_lon = lon + (r * std::sin(theta)) / (111.32 * std::cos(lat * std::numbers::pi / 180));
}

std::string hex(std::mt19937_64& rng, int bytes) {
    static constexpr char d[] = "0123456789abcdef";
    std::string s;
    for (int i = 0; i < bytes; ++i) {
        auto b = static_cast<unsigned>(rng() & 0xFF);
        s.push_back(d[b >> 4]);
        s.push_back(d[b & 15]);
    }
    return s;
}

}  // namespace

const std::vector<std::string>& district_areas() {
    static const std::vector<std::string> names = [] {
        std::vector<std::string> v;
        for (const auto& a : areas) v.emplace_back(a.name);
        return v;
    }();
    return names;
}

district generate_district(const district_options& opts) {
    std::mt19937_64 rng(opts.seed);
    district d;
    // Stations: spread evenly over the areas (139 = 22 x 6 + 7), each within ~1.5 km of the
    // area's centre.
    std::vector<int> per_area(area_count, opts.stations / area_count);
    for (int i = 0; i < opts.stations % area_count; ++i) per_area[i]++;
    int sid = 0;
    for (int a = 0; a < area_count; ++a) {
        for (int k = 0; k < per_area[a]; ++k) {
            ++sid;
            anxin::admin::v1::Station s;
            char id[16];
            std::snprintf(id, sizeof id, "st-%03d", sid);
            s.set_id(id);
            s.set_name(std::string(areas[a].name) + "第" + std::to_string(k + 1) + "养老服务驿站");
            s.set_area(areas[a].name);
            double lat, lon;
            jitter(rng, areas[a].lat, areas[a].lon, 1.5, lat, lon);
            s.set_lat(lat);
            s.set_lon(lon);
            s.set_address(std::string("北京市通州区") + areas[a].name +
                          communities[rng() % std::size(communities)] + "社区服务中心" +
                          std::to_string(1 + rng() % 30) + "号");
            s.set_phone("010-" + std::to_string(60000000 + rng() % 9999999));
            d.stations.push_back(std::move(s));
        }
    }
    // Residents: an area by weight, a home within ~2.5 km of its centre, one call button each.
    std::vector<double> weights;
    for (const auto& a : areas) weights.push_back(a.weight);
    std::discrete_distribution<int> pick_area(weights.begin(), weights.end());
    for (int i = 1; i <= opts.residents; ++i) {
        int a = pick_area(rng);
        anxin::admin::v1::Resident r;
        char id[24];
        std::snprintf(id, sizeof id, "res-%06d", i);
        r.set_id(id);
        r.set_name(std::string(surnames[rng() % std::size(surnames)]) +
                   given[rng() % std::size(given)]);
        double lat, lon;
        jitter(rng, areas[a].lat, areas[a].lon, 2.5, lat, lon);
        r.set_lat(lat);
        r.set_lon(lon);
        r.set_address(std::string("北京市通州区") + areas[a].name +
                      communities[rng() % std::size(communities)] + "小区" +
                      std::to_string(1 + rng() % 30) + "号楼" + std::to_string(1 + rng() % 6) +
                      "单元" + std::to_string(101 + (rng() % 18) * 100 + rng() % 4));
        r.set_phone("1" + std::to_string(30 + rng() % 60) +
                    std::to_string(10000000 + rng() % 89999999));
        auto* dev = r.add_devices();
        char did[24];
        std::snprintf(did, sizeof did, "dev-%06d", i);
        dev->set_id(did);
        dev->set_secret(hex(rng, 16));
        dev->set_model(rng() % 3 == 0 ? "pendant-v2" : "wall-unit-v1");
        d.residents.push_back(std::move(r));
    }
    // Operators: a few per station, demo password.
    for (const auto& s : d.stations) {
        for (int k = 1; k <= opts.operators_per_station; ++k) {
            anxin::admin::v1::Operator o;
            o.set_id("op-" + s.id().substr(3) + "-" + std::to_string(k));
            o.set_name(operator_names[rng() % std::size(operator_names)]);
            o.set_station_id(s.id());
            o.set_password(opts.operator_password);
            d.operators.push_back(std::move(o));
        }
    }
    // The district command centre's supervisors (no station).
    for (int k = 1; k <= opts.supervisors; ++k) {
        anxin::admin::v1::Operator o;
        o.set_id("sup-" + std::to_string(k));
        o.set_name(operator_names[rng() % std::size(operator_names)]);
        o.set_role("supervisor");
        o.set_password(opts.operator_password);
        d.operators.push_back(std::move(o));
    }
    return d;
}

}  // namespace anxin::sim
