// Daemon logging setup: text or one-JSON-object-per-line output on stderr, UTC timestamps, at
// the level of NORDIQ_LOG_LEVEL (core/log_level.hpp).
#pragma once

#include <spdlog/common.h>

#include <string_view>

namespace nordiq::api {

// format: "text" or "json" (throws otherwise).
void configure_logging(std::string_view format, spdlog::level::level_enum level);

}  // namespace nordiq::api
