#include "risk/alert_config.hpp"

#include <fmt/format.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

namespace nordiq::risk {

namespace {

using nlohmann::json;

double number(const json& j, const std::string& field, double lo, double hi) {
  if (!j.is_number()) throw std::invalid_argument(fmt::format("{}: expected a number", field));
  const double v = j.get<double>();
  if (!std::isfinite(v) || v < lo || v > hi)
    throw std::invalid_argument(fmt::format("{}: {} is outside [{}, {}]", field, v, lo, hi));
  return v;
}

void read_rules(const json& r, AlertConfig& c) {
  if (!r.is_object()) throw std::invalid_argument("rules: expected an object");
  for (const auto& [key, value] : r.items()) {
    const std::string field = "rules." + key;
    if (key == "likely_within_minutes") c.rules.likely_minutes = static_cast<int>(number(value, field, 5, 1440));
    else if (key == "possible_within_minutes") c.rules.possible_minutes = static_cast<int>(number(value, field, 0, 1440));
    else if (key == "possible_min_probability") c.rules.possible_probability = static_cast<float>(number(value, field, 0.02, 0.5));
    else if (key == "min_history_steps") c.rules.min_history_steps = static_cast<int>(number(value, field, 0, 288));
    else if (key == "routine_over_share") c.rules.routine_over_share = static_cast<float>(number(value, field, 0.001, 1));
    else if (key == "open_after_minutes") c.policy.open_after_ms = static_cast<int64_t>(number(value, field, 0, 1440) * 60'000);
    else if (key == "resolve_after_minutes") c.policy.resolve_after_ms = static_cast<int64_t>(number(value, field, 0, 1440) * 60'000);
    else if (key == "measured_open_after_minutes") c.policy.measured_open_after_ms = static_cast<int64_t>(number(value, field, 0, 1440) * 60'000);
    else throw std::invalid_argument(fmt::format("{}: unknown rule", field));
  }
}

void read_table(const json& t, const std::string& field, std::array<float, kNumSignals>& out) {
  if (!t.is_object()) throw std::invalid_argument(fmt::format("{}: expected an object", field));
  for (const auto& [key, value] : t.items()) {
    const auto s = signal_from_name(key);
    if (!s) throw std::invalid_argument(fmt::format("{}.{}: unknown signal (cpu, memory, iowait, swap, load, disk)", field, key));
    out[static_cast<int>(*s)] = static_cast<float>(number(value, field + "." + key, 0, *s == Signal::load ? 1e6 : 100));
  }
}

}  // namespace

AlertConfig default_alert_config() {
  AlertConfig c;
  for (int p = 0; p < kNumProfiles; ++p)
    for (int s = 0; s < kNumSignals; ++s)
      c.thresholds[p][s] = static_cast<float>(alert_threshold(static_cast<Signal>(s), static_cast<Profile>(p)));
  // Above the simulator's normal operation (its 99.9th percentile outside incidents, seed 23;
  // config/alerts.json says why): swap and load follow memory and CPU on busy profiles.
  auto set = [&](Profile p, Signal s, float v) { c.thresholds[static_cast<int>(p)][static_cast<int>(s)] = v; };
  set(Profile::database, Signal::iowait, 36);
  set(Profile::database, Signal::swap, 65);
  set(Profile::database, Signal::load, 18);
  set(Profile::ml_compute, Signal::swap, 68);
  set(Profile::ml_compute, Signal::load, 24);
  set(Profile::risk_analytics, Signal::swap, 68);
  set(Profile::risk_analytics, Signal::load, 29);
  set(Profile::data_ingest, Signal::iowait, 22);
  set(Profile::data_ingest, Signal::swap, 58);
  set(Profile::data_ingest, Signal::load, 23);
  set(Profile::web_api, Signal::swap, 40);
  c.rules = {120, 30, 0.25f, kMinEncoderSteps, 1.0f};
  c.policy = {10 * 60'000, 30 * 60'000, 15 * 60'000};
  return c;
}

AlertConfig parse_alert_config(const std::string& text) {
  json doc;
  try {
    doc = json::parse(text);
  } catch (const json::parse_error& e) {
    throw std::invalid_argument(fmt::format("not valid JSON: {}", e.what()));
  }
  if (!doc.is_object()) throw std::invalid_argument("expected a JSON object with \"rules\" and \"thresholds\"");
  AlertConfig c = default_alert_config();
  for (const auto& [key, value] : doc.items()) {
    if (key == "rules") {
      read_rules(value, c);
    } else if (key == "thresholds") {
      if (!value.is_object()) throw std::invalid_argument("thresholds: expected an object");
      // The default table first, so that profile tables override it whatever the key order.
      if (value.contains("default")) {
        std::array<float, kNumSignals> table = c.thresholds[0];
        for (int s = 0; s < kNumSignals; ++s) table[s] = -1;
        read_table(value["default"], "thresholds.default", table);
        for (auto& row : c.thresholds)
          for (int s = 0; s < kNumSignals; ++s)
            if (table[s] >= 0) row[s] = table[s];
      }
      for (const auto& [profile, table] : value.items()) {
        if (profile == "default") continue;
        const auto p = profile_from_id(profile);
        if (!p) throw std::invalid_argument(fmt::format("thresholds.{}: unknown profile", profile));
        read_table(table, "thresholds." + profile, c.thresholds[static_cast<int>(*p)]);
      }
    } else if (key != "comment" && key != "_comment") {
      throw std::invalid_argument(fmt::format("{}: unknown key (expected rules, thresholds)", key));
    }
  }
  return c;
}

AlertConfig load_alert_config(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) throw std::invalid_argument(fmt::format("cannot read alerts config {}", file.string()));
  std::stringstream ss;
  ss << in.rdbuf();
  try {
    return parse_alert_config(ss.str());
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(fmt::format("alerts config {}: {}", file.string(), e.what()));
  }
}

}  // namespace nordiq::risk
