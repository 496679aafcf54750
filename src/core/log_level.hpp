// NORDIQ_LOG_LEVEL for every command (DEBUG, INFO, WARNING or WARN, ERROR; any case; unset or
// empty = INFO). main() reads it once before any command runs and sets spdlog's global level, so
// a bad value is refused whatever the command; a command that builds its own logger gives it
// spdlog::get_level().
#pragma once

#include <spdlog/common.h>

namespace nordiq {

// Throws std::invalid_argument naming the variable and the accepted values on a bad value.
spdlog::level::level_enum log_level_from_env();

}  // namespace nordiq
