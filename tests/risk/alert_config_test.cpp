#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "risk/alert_config.hpp"

using namespace nordiq;
using namespace nordiq::risk;

namespace {
std::string error_of(const std::string& text) {
  try {
    parse_alert_config(text);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST(AlertConfig, TheShippedFileIsTheBuiltInDefaults) {
  const AlertConfig shipped = load_alert_config(std::string(NORDIQ_SOURCE_DIR) + "/config/alerts.json");
  const AlertConfig built_in = default_alert_config();
  EXPECT_EQ(shipped.thresholds, built_in.thresholds);
  EXPECT_EQ(shipped.rules.likely_minutes, built_in.rules.likely_minutes);
  EXPECT_EQ(shipped.rules.possible_minutes, built_in.rules.possible_minutes);
  EXPECT_EQ(shipped.rules.min_history_steps, built_in.rules.min_history_steps);
  EXPECT_EQ(shipped.policy.open_after_ms, built_in.policy.open_after_ms);
  EXPECT_EQ(shipped.policy.resolve_after_ms, built_in.policy.resolve_after_ms);
  EXPECT_EQ(shipped.policy.measured_open_after_ms, built_in.policy.measured_open_after_ms);
}

TEST(AlertConfig, DefaultsSitAboveNormalOperationWhereTheSpecValueDoesNot) {
  const AlertConfig c = default_alert_config();
  auto at = [&](Profile p, Signal s) { return c.thresholds[static_cast<int>(p)][static_cast<int>(s)]; };
  EXPECT_EQ(at(Profile::web_api, Signal::cpu), 90.f);      // SPEC §3.3
  EXPECT_EQ(at(Profile::database, Signal::memory), 98.f);  // SPEC §3.3
  EXPECT_GT(at(Profile::database, Signal::iowait), 30.f);  // database iowait runs at 15–35
  EXPECT_GT(at(Profile::ml_compute, Signal::load), 12.f);
  EXPECT_GT(at(Profile::risk_analytics, Signal::load), 12.f);
}

TEST(AlertConfig, AProfileTableOverridesTheDefaultTableWhateverTheKeyOrder) {
  const AlertConfig c = parse_alert_config(
      R"({"thresholds": {"database": {"cpu": 97}, "default": {"cpu": 85, "load": 30}}, "rules": {"open_after_minutes": 5}})");
  EXPECT_EQ(c.thresholds[static_cast<int>(Profile::database)][static_cast<int>(Signal::cpu)], 97.f);
  EXPECT_EQ(c.thresholds[static_cast<int>(Profile::web_api)][static_cast<int>(Signal::cpu)], 85.f);
  EXPECT_EQ(c.thresholds[static_cast<int>(Profile::generic)][static_cast<int>(Signal::load)], 30.f);
  EXPECT_EQ(c.policy.open_after_ms, 5 * 60'000);
}

TEST(AlertConfig, ErrorsNameTheField) {
  EXPECT_NE(error_of(R"({"thresholds": {"database": {"cpuu": 90}}})").find("thresholds.database.cpuu"), std::string::npos);
  EXPECT_NE(error_of(R"({"thresholds": {"dbase": {"cpu": 90}}})").find("thresholds.dbase"), std::string::npos);
  EXPECT_NE(error_of(R"({"thresholds": {"default": {"memory": 150}}})").find("thresholds.default.memory"), std::string::npos);
  EXPECT_NE(error_of(R"({"rules": {"resolve_after_minutes": "soon"}})").find("rules.resolve_after_minutes"), std::string::npos);
  EXPECT_NE(error_of(R"({"rules": {"flap": 1}})").find("rules.flap"), std::string::npos);
  EXPECT_NE(error_of("{nope").find("JSON"), std::string::npos);
}
