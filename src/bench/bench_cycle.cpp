#include "bench/bench_cycle.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <mutex>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include "api/predictions_json.hpp"
#include "serve/model_loading.hpp"
#include "bench/bench_machine.hpp"
#include "ingest/feed_parser.hpp"
#include "lifecycle/model_registry.hpp"
#include "sim/engine.hpp"
#include "sim/fleet.hpp"
#include "sim/history.hpp"
#include "sim/store_sink.hpp"
#include "store/fleet_store.hpp"
#include "tft/engine.hpp"
#include "tft/gemm.hpp"
#include "train/history.hpp"
#include "train/trainer.hpp"

namespace nordiq::bench {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int kStepSeconds = 300;
constexpr int64_t kStepMs = kStepSeconds * 1000LL;

std::unique_ptr<serve::ForecastService> open_service(FleetStore& store, const fs::path& models_dir, const std::string& model,
                                                   serve::ModelStatus& status) {
  serve::ModelChoice choice;
  choice.models_dir = models_dir;
  choice.model = model;
  choice.step_seconds = kStepSeconds;
  auto forecaster = serve::make_forecaster(choice, status);
  auto service = std::make_unique<serve::ForecastService>(store, std::move(forecaster), status);
  service->set_renderer(api::render_server_fragments);  // a cycle renders what GETs serve: measured with it
  return service;
}

std::unique_ptr<FleetStore> open_store(const fs::path& dir) {
  StoreOptions o;
  o.data_dir = dir;
  o.retention_days = 3650;
  o.integrity_check = false;
  return FleetStore::open(o);
}

// Counts the log lines a daemon would write (INFO and above).
class CountingSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  int64_t lines = 0;

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    if (msg.level >= spdlog::level::info) ++lines;
  }
  void flush_() override {}
};

// One record per server at step `t` (values inside every range; the simulator made the history).
std::string step_body(const std::vector<std::string>& names, EpochMs t, int cycle) {
  std::string body = R"({"records":[)";
  for (size_t i = 0; i < names.size(); ++i) {
    const double wobble = (cycle * 7 + static_cast<int>(i) * 13) % 10;
    body += fmt::format(
        R"({}{{"timestamp":"{}","server_name":"{}","status":"healthy","cpu_user_pct":{},"cpu_sys_pct":5,"cpu_iowait_pct":2,)"
        R"("cpu_idle_pct":{},"java_cpu_pct":10,"mem_used_pct":{},"swap_used_pct":1,"disk_usage_pct":50,"net_in_mb_s":3,)"
        R"("net_out_mb_s":2,"back_close_wait":2,"front_close_wait":1,"load_average":2,"uptime_days":30}})",
        i ? "," : "", format_iso8601(t), names[i], 20 + wobble, 73 - wobble, 60 + wobble);
  }
  return body + "]}";
}

// The store's server names, and the start of the step after every server's open one.
std::vector<std::string> server_names(FleetStore& store, EpochMs& next) {
  std::vector<std::string> names;
  next = 0;
  store.windows().read([&](const WindowStore& w) {
    for (ServerId id = 0; id < w.server_count(); ++id) {
      names.emplace_back(w.name(id));
      if (auto open = w.open_step(id)) next = std::max(next, open->step_start + kStepMs);
    }
  });
  return names;
}

// Closes `steps` more steps of every server: one record each per step, ingested as a collector's posts.
void append_steps(FleetStore& store, int steps) {
  EpochMs next = 0;
  const std::vector<std::string> names = server_names(store, next);
  FeedParser parser;
  FeedBatch batch;
  for (int c = 0; c < steps; ++c, next += kStepMs) {
    parser.parse(step_body(names, next, c), now_ms(), batch);
    store.ingest(batch);
  }
}

// CPU time of the whole process (every thread) and its minor page faults so far.
struct ProcessUsage {
  double cpu_ms = 0;
  long minor_faults = 0;
};
ProcessUsage process_usage() {
  rusage r{};
  ::getrusage(RUSAGE_SELF, &r);
  const auto ms = [](const timeval& t) { return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_usec) / 1e3; };
  return {ms(r.ru_utime) + ms(r.ru_stime), r.ru_minflt};
}

