#include "anxin/dispatcher/web_assets.hpp"

namespace anxin::dispatcher {

const web_asset* find_web_asset(std::string_view path) {
    if (path == "/") path = "/index.html";
    for (std::size_t i = 0; i < web_asset_count; ++i) {
        if (web_assets[i].path == path) return &web_assets[i];
    }
    return nullptr;
}

}  // namespace anxin::dispatcher
