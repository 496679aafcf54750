// The web dashboard (SPEC §7, issue #13) at `/`: web/index.html, web/app.js and web/style.css,
// compiled into the binary. Plain HTML/CSS/JS over the daemon's own read API; the page itself
// needs no key (it holds no data), every data request does.
#pragma once

#include "api/api_server.hpp"

namespace nordiq::api {

void add_dashboard_routes(ApiServer& api);

}  // namespace nordiq::api