double median_of(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

void simulate_store(const fs::path& dir, int servers, int64_t end_before_now_ms, int days) {
  sim::SimConfig cfg;
  cfg.seed = 4242;
  const int64_t steps = 288LL * days + 1;
  cfg.start = (now_ms() - end_before_now_ms) / kStepMs * kStepMs - (steps - 1) * kStepMs;
  sim::FleetEngine engine(cfg, sim::split_fleet(servers));
  auto sink = sim::make_store_sink(dir.string(), days + 1);
  sim::generate_history(engine, steps, static_cast<int>(std::max(1u, std::thread::hardware_concurrency())), *sink, "");
}

CycleTiming time_cycle(const fs::path& data_dir, const fs::path& models_dir, const std::string& model) {
  auto store = open_store(data_dir);
  serve::ModelStatus status;
  auto service = open_service(*store, models_dir, model, status);
  std::vector<ServerId> all(store->windows().server_count());
  for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<ServerId>(i);
  std::vector<double> cpu_ms, faults;  // of each live cycle
  auto timed_cycle = [&] {
    const ProcessUsage u0 = process_usage();
    const auto t0 = Clock::now();
    service->run_cycle(all);
    const double wall_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    const ProcessUsage u1 = process_usage();
    cpu_ms.push_back(u1.cpu_ms - u0.cpu_ms);
    faults.push_back(static_cast<double>(u1.minor_faults - u0.minor_faults));
    return wall_ms;
  };
  const double first_ms = timed_cycle();  // a new daemon: buffers sized, every robust shape fitted
  cpu_ms.clear();
  faults.clear();
  // Then as live: each cycle forecasts a step that just closed. In the hour's last one every shape
  // the first cycle fitted comes due, and the first share of them is refitted (the median of the
  // others is the cycle's time).
  std::vector<double> ms;
  double refit_ms = 0;
  tft::gemm::WorkCount matrix;
  tft::gemm::count_work(true);
  for (int step = 1; step <= kRefitSteps; ++step) {
    append_steps(*store, 1);
    if (step == kRefitSteps) {
      matrix = tft::gemm::work_counted();
      tft::gemm::count_work(false);
    }
    const double cycle_ms = timed_cycle();
    if (step < kRefitSteps) {
      ms.push_back(cycle_ms);
    } else {
      refit_ms = cycle_ms;
      cpu_ms.pop_back();
      faults.pop_back();
    }
  }
  const auto model_file = lifecycle::model_file(models_dir, model);
  const auto cfg = tft::load_model_file(model_file.string())->config();
  CycleTiming t;
  t.model = model;
  t.hidden = cfg.hidden;
  t.servers = static_cast<int>(all.size());
  t.ms = median_of(ms);
  t.cpu_ms = median_of(cpu_ms);
  t.page_faults = median_of(faults);
  t.first_ms = first_ms;
  t.refit_ms = refit_ms;
  t.ms_per_server = t.ms / std::max(1, t.servers);
  t.gflop = 2.0 * tft::forward_macs_per_window(cfg, kMaxEncoderSteps, kHorizonSteps) * t.servers / 1e9;
  t.gflops = t.gflop / (t.ms / 1e3);
  t.matrix_gflop = matrix.flop / 1e9 / static_cast<double>(kRefitSteps - 1);
  t.matrix_gflops_per_thread = matrix.thread_seconds > 0 ? matrix.flop / matrix.thread_seconds / 1e9 : 0;
  return t;
}

SteadyState steady_state(const fs::path& data_dir, const fs::path& models_dir, int warmup, int cycles) {
  auto store = open_store(data_dir);
  serve::ModelStatus status;
  auto service = open_service(*store, models_dir, std::string(lifecycle::kDefaultModelName), status);
  EpochMs next = 0;
  const std::vector<std::string> names = server_names(*store, next);
  service->start();
  FeedParser parser;
  FeedBatch batch;
  auto counter = std::make_shared<CountingSink>();
  auto one_cycle = [&](int c) {
    const uint64_t before = service->cycles();
    parser.parse(step_body(names, next, c), now_ms(), batch);
    store->ingest(batch);
    next += kStepMs;
    service->wait_idle();
    if (service->cycles() == before) throw std::runtime_error("bench: a closed step produced no forecast cycle");
  };
  for (int c = 0; c < warmup; ++c) one_cycle(c);
  SteadyState s;
  s.cycles = cycles;
  s.rss_mb = rss_mb();
  const double sqlite_before = static_cast<double>(sqlite3_memory_used()) / 1048576.0;
  spdlog::default_logger()->sinks().push_back(counter);
  for (int c = 0; c < cycles; ++c) one_cycle(warmup + c);
  spdlog::default_logger()->sinks().pop_back();
  s.rss_growth_mb = rss_mb() - s.rss_mb;
  s.sqlite_growth_mb = static_cast<double>(sqlite3_memory_used()) / 1048576.0 - sqlite_before;
  s.log_lines_per_cycle = double(counter->lines) / cycles;
  service->stop();
  return s;
}

double training_windows_per_s(const fs::path& data_dir) {
  const train::History history = train::load_history(data_dir.string());
  train::TrainOptions o;
  o.epochs = kTrainingEpochs;
  o.max_windows = kTrainingWindows;
  o.max_validation = 32;
  o.threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  o.progress = false;
  o.windows.validation_days = 0;
  return train::train_model(history, o, "bench").windows_per_second;
}

}  // namespace nordiq::bench
