// `nordiq bench` (SPEC §8, issue #12): one run measures the machine (CPU, ISA, fp32 GEMM peak),
// the forecast cycle through the real serving path for 20 … 10 000 servers with the default model
// and an H = 64 one, POST /feed/data and GET /predictions/current against the real daemon, RSS
// and its growth over 1 000 cycles, log lines per cycle and training speed; prints a table, or
// with --json one object in the shape. Not a test: numbers depend on the machine.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <spdlog/sinks/sink.h>
#include <spdlog/spdlog.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bench/bench_cycle.hpp"
#include "bench/bench_http.hpp"
#include "bench/bench_machine.hpp"
#include "cli/command.hpp"
#include "forecast/normalizer.hpp"
#include "tft/model.hpp"
#include "train/trainer.hpp"

namespace nordiq::cli {

namespace fs = std::filesystem;
using nlohmann::ordered_json;

namespace {

constexpr int kTrainingServers = 20;
// Where the simulated fleets' history ends: before now by the steps a benchmark appends after it
// without passing now (two refit cycles' hours, then up to 2 × 1,000 posts 5 s of data time apart).
constexpr int64_t kStoreEndsBeforeNow = 6 * 3'600'000LL;

struct BenchFlags {
  bool quick = false, json = false, training = false, cycle_only = false;
  std::vector<int> servers;  // the cycle's fleet sizes; empty: the defaults below
  std::string models_dir = "models";
};

struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "nordiq-bench-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("bench: mkdtemp failed");
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

// An H = 64 model with the NordIQ contract and the library initialisation: the same FLOPs as a
// trained one (the cycle's cost does not depend on the weights).
void write_h64_model(const fs::path& models_dir) {
  nlohmann::json manifest;
  manifest["format"] = "nordiq-tft-model";
  manifest["format_version"] = 1;
  manifest["max_encoder_length"] = kMaxEncoderSteps;
  manifest["max_prediction_length"] = kHorizonSteps;
  manifest["min_encoder_length"] = 12;
  manifest["step_seconds"] = 300;
  manifest["normalizer"] = forecast::normalizer_manifest();
  manifest["model"] = train::contract_model_json(64, 4, 16);
  tft::Model model(tft::ModelConfig::from_manifest(manifest));
  train::init_parameters(model, 7);
  model.set_manifest(manifest);
  fs::create_directories(models_dir / "medium");
  model.save((models_dir / "medium" / "model.safetensors").string());
}

// The forecast cycle at each fleet size, on the default model and on H = 64 (tmp/models/medium),
// each fleet simulated into tmp/store-N (the HTTP measurements' fleet with `http_days` of history).
ordered_json measure_cycles(const BenchFlags& f, const bench::Machine& machine, const std::vector<int>& sizes,
                            const fs::path& tmp, int http_servers, int http_days) {
  const double peak_per_thread = machine.gemm_peak_gflops / std::max(1, machine.threads);
  ordered_json cycles = ordered_json::array();
  for (int n : sizes) {
    const fs::path store = tmp / fmt::format("store-{}", n);
    bench::simulate_store(store, n, kStoreEndsBeforeNow, n == http_servers ? http_days : 1);
    for (const auto& [label, dir, model] : {std::tuple{"default", fs::path(f.models_dir), std::string("default")},
                                            std::tuple{"medium", tmp / "models", std::string("medium")}}) {
      const bench::CycleTiming t = bench::time_cycle(store, dir, model);
      cycles.push_back({{"model", label}, {"hidden", t.hidden}, {"servers", n}, {"ms", t.ms},
                        {"ms_per_server", t.ms_per_server}, {"gflop", t.gflop}, {"gflops", t.gflops},
                        {"refit_cycle_ms", t.refit_ms}, {"first_cycle_ms", t.first_ms},
                        {"cpu_ms", t.cpu_ms}, {"page_faults", t.page_faults},
                        {"matrix_gflop", t.matrix_gflop}, {"matrix_gflops_per_thread", t.matrix_gflops_per_thread},
                        {"matrix_share_of_peak", t.matrix_gflops_per_thread / peak_per_thread}});
      fmt::print(stderr,
                 "bench: cycle {} H={} {} servers: {:.1f} ms, CPU {:.1f} ms, {:.0f} page faults (the hourly refit: {:.1f} "
                 "ms; the first: {:.1f} ms)\n",
                 label, t.hidden, n, t.ms, t.cpu_ms, t.page_faults, t.refit_ms, t.first_ms);
    }
  }
  return cycles;
}

ordered_json run_bench(const BenchFlags& f) {
  // The daemon's log (a line per cycle, cascades seen in the simulated fleets) goes to the counting
  // sink only, not between the table's lines.
  for (auto& sink : spdlog::default_logger()->sinks()) sink->set_level(spdlog::level::err);
  spdlog::set_level(spdlog::level::info);
  const std::vector<int> sizes = !f.servers.empty() ? f.servers
                                 : f.quick         ? std::vector<int>{20, 500}
                                                   : std::vector<int>{20, 100, 500, 2000, 10000};
  TempDir tmp;
  write_h64_model(tmp.path / "models");  // the "medium" model measure_cycles reads

  ordered_json out;
  const bench::Machine m = bench::measure_machine(f.quick ? 0.5 : 2.0);
  out["machine"] = fmt::format("{} ({} threads; {})", m.cpu, m.threads, m.isa);
  out["gemm_peak_gflops"] = m.gemm_peak_gflops;
  fmt::print(stderr, "bench: machine {}; fp32 GEMM peak {:.0f} GFLOP/s\n", out["machine"].get<std::string>(), m.gemm_peak_gflops);
  // First, while this process holds only a 20-server daemon: its RSS is the daemon's.
  const fs::path steady = tmp.path / "steady";
  const int cycles = 1000, warmup = f.quick ? 50 : 100;
  bench::SteadyState s;
  if (!f.cycle_only) {
    bench::simulate_store(steady, 20, int64_t{cycles + warmup + 12} * 300'000);
    s = bench::steady_state(steady, f.models_dir, warmup, cycles);
  }
  constexpr int http_servers = 500;  // the HTTP measurements' daemon
  const int http_days = f.training ? 3 : 1;
  out["forecast_cycle"] = measure_cycles(f, m, sizes, tmp.path, http_servers, http_days);
  out["settings"] = {{"quick", f.quick}, {"live_cycles", bench::kRefitSteps - 1}};
  if (f.cycle_only) return out;
  const fs::path store500 = tmp.path / fmt::format("store-{}", http_servers);
  if (!fs::exists(store500)) bench::simulate_store(store500, http_servers, kStoreEndsBeforeNow, http_days);
  const bench::HttpPlan plan{.feed_posts = f.quick ? 200 : 1000, .get_requests_per_client = f.quick ? 10 : 50, .clients = 4,
                             .cycle_posts = f.quick ? 4 : 8, .during_training = f.training};
  const bench::HttpResults http = bench::measure_http(store500, f.models_dir, plan);
  auto feed_json = [](const bench::Latency& l) {
    return ordered_json{{"p50_ms", l.p50_ms}, {"p99_ms", l.p99_ms}, {"records_per_s", l.per_s}};
  };
  auto get_json = [](const bench::Latency& l) {
    return ordered_json{{"p50_ms", l.p50_ms}, {"p99_ms", l.p99_ms}, {"requests_per_s", l.per_s}};
  };
  out["feed_500"] = feed_json(http.feed_500);
  out["predictions_500"] = get_json(http.predictions_500);
  out["predictions_500_first_ms"] = http.predictions_500_first_ms;
  out["predictions_500_first_gzip_ms"] = http.predictions_500_first_gzip_ms;
  for (const auto& [name, l] : {std::pair{"predictions_500_across_cycles", http.predictions_500_across_cycles},
                                std::pair{"predictions_500_gzip_across_cycles", http.predictions_500_gzip_across_cycles}}) {
    out[name] = get_json(l);
    out[name]["bodies_seen"] = l.bodies_seen;
  }
  out["predictions_500_revalidated"] = get_json(http.predictions_500_revalidated);
  out["predictions_500_revalidated"]["not_modified_share"] = http.predictions_500_revalidated.not_modified_share;
  out["rss_mb"] = s.rss_mb;
  out["rss_growth_mb_1000_cycles"] = s.rss_growth_mb;
  out["sqlite_cache_growth_mb_1000_cycles"] = s.sqlite_growth_mb;
  out["log_lines_per_cycle"] = s.log_lines_per_cycle;
  // Training's own history: 3 days, so windows have the shipped recipe's full 288-step encoders
  // (the steady store's one day allowed at most 193).
  const fs::path training_store = tmp.path / "training";
  bench::simulate_store(training_store, kTrainingServers, 0, 3);
  out["training_windows_per_s"] = bench::training_windows_per_s(training_store);
  if (http.during_training)
    out["during_training"] = {{"feed_500", feed_json(http.feed_500_training)},
                              {"predictions_500", get_json(http.predictions_500_training)},
                              {"job_phase_at_end", http.training_phase},
                              {"training", "POST /admin/trigger-training {epochs 100, days 3}, default priority (SCHED_IDLE), 1 thread"}};
  out["settings"].update(ordered_json{{"feed_posts", http.feed_500.requests},
                     {"get_clients", http.clients}, {"get_requests", http.predictions_500.requests},
                     {"get_reader", "keep-alive, each body counted and dropped as it arrives (curl -o /dev/null)"},
                     {"cycle_posts", plan.cycle_posts},
                     {"steady_servers", 20}, {"warmup_cycles", warmup},
                     {"training", fmt::format("{} servers x 3 days, H = 32, {} epochs of {} windows, batch 64, dropout 0.1",
                                              kTrainingServers, bench::kTrainingEpochs, bench::kTrainingWindows)}});
  return out;
}

void print_table(const ordered_json& r) {
  fmt::print("machine: {}\nfp32 GEMM peak (all threads; the best of oneDNN and the engine's kernel): {:.0f} GFLOP/s\n\n", r["machine"].get<std::string>(),
             r["gemm_peak_gflops"].get<double>());
  fmt::print("{:<8} {:>3} {:>7} {:>10} {:>10} {:>8} {:>8} {:>7} {:>10} {:>10} {:>9} {:>8} {:>9} {:>7}\n", "model", "H",
             "servers", "cycle ms", "ms/server", "GFLOP", "GFLOP/s", "% peak", "refit ms", "first ms", "GEMM GF", "GEMM %",
             "CPU ms", "faults");
  for (const auto& c : r["forecast_cycle"])
    fmt::print("{:<8} {:>3} {:>7} {:>10.1f} {:>10.3f} {:>8.2f} {:>8.1f} {:>6.1f}% {:>10.1f} {:>10.1f} {:>9.2f} {:>7.1f}% "
               "{:>9.1f} {:>7.0f}\n",
               c["model"].get<std::string>(), c["hidden"].get<int>(), c["servers"].get<int>(), c["ms"].get<double>(),
               c["ms_per_server"].get<double>(), c["gflop"].get<double>(), c["gflops"].get<double>(),
               100 * c["gflops"].get<double>() / r["gemm_peak_gflops"].get<double>(), c["refit_cycle_ms"].get<double>(),
               c["first_cycle_ms"].get<double>(), c["matrix_gflop"].get<double>(),
               100 * c["matrix_share_of_peak"].get<double>(), c["cpu_ms"].get<double>(), c["page_faults"].get<double>());
  fmt::print("(refit ms: the cycle an hour later, when every server's robust shape comes due: it refits 5/4 of an "
             "hour's share of them, as each cycle after it does until all are; first ms: a new "
             "daemon's first cycle, which also fits every shape and sizes every buffer; GEMM GF: the FLOPs the cycle's "
             "matrix products did (the folded network); GEMM %: their rate per thread, in the time spent inside them, "
             "against the peak per thread; CPU ms and faults: the process's CPU time, all threads, and minor page "
             "faults per live cycle)\n");
  if (!r.contains("feed_500")) return;  // --cycle-only
  const auto& fd = r["feed_500"];
  const auto& pr = r["predictions_500"];
  fmt::print("\nPOST /feed/data, 500 records: p50 {:.2f} ms, p99 {:.2f} ms, {:.0f} records/s\n", fd["p50_ms"].get<double>(),
             fd["p99_ms"].get<double>(), fd["records_per_s"].get<double>());
  fmt::print("GET /predictions/current, 500 servers, {} clients (each body counted and dropped as it arrives, as curl "
             "-o /dev/null): p50 {:.1f} ms, p99 {:.1f} ms, {:.1f} requests/s\n",
             r["settings"]["get_clients"].get<int>(), pr["p50_ms"].get<double>(), pr["p99_ms"].get<double>(),
             pr["requests_per_s"].get<double>());
  fmt::print("  the first request, alone, after cycles nobody polled: {:.1f} ms (rendered for it); the first asking for "
             "gzip: {:.1f} ms (compressed for it)\n",
             r["predictions_500_first_ms"].get<double>(), r["predictions_500_first_gzip_ms"].get<double>());
  for (const char* gzip : {"", "gzip_"}) {
    const auto& ac = r[fmt::format("predictions_500_{}across_cycles", gzip)];
    fmt::print("  {} ({} bodies seen): p50 {:.1f} ms, p99 {:.1f} ms\n",
               *gzip ? "the same, asking for gzip (timed to the last compressed byte)"
                     : "across cycles (each client polls every 200 ms; a post a second starts a cycle)",
               ac["bodies_seen"].get<int>(), ac["p50_ms"].get<double>(), ac["p99_ms"].get<double>());
  }
  const auto& rv = r["predictions_500_revalidated"];
  fmt::print("  the same clients revalidating (If-None-Match, {:.0f} % answered 304): p50 {:.2f} ms, p99 {:.1f} ms, {:.1f} requests/s\n",
             100 * rv["not_modified_share"].get<double>(), rv["p50_ms"].get<double>(), rv["p99_ms"].get<double>(),
             rv["requests_per_s"].get<double>());
  fmt::print("RSS after warm-up (20 servers): {:.1f} MB; growth over 1000 cycles: {:+.2f} MB, of which SQLite's memory "
             "(its page cache, sized to the fleet) {:+.2f} MB; log lines per cycle: {:.2f}\n",
             r["rss_mb"].get<double>(), r["rss_growth_mb_1000_cycles"].get<double>(),
             r["sqlite_cache_growth_mb_1000_cycles"].get<double>(), r["log_lines_per_cycle"].get<double>());
  fmt::print("training: {:.1f} windows/s (all threads)\n", r["training_windows_per_s"].get<double>());
  if (r.contains("during_training")) {
    const auto& t = r["during_training"];
    fmt::print("while a training job runs ({}): POST p50 {:.2f} ms, p99 {:.2f} ms; GET p50 {:.1f} ms, p99 {:.1f} ms, {:.1f} requests/s\n",
               t["job_phase_at_end"].get<std::string>(), t["feed_500"]["p50_ms"].get<double>(), t["feed_500"]["p99_ms"].get<double>(),
               t["predictions_500"]["p50_ms"].get<double>(), t["predictions_500"]["p99_ms"].get<double>(),
               t["predictions_500"]["requests_per_s"].get<double>());
  }
}

}  // namespace

void add_bench_command(CLI::App& app, Runner& runner) {
  auto f = std::make_shared<BenchFlags>();
  auto* cmd = app.add_subcommand("bench", "Measure the machine, the forecast cycle, the HTTP API, memory and logging (SPEC §8)");
  cmd->add_flag("--quick", f->quick, "20 and 500 servers, a shorter GEMM peak and fewer requests (about a minute)");
  cmd->add_flag("--json", f->json, "one JSON object instead of the table");
  cmd->add_option("--models-dir", f->models_dir, "where the default model is (default: models)");
  cmd->add_flag("--training", f->training, "repeat the HTTP measurements while a retraining job runs in the daemon");
  cmd->add_option("--servers", f->servers, "the forecast cycle's fleet sizes, e.g. --servers 500,10000 (default 20,100,500,2000,10000)")
      ->delimiter(',')
      ->check(CLI::Range(7, 1'000'000));  // the simulated fleets hold every profile (sim::split_fleet)
  cmd->add_flag("--cycle-only", f->cycle_only, "measure the machine and the forecast cycle only (no HTTP, memory or training)");
  cmd->callback([f, &runner] {
    runner = [f]() -> int {
      const ordered_json r = run_bench(*f);
      if (f->json)
        fmt::print("{}\n", r.dump(2));
      else
        print_table(r);
      return 0;
    };
  });
}

}  // namespace nordiq::cli
