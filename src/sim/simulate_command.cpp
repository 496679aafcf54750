// `nordiq simulate stream|history`: flag parsing and validation (every bad value is exit 2 naming
// the flag), then one engine driven by the history writer or the stream sender.
#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <thread>

#include "cli/command.hpp"
#include "sim/history.hpp"
#include "sim/options.hpp"
#include "sim/scenario.hpp"
#include "sim/store_sink.hpp"
#include "sim/stream.hpp"

namespace nordiq::cli {

namespace {

using namespace nordiq::sim;

// Raw flag text; empty = not given.
struct Flags {
  std::string servers, fleet, seed = "42", step = "300", start, pc = "0.10", deg = "1.0", crit = "0.5",
                                casc = "0.2", incidents, log_format = "text", regimes = "none";
  // history
  std::string days = "30", out = "csv", output = "history.csv", data_dir, threads;
  // stream
  std::string url = "http://127.0.0.1:8000", api_key_file, speed = "0", steps = "0", scenario = "healthy",
              control_host = "127.0.0.1", control_port = "8001", control_key_file, batch_size = "5000",
              timeout = "5", max_backlog = "288", drain_timeout = "10";
};

void add_common(CLI::App* c, Flags& f) {
  c->add_option("--servers", f.servers, "fleet size N >= 7 (default 20 stream, 90 history)");
  c->add_option("--fleet", f.fleet, "explicit counts per profile id, e.g. database=2,web_api=5");
  c->add_option("--seed", f.seed, "unsigned 64-bit seed (default 42)");
  c->add_option("--step", f.step, "simulated step in seconds, 5-600, divides 86400 (default 300)");
  c->add_option("--start", f.start, "first timestamp, ISO-8601 (naive = UTC)");
  c->add_option("--problem-child-pct", f.pc, "share of problem children, 0-0.5 (default 0.10)");
  c->add_option("--degrading-per-week", f.deg, "degrading episodes per server per week (default 1.0)");
  c->add_option("--critical-per-week", f.crit, "critical episodes per server per week (default 0.5)");
  c->add_option("--cascade-per-week", f.casc, "cascade events per upstream server per week (default 0.2)");
  c->add_option("--incidents", f.incidents, "ground-truth CSV path");
  c->add_option("--regimes", f.regimes,
                "none|realistic: lay real-server regimes (level shifts, walks, leaks, own daily phase, "
                "hourly jobs, weekly cycles, flat machines) over the base series, for training data "
                "(default none; the ground truth covers base episodes only)");
  c->add_option("--log-format", f.log_format, "text|json (level from NORDIQ_LOG_LEVEL)");
}

struct Common {
  SimConfig cfg;
  FleetCounts counts{};
};

Common parse_common(const Flags& f, bool stream) {
  Common c;
  c.cfg.seed = parse_u64_flag("--seed", f.seed);
  c.cfg.step_s = parse_step_flag(f.step);
  c.cfg.problem_child_pct = parse_double_flag("--problem-child-pct", f.pc, 0.0, 0.5);
  c.cfg.degrading_per_week = parse_double_flag("--degrading-per-week", f.deg, 0.0, 1000.0);
  c.cfg.critical_per_week = parse_double_flag("--critical-per-week", f.crit, 0.0, 1000.0);
  c.cfg.cascade_per_week = parse_double_flag("--cascade-per-week", f.casc, 0.0, 1000.0);
  if (f.regimes != "none" && f.regimes != "realistic")
    throw UsageError(fmt::format("--regimes must be none or realistic, got '{}'", f.regimes));
  c.cfg.regimes = f.regimes == "realistic";
  try {
    if (!f.fleet.empty())
      c.counts = parse_fleet_spec(f.fleet);
    else
      c.counts = split_fleet(static_cast<int>(
          parse_int_flag("--servers", f.servers.empty() ? (stream ? "20" : "90") : f.servers, 7, 100000)));
  } catch (const std::invalid_argument& e) {
    throw UsageError(e.what());
  }
  return c;
}

int run_history(const Flags& f) {
  setup_logging(f.log_format);
  Common c = parse_common(f, false);
  const int days = static_cast<int>(parse_int_flag("--days", f.days, 1, 3650));
  const int hw = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const int threads = f.threads.empty() ? hw : static_cast<int>(parse_int_flag("--threads", f.threads, 1, 1024));
  if (f.out != "csv" && f.out != "store") throw UsageError(fmt::format("--out must be csv or store, got '{}'", f.out));
  if (f.output.empty()) throw UsageError("--output must not be empty");
  if (!f.start.empty()) {
    c.cfg.start = parse_start_flag(f.start, c.cfg.step_s);
  } else {
    const EpochMs today = now_ms() / 86'400'000 * 86'400'000;
    c.cfg.start = today - static_cast<int64_t>(days) * 86'400'000;
  }
  std::string incidents = f.incidents;
  if (incidents.empty()) {
    if (f.out == "csv" && f.output != "-")
      incidents = (std::filesystem::path(f.output).parent_path() / "incidents.csv").string();
    else
      incidents = "incidents.csv";
  }
  const int64_t steps = static_cast<int64_t>(days) * 86400 / c.cfg.step_s;

  FleetEngine engine(c.cfg, c.counts);
  std::unique_ptr<RowSink> sink;
  std::string where;
  try {
    if (f.out == "csv") {
      sink = make_csv_sink(f.output);
      where = f.output == "-" ? "stdout" : f.output;
    } else {
      sink = make_store_sink(f.data_dir, days);
      where = "store in " + (f.data_dir.empty() ? std::string("the default data dir") : f.data_dir);
    }
  } catch (const UsageError&) {
    throw;
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return kExitIo;
  }
  HistorySummary sum;
  const auto t0 = std::chrono::steady_clock::now();
  try {
    sum = generate_history(engine, steps, threads, *sink, incidents);
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return kExitIo;
  }
  sum.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::string kinds;
  for (const auto& [k, n] : sum.incidents_by_kind) kinds += fmt::format("{}{}={}", kinds.empty() ? "" : " ", k, n);
  spdlog::info("history: {} rows{}, {} servers, {} steps {} .. {}, episodes: {}, wrote {} and {} in {:.2f} s ({:.0f} rows/s)",
               sum.rows, f.out == "store" ? fmt::format(" ({} duplicates kept)", sum.duplicates) : "", sum.servers,
               sum.steps, format_iso8601(sum.first), format_iso8601(sum.last), kinds.empty() ? "none" : kinds, where,
               incidents, sum.seconds, sum.seconds > 0 ? static_cast<double>(sum.rows) / sum.seconds : 0.0);
  return kExitOk;
}

int run_stream_cmd(const Flags& f) {
  setup_logging(f.log_format);
  Common c = parse_common(f, true);
  StreamOptions o;
  o.url = f.url;
  if (o.url.rfind("http://", 0) != 0 && o.url.rfind("https://", 0) != 0)
    throw UsageError(fmt::format("--url must start with http:// or https://, got '{}'", f.url));
  if (!f.api_key_file.empty())
    o.api_key = read_key_file("--api-key-file", f.api_key_file);
  else if (const char* k = std::getenv("NORDIQ_API_KEY"))
    o.api_key = k;
  o.speed = parse_double_flag("--speed", f.speed, 0.0, 1e6);
  o.steps = parse_int_flag("--steps", f.steps, 0, int64_t{1} << 40);
  o.scenario = f.scenario;
  if (!scenario_from_name(o.scenario))
    throw UsageError(fmt::format("--scenario must be one of healthy, degrading, critical, cascade; got '{}'", f.scenario));
  o.control_host = f.control_host;
  o.control_port = static_cast<int>(parse_int_flag("--control-port", f.control_port, 0, 65535));
  if (!f.control_key_file.empty()) o.control_key = read_key_file("--control-key-file", f.control_key_file);
  o.batch_size = static_cast<size_t>(parse_int_flag("--batch-size", f.batch_size, 1, 100000));
  o.timeout_s = parse_double_flag("--timeout", f.timeout, 0.1, 3600);
  o.max_backlog = static_cast<size_t>(parse_int_flag("--max-backlog", f.max_backlog, 1, 1000000));
  o.drain_timeout_s = parse_double_flag("--drain-timeout", f.drain_timeout, 0, 86400);
  o.incidents = f.incidents;
  const EpochMs now = now_ms();
  if (!f.start.empty())
    c.cfg.start = parse_start_flag(f.start, c.cfg.step_s);
  else
    c.cfg.start = floor_to_step(o.speed > 0 ? now - 86'400'000 : now, c.cfg.step_s);
  install_stream_signal_handlers();
  return run_stream(c.cfg, c.counts, o);
}

}  // namespace

void add_simulate_command(CLI::App& app, Runner& runner) {
  auto flags = std::make_shared<Flags>();
  auto* sim = app.add_subcommand("simulate", "Fleet-metrics simulator: stream to a daemon, or write history");
  sim->require_subcommand(1);

  auto* history = sim->add_subcommand("history", "Write N days x M servers of history (CSV or the daemon's store)");
  add_common(history, *flags);
  history->add_option("--days", flags->days, "whole days, 1-3650 (default 30)");
  history->add_option("--out", flags->out, "csv|store (default csv)");
  history->add_option("--output", flags->output, "CSV path, - = stdout (default history.csv)");
  history->add_option("--data-dir", flags->data_dir, "daemon data dir for --out store");
  history->add_option("--threads", flags->threads, "generation workers (default: hardware threads)");

  auto* stream = sim->add_subcommand("stream", "Post live batches to a daemon's POST /feed/data");
  add_common(stream, *flags);
  stream->add_option("--url", flags->url, "daemon base URL (default http://127.0.0.1:8000)");
  stream->add_option("--api-key-file", flags->api_key_file, "file with the X-API-Key (default env NORDIQ_API_KEY)");
  stream->add_option("--speed", flags->speed, "0 = real time; N = simulated steps per wall second");
  stream->add_option("--steps", flags->steps, "stop after K steps (0 = until SIGINT/SIGTERM)");
  stream->add_option("--scenario", flags->scenario, "initial scenario: healthy|degrading|critical|cascade");
  stream->add_option("--control-host", flags->control_host, "control API host (default 127.0.0.1)");
  stream->add_option("--control-port", flags->control_port, "control API port, 0 = disabled (default 8001)");
  stream->add_option("--control-key-file", flags->control_key_file, "X-API-Key required by the control API");
  stream->add_option("--batch-size", flags->batch_size, "records per POST, 1-100000 (default 5000)");
  stream->add_option("--timeout", flags->timeout, "seconds per POST (default 5)");
  stream->add_option("--max-backlog", flags->max_backlog, "undelivered steps held before generation pauses (default 288)");
  stream->add_option("--drain-timeout", flags->drain_timeout, "seconds to flush the backlog on shutdown (default 10)");

  auto guarded = [](auto fn) {
    return [fn]() -> int {
      try {
        return fn();
      } catch (const UsageError& e) {
        fmt::print(stderr, "nordiq simulate: usage error: {}\n", e.what());
        return kExitUsage;
      }
    };
  };
  history->callback([&runner, flags, guarded] { runner = guarded([flags] { return run_history(*flags); }); });
  stream->callback([&runner, flags, guarded] { runner = guarded([flags] { return run_stream_cmd(*flags); }); });
}

}  // namespace nordiq::cli
