// Cascade detection (issue #11): correlated degradation across servers, with a suspected source.
//
// Each cycle the detector observes every forecast server's window (cascade/anomaly.hpp), every
// step closed since its last look in order. Per server and watched metric it follows runs of
// steps that deviate from the recent normal (≥ enter_z spreads); a run of 2 steps *fires* a
// change whose onset is the run's first step (the same-time-yesterday test applies at that first
// step, so the daily cycle does not fire) and which keeps the largest deviation its run reaches.
// For its first hour a run is judged against the normal from before it, then against the recent
// normal, which takes in a plateau within about 2 h: a further change on top then fires anew.
//
// - A *cascade* opens when a server of an upstream profile (the usual service dependencies,
//   depends_on) fires a rise of its own pressure (CPU, iowait or memory up, reaching source_z
//   spreads) and at least `min_dependents` servers of its downstream profiles fire dependency
//   symptoms (work piling up: close-wait, load, system CPU, memory up; or starving: user CPU,
//   network, load down) whose onsets lie within 20 min of it. The upstream server is the
//   suspected source: it degrades itself while those that depend on it change with it. A server
//   that reports itself idle or in maintenance explains its own change and is nobody's
//   dependant, and a dependant's change is explained by one source only (an open cascade's, else
//   the strongest new source's). The source's and dependants' deviation series over the last
//   hour must correlate (mean ≥ min_correlation). A newer change of a source already in a
//   cascade, with its own aligned dependants, supersedes that cascade.
// - The cascade stays open while the source's pressure metric stays above its level from before
//   the change (by exit_z spreads), and closes after 3 evaluations without, or after 12 h.
// - Its correlation score is the mean Pearson correlation, over the last hour, of the source's
//   deviation series with each dependant's.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "cascade/anomaly.hpp"
#include "core/metrics.hpp"
#include "core/time.hpp"
#include "core/window.hpp"

namespace nordiq::cascade {

// Which profiles depend on which: a failing database starves the services that query it, a
// failing orchestrator or ingest tier starves the compute behind it.
bool depends_on(Profile downstream, Profile upstream);

struct DetectorParams {
  AnomalyParams anomaly;
  int enter_steps = 2;         // consecutive deviating steps that fire a change
  double source_z = 6;         // a source's own rise must reach this many spreads
  double exit_z = 2.5;         // a cascade holds while its source stays this many spreads up
  int64_t max_cascade_ms = 12 * 3'600'000LL;
  int64_t align_ms = 20 * 60'000LL;        // dependants' onsets within this of the source's
  int64_t source_window_ms = 45 * 60'000LL;  // how long after its onset a source may still open one
  int min_dependents = 2;
  double min_correlation = 0.6;  // the source's and dependants' deviations move together
  int end_after_evaluations = 3;
};

struct CascadeMember {
  std::string server;
  Profile profile = Profile::generic;
  EpochMs since = 0;   // onset of its change (data time)
  double z = 0;        // signed deviation of the metric that changed, at its firing
  Metric metric = Metric::cpu_user_pct;
  ServerId id = 0;  // the store's id of `server` (not served: names are)
};

struct Cascade {
  uint64_t id = 0;
  CascadeMember source;
  std::vector<CascadeMember> dependents;
  EpochMs started_at = 0;   // the source's onset
  EpochMs detected_at = 0;  // data time of the evaluation that opened it
  double correlation = 0;   // mean corr(source, dependant) of the deviation series, last hour
};

enum class FleetState : uint8_t { normal, watch, cascade };
inline constexpr std::array<std::string_view, 3> kFleetStateNames = {"normal", "watch", "cascade"};

struct CascadeStatus {
  FleetState state = FleetState::normal;
  EpochMs evaluated_at = 0;  // data time
  int servers = 0;           // observed within the last 2 steps
  int anomalous = 0;         // with a metric deviating now
  double anomaly_rate = 0;   // anomalous / servers
  double cascade_risk = 0;   // 1 in a cascade; 0.5 with a source and one aligned dependant; else ≤ the anomaly rate
  std::vector<Cascade> cascades;  // open ones, largest first
  std::vector<CascadeMember> anomalous_servers;
};

enum class CascadeEventKind : uint8_t { started, ended };
struct CascadeEvent {
  CascadeEventKind kind = CascadeEventKind::started;
  EpochMs at = 0;  // data time
  Cascade cascade;
};

class CascadeDetector {
 public:
  explicit CascadeDetector(DetectorParams params = {}) : params_(params) {}

