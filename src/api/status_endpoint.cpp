#include "api/status_endpoint.hpp"

#include <chrono>
#include <filesystem>

namespace nordiq::api {

void add_status_routes(ServeContext& ctx) {
  const EpochMs started = now_ms();
  const auto started_steady = std::chrono::steady_clock::now();
  ctx.api.get("/health", Role::open, [](const httplib::Request&, httplib::Response& res) {
    ApiServer::send_json(res, 200, {{"status", "ok"}});
  });
  ctx.api.get("/status", Role::open, [&ctx, started, started_steady](const httplib::Request&,
                                                                      httplib::Response& res) {
    const double uptime =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started_steady).count();
    nlohmann::json body = {
        {"status", "ok"},
        {"version", NORDIQ_VERSION},
        {"started_at", format_iso8601(started)},
        {"uptime_seconds", uptime},
        {"servers_tracked", ctx.store.windows().server_count()},
        {"servers_ready", ctx.store.windows().ready_count()},
        {"records_stored", ctx.store.records_stored()},
        {"step_seconds", ctx.store.options().window.step_seconds},
        {"model", nullptr},          // filled by the forecast service
        {"last_forecast", nullptr},  // filled by the forecast service
    };
    for (const auto& add : ctx.status_fields) add(body);
    ApiServer::send_json(res, 200, body);
  });
  // Where the data lives and how big it is: for operators (admin key).
  ctx.api.get("/admin/store", Role::admin, [&ctx](const httplib::Request&, httplib::Response& res) {
    const auto& opt = ctx.store.options();
    const auto db_path = ctx.store.database().path();
    auto file_size = [](const std::filesystem::path& p) -> int64_t {
      std::error_code ec;
      const auto n = std::filesystem::file_size(p, ec);
      return ec ? 0 : static_cast<int64_t>(n);
    };
    nlohmann::json body = {
        {"database", db_path.string()},
        {"database_bytes", file_size(db_path)},
        {"wal_bytes", file_size(db_path.string() + "-wal")},
        {"records_stored", ctx.store.records_stored()},
        {"servers_tracked", ctx.store.windows().server_count()},
        {"retention_days", opt.retention_days},
        {"max_servers", opt.max_servers},
        {"step_seconds", opt.window.step_seconds},
        {"window_capacity", opt.window.capacity},
        {"durability", opt.durability == Durability::full ? "full" : "normal"},
    };
    ApiServer::send_json(res, 200, body);
  });
}

}  // namespace nordiq::api
