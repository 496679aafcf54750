// Cascade detection on hand-made fleets: a failing database whose dependants change with it is
// a cascade with the database as its suspected source; a lone failure, idle dependants and the
// daily cycle are not (cascade/cascade_detector.hpp).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "cascade/cascade_detector.hpp"

namespace nordiq::cascade {
namespace {

constexpr int64_t kStepMs = 300'000;
constexpr EpochMs kStart = 1'790'000'000'000 / kStepMs * kStepMs;

// One server's growing window; views show its last (at most) a day.
struct Series {
  std::string name;
  Profile profile;
  std::vector<std::vector<float>> metric = std::vector<std::vector<float>>(kNumMetrics);
  std::vector<uint8_t> status;

  WindowView view() const {
    WindowView v;
    v.profile = profile;
    const int n = static_cast<int>(status.size());
    v.length = std::min(n, kMaxEncoderSteps);
    const int begin = n - v.length;
    v.first_step = kStart + begin * kStepMs;
    v.step_ms = kStepMs;
    for (int k = 0; k < kNumMetrics; ++k) v.metric[k] = metric[k].data() + begin;
    v.status = status.data() + begin;
    return v;
  }
};

// A calm value of metric k at step i: a level with a small deterministic wiggle.
float calm(int server, int k, int i) {
  const float levels[kNumMetrics] = {20, 5, 3, 72, 10, 50, 2, 40, 5, 4, 10, 5, 2, 30};
  return levels[k] * (1.0f + 0.03f * std::sin(0.7f * i + 1.3f * server + k));
}

struct Fleet {
  std::vector<Series> servers;
  CascadeDetector detector;
  std::vector<CascadeEvent> events;
  int steps = 0;

