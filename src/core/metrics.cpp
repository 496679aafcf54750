#include "core/metrics.hpp"

#include <cctype>

namespace nordiq {

std::optional<Metric> metric_from_name(std::string_view name) {
  for (int i = 0; i < kNumMetrics; ++i)
    if (kMetrics[i].name == name) return static_cast<Metric>(i);
  return std::nullopt;
}

std::optional<Status> status_from_name(std::string_view name) {
  for (int i = 0; i < kNumStatuses; ++i)
    if (kStatusNames[i] == name) return static_cast<Status>(i);
  return std::nullopt;
}

int status_severity(Status s) {
  switch (s) {
    case Status::critical_issue: return 7;
    case Status::offline: return 6;
    case Status::heavy_load: return 5;
    case Status::morning_spike: return 4;
    case Status::recovery: return 3;
    case Status::maintenance: return 2;
    case Status::healthy: return 1;
    case Status::idle: return 0;
  }
  return 0;
}

std::optional<Profile> profile_from_id(std::string_view id) {
  for (int i = 0; i < kNumProfiles; ++i)
    if (kProfileIds[i] == id) return static_cast<Profile>(i);
  return std::nullopt;
}

namespace {

struct ProfileRule {
  Profile profile;
  std::array<std::string_view, 6> prefixes;  // lower case; empty entries unused
};

// SPEC §1.4, in order (first match wins).
constexpr std::array<ProfileRule, 6> kProfileRules = {{
    {Profile::ml_compute, {"ppml", "ppgpu", "cptrain", "ml-node-"}},
    {Profile::database, {"ppdb", "psdb", "oracle", "mongo", "postgres", "mysql"}},
    {Profile::web_api, {"ppweb", "ppapi", "nginx", "tomcat", "api-server-"}},
    {Profile::conductor_mgmt, {"ppcon", "conductor", "egomgmt", "maestro"}},
    {Profile::data_ingest, {"ppetl", "ppkafka", "stream", "spark", "flink"}},
    {Profile::risk_analytics, {"pprisk", "varrisk", "credit", "quant"}},
}};

bool starts_with_prefix_then_digit(std::string_view name, std::string_view prefix) {
  if (prefix.empty() || name.size() <= prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(name[i])) != prefix[i]) return false;
  return std::isdigit(static_cast<unsigned char>(name[prefix.size()])) != 0;
}

}  // namespace

Profile profile_from_server_name(std::string_view server_name) {
  for (const auto& rule : kProfileRules)
    for (std::string_view prefix : rule.prefixes)
      if (starts_with_prefix_then_digit(server_name, prefix)) return rule.profile;
  return Profile::generic;
}

bool valid_server_name(std::string_view name, size_t max_len) {
  if (name.empty() || name.size() > max_len) return false;
  for (char ch : name) {
    const auto c = static_cast<unsigned char>(ch);
    if (!(std::isalnum(c) || c == '.' || c == '_' || c == '-')) return false;
  }
  return true;
}

}  // namespace nordiq
