// Daemon logging setup: level from NORDIQ_LOG_LEVEL (DEBUG/INFO/WARNING/ERROR), text or
// one-JSON-object-per-line output on stderr, UTC timestamps.
#pragma once

#include <spdlog/common.h>

#include <string_view>

namespace nordiq::api {

// Throws std::runtime_error naming the variable and the accepted values on a bad value.
spdlog::level::level_enum log_level_from_env();
// format: "text" or "json" (throws otherwise).
void configure_logging(std::string_view format, spdlog::level::level_enum level);

}  // namespace nordiq::api
