// Scoring alerts against incident ground truth (issue #11), on hand-made cases.
#include <gtest/gtest.h>

#include <algorithm>

#include "replay/alert_score.hpp"

using namespace nordiq;
using namespace nordiq::replay;
using risk::Signal;

namespace {
constexpr EpochMs kMin = 60'000;
constexpr EpochMs kDay = 1440 * kMin;

Incident degrading(const std::string& server, Signal s, EpochMs start, EpochMs cross, EpochMs end) {
  Incident i;
  i.server = server;
  i.kind = "degrading";
  i.metric = std::string(risk::signal_name(s));
  i.signal = s;
  i.start = start;
  i.threshold_cross = cross;
  i.end = end;
  return i;
}

ScoredSpan two_servers() { return {{"a", "b"}, 0, 2 * kDay, 5 * kMin}; }
}  // namespace

TEST(AlertScore, AnAlertOpenBeforeTheCrossingWarnsWithItsLeadTime) {
  const std::vector<Incident> inc = {degrading("a", Signal::disk, 600 * kMin, 700 * kMin, 800 * kMin),
                                     degrading("b", Signal::cpu, 600 * kMin, 700 * kMin, 800 * kMin)};
  const std::vector<AlertInterval> alerts = {
      {0, Signal::disk, 650 * kMin, 760 * kMin},  // 50 min before: warned, ≥ 30 min
      {1, Signal::memory, 650 * kMin, 760 * kMin}};  // another signal: b's CPU incident is missed
  const AlertScore s = score_alerts(alerts, inc, two_servers());
  EXPECT_EQ(s.incidents, 2);
  EXPECT_EQ(s.warned, 1);
  EXPECT_EQ(s.warned_30m, 1);
  ASSERT_EQ(s.lead_minutes.size(), 1u);
  EXPECT_DOUBLE_EQ(s.lead_minutes[0], 50);
  EXPECT_EQ(s.false_alarms, 1);  // b's memory alert has no memory episode
  EXPECT_DOUBLE_EQ(s.precision(), 0.5);
}

TEST(AlertScore, TheFalseAlarmReportListsOnlyTheOpeningsNoEpisodeCovers) {
  const std::vector<Incident> inc = {degrading("a", Signal::disk, 600 * kMin, 700 * kMin, 800 * kMin)};
  std::vector<AlertInterval> alerts = {{0, Signal::disk, 650 * kMin, 760 * kMin},   // covered
                                       {1, Signal::cpu, 100 * kMin, 130 * kMin}};  // no episode on b
  alerts[1].likely = false;
  const std::vector<NamedScore> scores = {{"nordiq", score_alerts(alerts, inc, two_servers())}};
  const std::vector<std::string> servers = two_servers().servers;
  EXPECT_EQ(false_alarms_csv(scores, servers),
            "system,server_name,signal,opened,resolved,open_minutes,basis\n"
            "nordiq,b,cpu,1970-01-01T01:40:00Z,1970-01-01T02:10:00Z,30,possible\n");
}

TEST(AlertScore, LeadTimeCountsFromTwoHoursBeforeTheEpisodeAtMost) {
  const std::vector<Incident> inc = {degrading("a", Signal::disk, 600 * kMin, 700 * kMin, 800 * kMin)};
  const std::vector<AlertInterval> alerts = {{0, Signal::disk, 100 * kMin, 760 * kMin}};
  const AlertScore s = score_alerts(alerts, inc, two_servers());
  ASSERT_EQ(s.lead_minutes.size(), 1u);
  EXPECT_DOUBLE_EQ(s.lead_minutes[0], 220);  // cross − (start − 2 h)
  EXPECT_EQ(s.false_alarms, 1);              // opened 8 h before the episode: not covered
}

