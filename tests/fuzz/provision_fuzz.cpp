// POST /api/provision's body, as http_session.cpp reads it: JsonStringToMessage with the default
// JsonParseOptions into an admin ProvisionRequest (up to the 64 MiB body limit); a body that does
// not parse is answered 400 with the parser's message. Then what directory::provision() does
// before it touches Redis, as far as it is reachable from outside directory.cpp:
//  - the lat/lon check (valid_point, geo.cpp) and the distances the router later computes;
//  - the key holders' round trip: provision_commands() prints a resident's key_holders with
//    MessageToJsonString (preserve_proto_field_names) and stores the "[...]" part; resident_card()
//    parses "{\"key_holders\":" + that + "}" back. What a console is shown must be what was sent;
//  - the 400 / 422 error bodies (ErrorBody, always_print_primitive_fields) echo the parser's
//    message and the offending id: they must print as valid JSON.
// validate() itself, valid_id() and age_on() live in directory.cpp beside the Redis code and are
// not compiled here (docs/SECURITY.md "Fuzzing" says what to extract).
//
// Input: a request body.

#include "anxin/dispatcher/geo.hpp"
#include "anxin/dispatcher/proto_json.hpp"

#include "admin.pb.h"
#include "console.pb.h"
#include "fuzz_check.hpp"
#include "fuzz_error_body.hpp"

#include <google/protobuf/util/json_util.h>

#include <cmath>
#include <string>

namespace adm = anxin::admin::v1;
namespace cv = anxin::console::v1;
namespace pu = google::protobuf::util;
namespace ad = anxin::dispatcher;

namespace {

// directory.cpp's provision_commands() and resident_card(), the key holders' way through Redis.
void check_key_holders(const adm::Resident& r) {
    if (r.key_holders_size() == 0) return;
    adm::Resident only;
    *only.mutable_key_holders() = r.key_holders();
    pu::JsonPrintOptions po;
    po.preserve_proto_field_names = true;
    std::string json;
    FUZZ_CHECK(pu::MessageToJsonString(only, &json, po).ok());
    auto b = json.find('['), e = json.rfind(']');
    FUZZ_CHECK(b != std::string::npos && e != std::string::npos);
    const std::string holders = json.substr(b, e - b + 1);

    adm::Resident holder;
    FUZZ_CHECK(pu::JsonStringToMessage("{\"key_holders\":" + holders + "}", &holder).ok());
    cv::Resident card;
    for (const auto& k : holder.key_holders()) *card.add_key_holders() = k;
    FUZZ_CHECK(card.key_holders_size() == r.key_holders_size());
    for (int i = 0; i < r.key_holders_size(); ++i) {
        FUZZ_CHECK(card.key_holders(i).SerializeAsString() == r.key_holders(i).SerializeAsString());
    }
    // And the card, as the console receives it with an offer.
    const std::string shown = ad::to_proto3_json(card);
    FUZZ_CHECK(anxin::fuzz::valid_utf8(shown));
}

void check_point(double lat, double lon) {
    const bool ok = ad::valid_point({lat, lon});
    if (!ok) return;
    FUZZ_CHECK(std::isfinite(lat) && std::isfinite(lon));
    // What the router does with a valid home: distances to a station, finite and within half the
    // Earth's circumference.
    const double km = ad::great_circle_km({lat, lon}, {39.9, 116.4});
    FUZZ_CHECK(std::isfinite(km) && km >= 0 && km <= 20'040);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    anxin::fuzz::quiet_protobuf();
    const std::string body(reinterpret_cast<const char*>(data), size);
    adm::ProvisionRequest pr;
    auto st = pu::JsonStringToMessage(body, &pr);
    if (!st.ok()) {
        anxin::fuzz::check_error_body("bad_json", std::string(st.message()));
        return 0;
    }
    for (const auto& s : pr.stations()) {
        check_point(s.lat(), s.lon());
        anxin::fuzz::check_error_body(
            "invalid", "station id '" + s.id() + "' is invalid (1-64 of A-Za-z0-9_.-)");
    }
    for (const auto& r : pr.residents()) {
        check_point(r.lat(), r.lon());
        check_key_holders(r);
        anxin::fuzz::check_error_body("invalid", "resident id '" + r.id() + "' is invalid");
        for (const auto& d : r.devices())
            anxin::fuzz::check_error_body("invalid", "device id '" + d.id() + "' is invalid");
    }
    for (const auto& o : pr.operators()) {
        anxin::fuzz::check_error_body(
            "invalid", "operator " + o.id() + ": role must be operator or supervisor");
    }
    // The admin's own echo (device-sim provision prints the request it sends) and our writer.
    std::string theirs;
    pu::JsonPrintOptions po;
    po.preserve_proto_field_names = true;
    FUZZ_CHECK(pu::MessageToJsonString(pr, &theirs, po).ok());
    FUZZ_CHECK(ad::to_proto3_json(pr) == theirs);
    return 0;
}