  // Sizes the tracks for ids below n: observe for different ids below it may then run on several
  // threads at once (each call writes its own server's track only).
  void reserve(size_t n) {
    if (n > tracks_.size()) tracks_.resize(n);
  }
  // One server's window after its step closed (w is read during the call only).
  void observe(ServerId id, std::string_view name, const WindowView& w);
  // The fleet decision at data time `now`; appends started/ended cascades to `events`.
  void evaluate(EpochMs now, std::vector<CascadeEvent>& events);
  const CascadeStatus& status() const { return status_; }

 private:
  static constexpr int kHistory = 12;  // the correlation's hour
  static constexpr int kFrozenRunSteps = 12;   // a run is judged against its own start's normal for 1 h
  static constexpr int kMaxCatchUpSteps = 12;  // steps judged one by one after a gap (older: skipped)
  static constexpr int kFires = 8;     // recent changes kept per server
  struct Fire {
    EpochMs onset = 0;
    int watched = 0;
    float z = 0;
    float level = 0, spread = 1;  // the metric's normal before the change
    bool pressure = false;        // a rise of CPU, iowait or memory
    bool symptom = false;         // what a dependant of a failing service shows
  };
  enum class FireKind : uint8_t { pressure, symptom };
  struct Track {
    std::string name;
    Profile profile = Profile::generic;
    EpochMs last_step = 0;
    int64_t step_ms = 300'000;
    bool seen = false;
    bool self_explained = false;  // reports idle or maintenance now
    std::array<uint16_t, kNumWatched> run{};
    std::array<EpochMs, kNumWatched> run_start{};
    std::array<float, kNumWatched> run_level{}, run_spread{};
    std::array<float, kNumWatched> present{};
    std::array<int, kNumWatched> run_fire{};  // fire_count index of the current run's change
    std::array<Fire, kFires> fires{};
    int fire_count = 0;
    std::array<float, kHistory> history{};  // largest |z| per step, ring
    int history_count = 0;
    bool deviating() const;
  };
  struct Open {
    Cascade cascade;
    ServerId source = 0;
    Fire fire;        // the source's change
    int missing = 0;  // evaluations without the source's pressure
  };

  void observe_metrics(Track& t, const WindowView& w, const Baseline& b);
  const Fire* latest_fire(const Track& t, EpochMs from, EpochMs to, FireKind kind) const;
  std::vector<ServerId> aligned_dependents(ServerId source, EpochMs onset, EpochMs now) const;
  Cascade describe(ServerId source, const Fire& fire, const std::vector<ServerId>& dependents, EpochMs now) const;
  CascadeMember member(ServerId id, const Fire& f) const;
  CascadeMember current_member(ServerId id) const;
  double correlation(const Track& a, const Track& b) const;
  bool live(const Track& t, EpochMs now) const { return t.last_step + 3 * t.step_ms >= now; }
  const Open* open_from(ServerId source) const;

  DetectorParams params_;
  std::vector<Track> tracks_;  // index = ServerId
  std::vector<Open> open_;
  // Per ServerId, in one evaluation: its change is already explained by a cascade. Flags, not a
  // list of names searched per dependant: at 10,000 servers that search took ~10 % of a cycle.
  std::vector<uint8_t> claimed_;
  uint64_t next_id_ = 1;
  CascadeStatus status_;
};

}  // namespace nordiq::cascade