TEST(AlertScore, SwapAndLoadAlertsAreExplainedByMemoryAndCpuEpisodes) {
  const std::vector<Incident> inc = {degrading("a", Signal::memory, 600 * kMin, 700 * kMin, 800 * kMin),
                                     degrading("b", Signal::cpu, 600 * kMin, 700 * kMin, 800 * kMin)};
  const std::vector<AlertInterval> alerts = {{0, Signal::swap, 550 * kMin, 600 * kMin},
                                             {1, Signal::load, 650 * kMin, 700 * kMin},
                                             {1, Signal::swap, 650 * kMin, 700 * kMin}};
  const AlertScore s = score_alerts(alerts, inc, two_servers());
  EXPECT_EQ(s.openings, 3);
  EXPECT_EQ(s.false_alarms, 1);  // b's swap: b had a CPU episode only
  EXPECT_EQ(s.false_by_signal()[static_cast<int>(Signal::swap)], 1);
}

TEST(AlertScore, ReopensOpenTimeAndFalseAlarmsPerServerDay) {
  const std::vector<AlertInterval> alerts = {{0, Signal::cpu, 0, 6 * 60 * kMin},
                                             {0, Signal::cpu, 6 * 60 * kMin + 20 * kMin, 12 * 60 * kMin},
                                             {0, Signal::cpu, 20 * 60 * kMin, 24 * 60 * kMin}};
  const AlertScore s = score_alerts(alerts, {}, two_servers());
  EXPECT_EQ(s.openings, 3);
  EXPECT_EQ(s.reopened_30m, 1);  // 20 min after the first resolved; the third came 8 h later
  EXPECT_DOUBLE_EQ(s.server_days, 4.0);
  EXPECT_DOUBLE_EQ(s.false_alarms_per_server_day(), 0.75);
  // Server a had an alert open for 6 h + 5 h 40 min + 4 h of its 48 h; b none.
  EXPECT_NEAR(s.open_share, (15 * 60 + 40) / (2.0 * 48 * 60), 1e-9);
  EXPECT_NEAR(s.open_share_outside, s.open_share, 1e-9);  // no episode anywhere
}

TEST(AlertScore, IncidentsAreSplitByHowTheyBuildUpWithEachOutcome) {
  Incident fresh = degrading("b", Signal::cpu, 600 * kMin, 620 * kMin, 700 * kMin);
  fresh.kind = "critical";
  fresh.id = "C-1";
  Incident escalated = fresh;
  escalated.parent = "D-0";
  escalated.id = "C-2";
  escalated.start = 1200 * kMin;
  escalated.threshold_cross = 1210 * kMin;
  escalated.end = 1300 * kMin;
  Incident slow = degrading("a", Signal::disk, 600 * kMin, 720 * kMin, 800 * kMin);
  slow.id = "D-1";
  const std::vector<Incident> inc = {slow, fresh, escalated};
  const std::vector<AlertInterval> alerts = {{0, Signal::disk, 660 * kMin, 760 * kMin},    // 60 min ahead
                                             {1, Signal::cpu, 610 * kMin, 640 * kMin}};   // 10 min ahead
  const std::vector<NamedScore> scores = {{"nordiq", score_alerts(alerts, inc, two_servers())}};
  const AlertScore& s = scores[0].score;
  const auto& k = s.by_kind;
  EXPECT_EQ(k[static_cast<int>(IncidentKind::degrading)].incidents, 1);
  EXPECT_EQ(k[static_cast<int>(IncidentKind::degrading)].warned_30m, 1);
  EXPECT_EQ(k[static_cast<int>(IncidentKind::critical)].warned, 1);
  EXPECT_EQ(k[static_cast<int>(IncidentKind::critical)].warned_30m, 0);
  EXPECT_EQ(k[static_cast<int>(IncidentKind::escalation)].incidents, 1);
  EXPECT_EQ(k[static_cast<int>(IncidentKind::escalation)].warned, 0);
  const std::string csv = incident_outcomes_csv(scores);
  EXPECT_NE(csv.find("nordiq,D-1,a,degrading,disk,"), std::string::npos);
  EXPECT_NE(csv.find(",60\n"), std::string::npos);
  EXPECT_NE(csv.find("nordiq,C-2,b,escalation,cpu,"), std::string::npos);
  EXPECT_EQ(csv.back(), '\n');
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 4);  // header + 3 incidents
}
