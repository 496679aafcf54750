#include "core/log_level.hpp"

#include <fmt/format.h>

#include <cctype>
#include <cstdlib>
#include <stdexcept>
#include <string>

namespace nordiq {

spdlog::level::level_enum log_level_from_env() {
  const char* raw = std::getenv("NORDIQ_LOG_LEVEL");
  if (!raw || !*raw) return spdlog::level::info;
  std::string v(raw);
  for (char& c : v) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (v == "DEBUG") return spdlog::level::debug;
  if (v == "INFO") return spdlog::level::info;
  if (v == "WARNING" || v == "WARN") return spdlog::level::warn;
  if (v == "ERROR") return spdlog::level::err;
  throw std::invalid_argument(
      fmt::format("NORDIQ_LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR (got '{}')", raw));
}

}  // namespace nordiq
