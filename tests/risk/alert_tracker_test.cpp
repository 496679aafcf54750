#include <gtest/gtest.h>

#include "risk/alert_tracker.hpp"

using namespace nordiq;
using namespace nordiq::risk;

namespace {
Alert make(ServerId server, Signal s, Level level, int eta = 30) {
  Alert a;
  a.server = server;
  a.signal = s;
  a.level = level;
  a.threshold = 95;
  a.eta_p90 = eta;
  a.horizon_minutes = 480;
  return a;
}
std::string name_of(ServerId id) { return "srv" + std::to_string(id); }

struct Cycle {
  AlertTracker& tracker;
  std::vector<AlertEvent> run(std::vector<ServerId> servers, std::vector<Alert> alerts, EpochMs now) {
    std::vector<AlertEvent> events;
    tracker.update(servers, alerts, now, name_of, events);
    return events;
  }
};
}  // namespace

TEST(AlertTracker, LifecycleOpensEscalatesDeEscalatesAndResolves) {
  AlertTracker tracker;
  Cycle c{tracker};
  auto ev = c.run({1}, {make(1, Signal::memory, Level::warning)}, 1000);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].kind, AlertEventKind::opened);
  EXPECT_EQ(ev[0].state.server_name, "srv1");
  EXPECT_EQ(ev[0].state.opened_at, 1000);

  EXPECT_TRUE(c.run({1}, {make(1, Signal::memory, Level::warning, 20)}, 2000).empty());
  EXPECT_EQ(tracker.find(1, Signal::memory)->alert.eta_p90, 20);  // state refreshed, no event

  ev = c.run({1}, {make(1, Signal::memory, Level::critical)}, 3000);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].kind, AlertEventKind::escalated);
  EXPECT_EQ(ev[0].previous_level, Level::warning);
  EXPECT_EQ(ev[0].state.alert.level, Level::critical);
  EXPECT_EQ(ev[0].state.opened_at, 1000);

  ev = c.run({1}, {make(1, Signal::memory, Level::degraded)}, 4000);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].kind, AlertEventKind::de_escalated);

  ev = c.run({1}, {}, 5000);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].kind, AlertEventKind::resolved);
  EXPECT_EQ(ev[0].at, 5000);
  EXPECT_EQ(ev[0].state.server_name, "srv1");
  EXPECT_EQ(tracker.open_count(), 0u);
}

TEST(AlertTracker, ServersNotInTheCycleKeepTheirAlerts) {
  AlertTracker tracker;
  Cycle c{tracker};
  c.run({1, 2}, {make(1, Signal::memory, Level::warning), make(2, Signal::disk, Level::critical)}, 1000);
  EXPECT_TRUE(c.run({2}, {make(2, Signal::disk, Level::critical)}, 2000).empty());
  EXPECT_NE(tracker.find(1, Signal::memory), nullptr);
  const auto ev = c.run({1}, {}, 3000);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].state.alert.server, 1u);
  EXPECT_NE(tracker.find(2, Signal::disk), nullptr);
}

TEST(AlertTracker, OneAlertPerServerAndSignal) {
  AlertTracker tracker;
  Cycle c{tracker};
  const auto ev = c.run({1}, {make(1, Signal::memory, Level::warning), make(1, Signal::swap, Level::degraded)}, 1000);
  EXPECT_EQ(ev.size(), 2u);
  EXPECT_EQ(tracker.open_count(), 2u);
  const auto open = tracker.open_alerts();
  ASSERT_EQ(open.size(), 2u);
  EXPECT_EQ(open[0].alert.signal, Signal::memory);  // the more urgent first
  // The swap alert going away resolves only it.
  const auto ev2 = c.run({1}, {make(1, Signal::memory, Level::warning)}, 2000);
  ASSERT_EQ(ev2.size(), 1u);
  EXPECT_EQ(ev2[0].state.alert.signal, Signal::swap);
}

