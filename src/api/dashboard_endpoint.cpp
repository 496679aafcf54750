#include "api/dashboard_endpoint.hpp"

#include <string>

#include "api/dashboard_assets.hpp"

namespace nordiq::api {

namespace {

std::string_view content_type(std::string_view name) {
  if (name.ends_with(".html")) return "text/html; charset=utf-8";
  if (name.ends_with(".js")) return "text/javascript; charset=utf-8";
  if (name.ends_with(".css")) return "text/css; charset=utf-8";
  return "application/octet-stream";
}

void serve_asset(const DashboardAsset& asset, httplib::Response& res) {
  // Scripts only from this origin (no inline script, no CDN); bar widths use style attributes.
  res.set_header("Content-Security-Policy",
                 "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'");
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_header("Cache-Control", "no-cache");
  res.set_content(std::string(asset.content), std::string(content_type(asset.name)));
}

}  // namespace

void add_dashboard_routes(ApiServer& api) {
  for (const DashboardAsset& asset : dashboard_assets()) {
    const std::string path = asset.name == "index.html" ? "/" : "/dashboard/" + std::string(asset.name);
    api.get(path, Role::open, [&asset](const httplib::Request&, httplib::Response& res) { serve_asset(asset, res); });
  }
}

}  // namespace nordiq::api
