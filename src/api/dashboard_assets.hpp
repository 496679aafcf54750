// The dashboard's files (web/), compiled into the binary by cmake/embed_files.cmake.
#pragma once

#include <string_view>
#include <vector>

namespace nordiq::api {

struct DashboardAsset {
  std::string_view name;     // file name in web/, e.g. "app.js"
  std::string_view content;
};

const std::vector<DashboardAsset>& dashboard_assets();

}  // namespace nordiq::api
