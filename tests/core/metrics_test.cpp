#include <gtest/gtest.h>

#include "core/metrics.hpp"

using namespace nordiq;

TEST(ProfileTable, EachRuleMatchesItsPrefixesFollowedByADigit) {
  EXPECT_EQ(profile_from_server_name("ppml0001"), Profile::ml_compute);
  EXPECT_EQ(profile_from_server_name("ml-node-3"), Profile::ml_compute);
  EXPECT_EQ(profile_from_server_name("PPDB01"), Profile::database);
  EXPECT_EQ(profile_from_server_name("postgres7"), Profile::database);
  EXPECT_EQ(profile_from_server_name("api-server-12"), Profile::web_api);
  EXPECT_EQ(profile_from_server_name("ppweb003"), Profile::web_api);
  EXPECT_EQ(profile_from_server_name("Maestro2"), Profile::conductor_mgmt);
  EXPECT_EQ(profile_from_server_name("ppkafka01"), Profile::data_ingest);
  EXPECT_EQ(profile_from_server_name("flink9"), Profile::data_ingest);
  EXPECT_EQ(profile_from_server_name("varrisk4"), Profile::risk_analytics);
}

TEST(ProfileTable, NamesWithoutADigitAfterThePrefixAreGeneric) {
  EXPECT_EQ(profile_from_server_name("ppdb"), Profile::generic);
  EXPECT_EQ(profile_from_server_name("ppdbx1"), Profile::generic);
  EXPECT_EQ(profile_from_server_name("xppdb1"), Profile::generic);
  EXPECT_EQ(profile_from_server_name("host-17"), Profile::generic);
  EXPECT_EQ(profile_from_server_name(""), Profile::generic);
}

TEST(ProfileTable, FirstMatchingRuleWins) {
  // "stream" is data_ingest; nothing earlier matches "stream1".
  EXPECT_EQ(profile_from_server_name("stream1"), Profile::data_ingest);
  EXPECT_EQ(profile_display_name(Profile::conductor_mgmt), "Conductor");
  EXPECT_EQ(profile_from_id("risk_analytics"), Profile::risk_analytics);
  EXPECT_FALSE(profile_from_id("Database").has_value());
}

TEST(StatusSeverity, WorstStatusFollowsTheSpecOrder) {
  const Status order[] = {Status::idle, Status::healthy, Status::maintenance, Status::recovery,
                          Status::morning_spike, Status::heavy_load, Status::offline,
                          Status::critical_issue};
  for (int i = 0; i + 1 < 8; ++i) {
    EXPECT_LT(status_severity(order[i]), status_severity(order[i + 1]));
    EXPECT_EQ(worse_status(order[i], order[i + 1]), order[i + 1]);
    EXPECT_EQ(worse_status(order[i + 1], order[i]), order[i + 1]);
  }
}

TEST(MetricTable, NamesAreInContractOrder) {
  EXPECT_EQ(kMetrics[0].name, "cpu_user_pct");
  EXPECT_EQ(kMetrics[13].name, "uptime_days");
  EXPECT_EQ(metric_from_name("load_average"), Metric::load_average);
  EXPECT_FALSE(metric_from_name("cpu").has_value());
  EXPECT_TRUE(valid_server_name("ppdb-01.prod_x"));
  EXPECT_FALSE(valid_server_name("bad name"));
  EXPECT_FALSE(valid_server_name(std::string(129, 'a')));
}