  int add(std::string name, Profile p) {
    Series s;
    s.name = std::move(name);
    s.profile = p;
    servers.push_back(std::move(s));
    return static_cast<int>(servers.size()) - 1;
  }
  // One step for every server; `shape(server, metric, step, value)` may change the calm value.
  void step(const std::function<float(int, int, int, float)>& shape = nullptr,
            const std::function<Status(int)>& status = nullptr) {
    for (int s = 0; s < static_cast<int>(servers.size()); ++s) {
      for (int k = 0; k < kNumMetrics; ++k) {
        const float v = calm(s, k, steps);
        servers[s].metric[k].push_back(shape ? shape(s, k, steps, v) : v);
      }
      servers[s].status.push_back(static_cast<uint8_t>(status ? status(s) : Status::healthy));
      detector.observe(static_cast<ServerId>(s), servers[s].name, servers[s].view());
    }
    ++steps;
    detector.evaluate(kStart + steps * kStepMs, events);
  }
  void run(int n, const std::function<float(int, int, int, float)>& shape = nullptr,
           const std::function<Status(int)>& status = nullptr) {
    for (int i = 0; i < n; ++i) step(shape, status);
  }
  std::vector<CascadeEvent> started() const {
    std::vector<CascadeEvent> out;
    for (const auto& e : events)
      if (e.kind == CascadeEventKind::started) out.push_back(e);
    return out;
  }
};

constexpr int kIowait = static_cast<int>(Metric::cpu_iowait_pct);
constexpr int kBackCloseWait = static_cast<int>(Metric::back_close_wait);

// From step `from`, over 6 steps, the database's iowait climbs by 30 points and the listed
// dependants pile up 40 connections in close-wait.
std::function<float(int, int, int, float)> database_failure(int db, std::vector<int> dependants, int from,
                                                            int until = 1 << 30) {
  return [=](int s, int k, int i, float v) {
    if (i < from || i >= until) return v;
    const float c = std::min(1.0f, (i - from + 1) / 6.0f);
    if (s == db && k == kIowait) return v + 30 * c;
    if (k == kBackCloseWait && std::find(dependants.begin(), dependants.end(), s) != dependants.end())
      return v + 40 * c;
    return v;
  };
}

// The smallest fleet with a cascade path: one database, two web servers that may depend on it.
class DatabaseAndTwoWebServers : public ::testing::Test {
 protected:
  Fleet f;
  const int db = f.add("ppdb001", Profile::database);
  const int web1 = f.add("ppweb001", Profile::web_api);
  const int web2 = f.add("ppweb002", Profile::web_api);
};

TEST(CascadeDetector, AFailingDatabaseWithDependantsChangingWithItIsACascadeNamingItAsSource) {
  Fleet f;
  const int db = f.add("ppdb001", Profile::database);
  const int other_db = f.add("ppdb002", Profile::database);
  const int web1 = f.add("ppweb001", Profile::web_api);
  const int web2 = f.add("ppweb002", Profile::web_api);
  f.add("ppweb003", Profile::web_api);
  f.run(48);
  EXPECT_TRUE(f.events.empty());
  EXPECT_EQ(f.detector.status().state, FleetState::normal);

  const auto failure = database_failure(db, {web1, web2}, 48);
  f.run(12, failure);
  const auto started = f.started();
  ASSERT_EQ(started.size(), 1u);
  const Cascade& c = started[0].cascade;
  EXPECT_EQ(c.source.server, "ppdb001");
  EXPECT_EQ(c.source.metric, Metric::cpu_iowait_pct);
  std::vector<std::string> deps;
  for (const auto& d : c.dependents) deps.push_back(d.server);
  std::sort(deps.begin(), deps.end());
  EXPECT_EQ(deps, (std::vector<std::string>{"ppweb001", "ppweb002"}));
  // The onset: the step the 15-min median (of the last 3 steps) first moved out, 0–2 steps after
  // the first moving step.
  EXPECT_GE(c.started_at, kStart + 48 * kStepMs);
  EXPECT_LE(c.started_at, kStart + 50 * kStepMs);
  EXPECT_LE(started[0].at - c.started_at, 6 * kStepMs);
  EXPECT_GT(c.correlation, 0.5);
  (void)other_db;

  const CascadeStatus& st = f.detector.status();
  EXPECT_EQ(st.state, FleetState::cascade);
  EXPECT_EQ(st.cascade_risk, 1.0);
  EXPECT_EQ(st.servers, 5);
  EXPECT_EQ(st.anomalous, 3);
  ASSERT_EQ(st.cascades.size(), 1u);

  // The database recovers: the cascade ends.
  f.run(12);
  ASSERT_EQ(f.events.size(), 2u);
  EXPECT_EQ(f.events[1].kind, CascadeEventKind::ended);
  EXPECT_EQ(f.events[1].cascade.id, c.id);
  EXPECT_EQ(f.detector.status().state, FleetState::normal);
}

TEST_F(DatabaseAndTwoWebServers, ADatabaseFailingAloneIsNoCascade) {
  f.run(48);
  f.run(12, database_failure(db, {}, 48));
  EXPECT_TRUE(f.started().empty());
  EXPECT_EQ(f.detector.status().state, FleetState::normal);
  EXPECT_EQ(f.detector.status().anomalous, 1);
}

TEST(CascadeDetector, DependantsWithoutAnUpstreamFailureAreNoCascade) {
  Fleet f;
  const int web1 = f.add("ppweb001", Profile::web_api);
  const int web2 = f.add("ppweb002", Profile::web_api);
  f.add("ppdb001", Profile::database);
  f.run(48);
  f.run(12, database_failure(-1, {web1, web2}, 48));
  EXPECT_TRUE(f.started().empty());
}

TEST_F(DatabaseAndTwoWebServers, ServersReportingIdleExplainTheirOwnChangeAndAreNobodysDependants) {
  f.run(48);
  f.run(12, database_failure(db, {web1, web2}, 48),
        [&](int s) { return s == db ? Status::heavy_load : Status::idle; });
  EXPECT_TRUE(f.started().empty());
  EXPECT_EQ(f.detector.status().state, FleetState::normal);
}

TEST_F(DatabaseAndTwoWebServers, TheSameChangeAtTheSameTimeYesterdayIsTheDailyCycleNotACascade) {
  // Every day from 10:00 to 12:00 (steps 120..143 of the day) the same jump, on all three (a
  // daily batch job). A daily *ramp* can still fire: the window reaches back 23 h 55 min, not a
  // full day, so yesterday's half hour is a few steps further along it (README, known limits).
  const auto daily = [&](int s, int k, int i, float v) {
    const int of_day = i % kMaxEncoderSteps;
    if (of_day < 120 || of_day >= 144) return v;
    if (s == db && k == kIowait) return v + 30;
    if ((s == web1 || s == web2) && k == kBackCloseWait) return v + 40;
    return v;
  };
  f.run(kMaxEncoderSteps, daily);  // day 1: nothing says it is daily yet
  ASSERT_EQ(f.started().size(), 1u);
  f.run(kMaxEncoderSteps, daily);  // day 2: the same hours again
  EXPECT_EQ(f.started().size(), 1u);
}

TEST_F(DatabaseAndTwoWebServers, ADatabaseInTroubleForHoursWhoseDependantsSufferLaterOpensACascadeThen) {
  f.run(48);
  // The database's iowait jumps and stays up, alone, for 3 h; then it climbs further while its
  // dependants pile up connections.
  const auto later = database_failure(db, {web1, web2}, 48 + 36);
  f.run(48, [&](int s, int k, int i, float v) {
    if (s == db && k == kIowait && i >= 48) v += 15;
    return later(s, k, i, v);
  });
  const auto started = f.started();
  ASSERT_EQ(started.size(), 1u);
  EXPECT_EQ(started[0].cascade.source.server, "ppdb001");
  EXPECT_GE(started[0].cascade.started_at, kStart + (48 + 36) * kStepMs);
  EXPECT_EQ(started[0].cascade.dependents.size(), 2u);
}

TEST(CascadeDetector, ADependantIsExplainedByOneSourceOnly) {
  Fleet f;
  const int db1 = f.add("ppdb001", Profile::database);
  const int db2 = f.add("ppdb002", Profile::database);
  const int web1 = f.add("ppweb001", Profile::web_api);
  const int web2 = f.add("ppweb002", Profile::web_api);
  f.run(48);
  // Both databases rise, db1 more: web1 and web2 are db1's cascade, not db2's as well.
  const auto both = [&](int s, int k, int i, float v) {
    v = database_failure(db1, {web1, web2}, 48)(s, k, i, v);
    if (s == db2 && k == kIowait && i >= 48) v += 15 * std::min(1.0f, (i - 47) / 6.0f);
    return v;
  };
  f.run(12, both);
  const auto started = f.started();
  ASSERT_EQ(started.size(), 1u);
  EXPECT_EQ(started[0].cascade.source.server, "ppdb001");
}

}  // namespace
}  // namespace nordiq::cascade
