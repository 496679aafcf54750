// GET /health (liveness), GET /status (what the daemon holds; services add their fields) and
// GET /admin/store (admin: database file, sizes, retention).
#pragma once

#include "api/serve_context.hpp"

namespace nordiq::api {

void add_status_routes(ServeContext& ctx);

}  // namespace nordiq::api
