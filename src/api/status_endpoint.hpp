// GET /health (liveness) and GET /status (what the daemon holds; services add their fields).
#pragma once

#include "api/serve_context.hpp"

namespace nordiq::api {

void add_status_routes(ServeContext& ctx);

}  // namespace nordiq::api
