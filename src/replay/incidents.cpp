#include "replay/incidents.hpp"

#include <fmt/format.h>

#include <array>
#include <fstream>
#include <stdexcept>
#include <string_view>

namespace nordiq::replay {

namespace {

constexpr std::string_view kHeader =
    "incident_id,server_name,profile,kind,metric,effect,start,threshold_cross,peak,end,peak_target,parent_id";
constexpr int kColumns = 12;

}  // namespace

std::vector<Incident> load_incidents(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(fmt::format("cannot read incidents file {}", path));
  std::string line;
  if (!std::getline(in, line) || line != kHeader)
    throw std::runtime_error(fmt::format("{}: line 1: expected the header '{}'", path, kHeader));
  std::vector<Incident> out;
  for (int line_no = 2; std::getline(in, line); ++line_no) {
    if (line.empty()) continue;
    std::array<std::string_view, kColumns> f{};
    std::string_view rest = line;
    int n = 0;
    for (; n < kColumns; ++n) {
      const size_t comma = rest.find(',');
      f[n] = rest.substr(0, comma);
      if (comma == std::string_view::npos) {
        ++n;
        break;
      }
      rest.remove_prefix(comma + 1);
    }
    if (n != kColumns)
      throw std::runtime_error(fmt::format("{}: line {}: expected {} fields, got {}", path, line_no, kColumns, n));
    auto time = [&](int column, const char* name, bool required) -> EpochMs {
      if (f[column].empty() && !required) return 0;
      const auto t = parse_iso8601(f[column]);
      if (!t) throw std::runtime_error(fmt::format("{}: line {}: {}: not an ISO-8601 time: '{}'", path, line_no, name, f[column]));
      return *t;
    };
    Incident i;
    i.id = f[0];
    i.server = f[1];
    i.profile = f[2];
    i.kind = f[3];
    i.metric = f[4];
    i.effect = f[5];
    i.start = time(6, "start", true);
    i.threshold_cross = time(7, "threshold_cross", false);
    i.peak = time(8, "peak", false);
    i.end = time(9, "end", false);
    i.parent = f[11];
    if (i.server.empty()) throw std::runtime_error(fmt::format("{}: line {}: server_name is empty", path, line_no));
    if (!i.metric.empty()) i.signal = risk::signal_from_name(i.metric);
    out.push_back(std::move(i));
  }
  return out;
}

}  // namespace nordiq::replay
