// Helpers for the simulator tests: run a history into a string, parse CSV rows back.
#pragma once

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "core/time.hpp"
#include "sim/engine.hpp"
#include "sim/history.hpp"

namespace nordiq::sim::test {

inline SimConfig config(uint64_t seed = 42, const char* start = "2025-01-06T00:00:00Z") {
  SimConfig c;
  c.seed = seed;
  c.start = *parse_iso8601(start);
  return c;
}

inline std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline std::filesystem::path temp_path(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() /
             ("nordiq_sim_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  return dir / name;
}

struct HistoryText {
  std::string csv;
  std::string incidents;
  HistorySummary summary;
};

// Generates `days` of history with `threads` workers; returns the CSV and incidents text.
inline HistoryText history_text(const SimConfig& cfg, const FleetCounts& counts, int days, int threads = 1) {
  FleetEngine engine(cfg, counts);
  const auto csv = temp_path("h_" + std::to_string(threads) + ".csv");
  const auto inc = temp_path("i_" + std::to_string(threads) + ".csv");
  HistoryText out;
  {
    auto sink = make_csv_sink(csv.string());
    out.summary = generate_history(engine, int64_t{days} * 86400 / cfg.step_s, threads, *sink, inc.string());
  }
  out.csv = read_file(csv);
  out.incidents = read_file(inc);
  std::filesystem::remove(csv);
  std::filesystem::remove(inc);
  return out;
}

inline std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t pos = 0;
  for (;;) {
    const size_t next = s.find(sep, pos);
    out.push_back(s.substr(pos, next == std::string::npos ? std::string::npos : next - pos));
    if (next == std::string::npos) break;
    pos = next + 1;
  }
  return out;
}

inline std::vector<std::string> lines(const std::string& text) {
  auto v = split(text, '\n');
  if (!v.empty() && v.back().empty()) v.pop_back();
  return v;
}

// "12.34" → 1234 (exact, no floating point); −1 on a malformed value.
inline int64_t hundredths(const std::string& s) {
  const size_t dot = s.find('.');
  if (dot == std::string::npos || s.size() - dot != 3) return -1;
  int64_t v = 0;
  for (char c : s) {
    if (c == '.') continue;
    if (c < '0' || c > '9') return -1;
    v = v * 10 + (c - '0');
  }
  return v;
}

}  // namespace nordiq::sim::test
