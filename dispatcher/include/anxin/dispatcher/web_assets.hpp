#pragma once
// The web console's static files (web/ in the repository), compiled into the binary at build time
// (dispatcher/embed_web.cmake), served by http_session on the HTTP port. Immutable; any thread.

#include <cstddef>
#include <string_view>

namespace anxin::dispatcher {

struct web_asset {
    std::string_view path;  // "/index.html", "/app.js", ...
    std::string_view content_type;
    std::string_view body;
};

extern const web_asset web_assets[];
extern const std::size_t web_asset_count;

// The file for a request path ("/" is "/index.html"); nullptr if there is none.
const web_asset* find_web_asset(std::string_view path);

}  // namespace anxin::dispatcher
