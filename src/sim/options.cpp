#include "sim/options.hpp"

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fmt/core.h>
#include <fstream>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace nordiq::sim {

int64_t parse_int_flag(std::string_view flag, std::string_view text, int64_t lo, int64_t hi) {
  int64_t v = 0;
  const auto r = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || r.ec != std::errc() || r.ptr != text.data() + text.size() || v < lo || v > hi)
    throw UsageError(fmt::format("{} must be an integer in {}–{}, got '{}'", flag, lo, hi, text));
  return v;
}

uint64_t parse_u64_flag(std::string_view flag, std::string_view text) {
  uint64_t v = 0;
  const auto r = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || r.ec != std::errc() || r.ptr != text.data() + text.size())
    throw UsageError(fmt::format("{} must be an unsigned 64-bit integer, got '{}'", flag, text));
  return v;
}

double parse_double_flag(std::string_view flag, std::string_view text, double lo, double hi) {
  const std::string s(text);
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(s.c_str(), &end);
  if (s.empty() || end != s.c_str() + s.size() || errno != 0 || !std::isfinite(v) || v < lo || v > hi)
    throw UsageError(fmt::format("{} must be a number in {}–{}, got '{}'", flag, lo, hi, text));
  return v;
}

int parse_step_flag(std::string_view text) {
  const auto v = parse_int_flag("--step", text, 5, 600);
  if (86400 % v != 0) throw UsageError(fmt::format("--step must divide 86400, got {}", v));
  return static_cast<int>(v);
}

EpochMs parse_start_flag(std::string_view text, int step_s) {
  auto t = parse_iso8601(text);
  if (!t && text.size() == 10) t = parse_iso8601(std::string(text) + "T00:00:00");  // a bare date
  if (!t) throw UsageError(fmt::format("--start must be an ISO-8601 time like 2025-01-15T00:00:00Z, got '{}'", text));
  return floor_to_step(*t, step_s);
}

std::string read_key_file(std::string_view flag, const std::string& path) {
  std::ifstream in(path);
  if (!in) throw UsageError(fmt::format("{}: cannot read {}: {}", flag, path, std::strerror(errno)));
  std::string line;
  std::getline(in, line);
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.pop_back();
  size_t b = 0;
  while (b < line.size() && (line[b] == ' ' || line[b] == '\t')) ++b;
  line.erase(0, b);
  if (line.empty()) throw UsageError(fmt::format("{}: {} is empty", flag, path));
  return line;
}

void setup_logging(std::string_view format) {
  if (format != "text" && format != "json")
    throw UsageError(fmt::format("--log-format must be text or json, got '{}'", format));
  auto logger = std::make_shared<spdlog::logger>("nordiq", std::make_shared<spdlog::sinks::stderr_sink_mt>());
  if (format == "json")
    logger->set_pattern(R"({"time":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l","component":"simulate","message":"%v"})",
                        spdlog::pattern_time_type::utc);
  else
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %l simulate: %v", spdlog::pattern_time_type::utc);
  logger->set_level(spdlog::get_level());  // NORDIQ_LOG_LEVEL, read by main()
  spdlog::set_default_logger(logger);
}

}  // namespace nordiq::sim