TEST(AlertTracker, RestoredAlertsStayOpenWithoutASecondOpenedEvent) {
  AlertTracker tracker;
  TrackedAlert saved{make(3, Signal::memory, Level::critical), "srv3", 500, 900};
  tracker.restore(saved);
  Cycle c{tracker};
  EXPECT_TRUE(c.run({3}, {make(3, Signal::memory, Level::critical)}, 1000).empty());
  EXPECT_EQ(tracker.find(3, Signal::memory)->opened_at, 500);
  EXPECT_EQ(tracker.find(3, Signal::memory)->server_name, "srv3");
  const auto ev = c.run({3}, {}, 2000);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].kind, AlertEventKind::resolved);
}

// Issue #11: no flapping. Cycles every 5 min of data time.
namespace {
constexpr EpochMs kMin = 60'000;
const AlertPolicy kPolicy{10 * kMin, 30 * kMin, 15 * kMin};
}  // namespace

TEST(AlertTracker, AForecastAlertOpensOnlyOnceItsConditionHeldForTheOpenDelay) {
  AlertTracker tracker(kPolicy);
  Cycle c{tracker};
  EXPECT_TRUE(c.run({1}, {make(1, Signal::disk, Level::warning)}, 0).empty());
  EXPECT_TRUE(c.run({1}, {make(1, Signal::disk, Level::warning)}, 5 * kMin).empty());
  EXPECT_EQ(tracker.pending_count(), 1u);
  auto ev = c.run({1}, {make(1, Signal::disk, Level::warning)}, 10 * kMin);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].kind, AlertEventKind::opened);
  EXPECT_EQ(ev[0].at, 10 * kMin);
  EXPECT_EQ(ev[0].state.opened_at, 10 * kMin);
}

TEST(AlertTracker, ACycleWithoutTheConditionStartsTheOpenDelayAgain) {
  AlertTracker tracker(kPolicy);
  Cycle c{tracker};
  c.run({1}, {make(1, Signal::disk, Level::warning)}, 0);
  c.run({1}, {make(1, Signal::disk, Level::warning)}, 5 * kMin);
  EXPECT_TRUE(c.run({1}, {}, 10 * kMin).empty());  // not reproduced: the evidence is gone
  EXPECT_EQ(tracker.pending_count(), 0u);
  EXPECT_TRUE(c.run({1}, {make(1, Signal::disk, Level::warning)}, 15 * kMin).empty());
  EXPECT_TRUE(c.run({1}, {make(1, Signal::disk, Level::warning)}, 20 * kMin).empty());
  EXPECT_EQ(c.run({1}, {make(1, Signal::disk, Level::warning)}, 25 * kMin).size(), 1u);
}

TEST(AlertTracker, AnOpenAlertResolvesOnlyAfterStayingClearForTheResolveDelay) {
  AlertTracker tracker(kPolicy);
  Cycle c{tracker};
  for (EpochMs t = 0; t <= 10 * kMin; t += 5 * kMin) c.run({1}, {make(1, Signal::disk, Level::warning)}, t);
  ASSERT_EQ(tracker.open_count(), 1u);
  // Clear for 25 min, back for one cycle: still the same alert, no event at all.
  for (EpochMs t = 15 * kMin; t <= 35 * kMin; t += 5 * kMin) EXPECT_TRUE(c.run({1}, {}, t).empty()) << t;
  EXPECT_TRUE(c.run({1}, {make(1, Signal::disk, Level::warning)}, 40 * kMin).empty());
  // Then clear for 30 min: resolved, stamped with the cycle's data time.
  for (EpochMs t = 45 * kMin; t < 70 * kMin; t += 5 * kMin) EXPECT_TRUE(c.run({1}, {}, t).empty()) << t;
  const auto ev = c.run({1}, {}, 70 * kMin);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].kind, AlertEventKind::resolved);
  EXPECT_EQ(ev[0].at, 70 * kMin);
  EXPECT_EQ(ev[0].state.opened_at, 10 * kMin);
}

TEST(AlertTracker, AValueOverItsThresholdOpensOnceItStayedThereForTheMeasuredDelay) {
  AlertTracker tracker(kPolicy);
  Cycle c{tracker};
  Alert now = make(1, Signal::memory, Level::critical, 0);
  now.eta_p50 = now.eta_p10 = 0;
  for (EpochMs t = 0; t < 15 * kMin; t += 5 * kMin) EXPECT_TRUE(c.run({1}, {now}, t).empty()) << t;
  EXPECT_EQ(c.run({1}, {now}, 15 * kMin).size(), 1u);
}
