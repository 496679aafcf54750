// `nordiq eval --model M --data D`: forecast accuracy on held-out history, the model and what the
// daemon serves against four baselines. Table on stdout, or the report as JSON with --json; logs go
// to stderr so the JSON stays machine-readable.
#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <mutex>
#include <numeric>
#include <thread>

#include "cli/command.hpp"
#include "train/eval_command.hpp"
#include "train/evaluator.hpp"
#include "train/model_source.hpp"

namespace nordiq::train {

namespace {

// Origins S steps apart fall on P / gcd(S, P) of the P step positions within an hour. With one
// (5-min steps, stride 12) an hourly job always lands on the same forecast step, so the short
// bands' scores on such a series say as much about that minute as about the forecaster.
void log_hour_positions(spdlog::logger& log, int64_t step_ms, int stride) {
  const int64_t per_hour = 3'600'000 % step_ms == 0 ? 3'600'000 / step_ms : 0;
  const int64_t positions = per_hour > 1 ? per_hour / std::gcd<int64_t>(stride, per_hour) : 0;
  if (positions > 0 && positions < per_hour)
    log.info("origins fall on {} of the {} step positions within the hour (stride {}): on series with "
             "hourly patterns the short horizon bands depend on which; a stride coprime with {} covers them all",
             positions, per_hour, stride, per_hour);
}

}  // namespace

EvalReport run_eval(const EvalArgs& args, spdlog::logger* log) {
  // The model first: a bad model file should fail before minutes of reading history.
  const ModelSource model = open_model(args.model);
  HistoryOptions hopt;
  hopt.step_seconds = args.step_seconds > 0 ? args.step_seconds
                      : model.step_seconds > 0 ? model.step_seconds
                                               : kDefaultStepSeconds;
  if (model.step_seconds > 0 && hopt.step_seconds != model.step_seconds)
    throw std::invalid_argument(fmt::format("--step {} differs from the model's step ({} s)",
                                            hopt.step_seconds, model.step_seconds));
  History history = load_history(args.data, hopt);
  if (log)
    log->info("history {}: {} servers, {} records, {} → {}, {} forward-filled steps, {} restarts",
              args.data, history.servers.size(), history.records,
              format_iso8601(history.first_step), format_iso8601(history.last_step),
              history.filled_steps, history.restarts);

  OriginOptions oopt;
  oopt.holdout_days = args.holdout_days;
  oopt.stride = args.stride;
  // Scored over the model's horizon (96 steps for NordIQ models; less only for test models).
  oopt.horizon = model.horizon > 0 ? model.horizon : kHorizonSteps;
  const std::vector<Origin> origins = enumerate_origins(history, oopt);
  if (origins.empty())
    throw std::runtime_error(fmt::format(
        "no forecast window in {}: every origin needs {} steps of history and {} steps of future "
        "without a restart{}",
        args.data, oopt.min_history, oopt.horizon,
        args.holdout_days ? fmt::format(", inside the last {} day(s)", args.holdout_days) : ""));

  if (log) log_hour_positions(*log, history.step_ms, args.stride);
  std::vector<EvalModel> models;
  models.push_back({"model", model.make});
  models.push_back(served_model(model.make, history.step_ms, oopt.horizon));
  for (EvalModel& b : baseline_models(oopt.horizon)) models.push_back(std::move(b));

  EvalOptions eopt;
  eopt.horizon = oopt.horizon;
  eopt.threads = args.threads > 0 ? args.threads
                                  : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  std::mutex progress_mutex;
  auto last = std::chrono::steady_clock::now();
  if (log) {
    log->info("evaluating {} ({}), served (replayed causally over every step) and {} baselines on {} "
              "windows (stride {}), {} threads",
              args.model, model.description, models.size() - 2, origins.size(), args.stride, eopt.threads);
    eopt.progress = [&](int64_t done, int64_t total) {
      std::lock_guard lock(progress_mutex);
      const auto now = std::chrono::steady_clock::now();
      if (now - last < std::chrono::seconds(10)) return;  // at most one line per 10 s
      last = now;
      log->info("{}/{} windows ({:.0f} %)", done, total, 100.0 * done / total);
    };
  }
  return evaluate(history, origins, models, eopt);
}

}  // namespace nordiq::train

namespace nordiq::cli {

void add_eval_command(CLI::App& app, Runner& runner) {
  auto args = std::make_shared<train::EvalArgs>();
  auto* cmd = app.add_subcommand(
      "eval", "Forecast accuracy on held-out history, overall and per horizon: the model against "
              "last value, seasonal naive (24 h), linear trend and robust_profile");
  cmd->add_option("--model", args->model,
                   "'baseline' (the daemon's baseline forecaster) or a model directory / "
                   "model.safetensors (required)");
  cmd->add_option("--data", args->data,
                   "history: a CSV as written by `nordiq simulate history`, or a daemon data dir (required)");
  cmd->add_option("--stride", args->stride, "keep every S-th forecast origin")
      ->check(CLI::Range(1, 1'000'000));
  cmd->add_option("--holdout-days", args->holdout_days,
                   "evaluate on the last N days only (0 = the whole file, for a separate eval file)")
      ->check(CLI::Range(0, 3650));
  cmd->add_flag("--json", args->json, "print the report as JSON");
  cmd->add_option("--threads", args->threads, "worker threads (0 = hardware threads)")
      ->check(CLI::Range(0, 1024));
  cmd->add_option("--step", args->step_seconds,
                  "step of the history in seconds (default: the model's, else 300)")
      ->check(CLI::Range(5, 86'400));
  cmd->add_option("--metric", args->metric,
                  "show the per-horizon tables for this metric (default: overall)")
      ->check([](const std::string& name) {
        return metric_from_name(name) ? std::string() : "not one of the 14 metrics: " + name;
      });
  cmd->require_subcommand(0, 1);  // `eval alerts` (replay/) has its own options
  cmd->callback([args, cmd, &runner] {
    if (!cmd->get_subcommands().empty()) return;  // a subcommand (eval alerts) runs instead
    if (args->model.empty()) throw CLI::RequiredError("--model");
    if (args->data.empty()) throw CLI::RequiredError("--data");
    runner = [args] {
      auto log = std::make_shared<spdlog::logger>(
          "eval", std::make_shared<spdlog::sinks::stderr_sink_mt>());
      log->set_level(spdlog::get_level());  // NORDIQ_LOG_LEVEL, read by main()
      const train::EvalReport report = train::run_eval(*args, log.get());
      if (args->json)
        fmt::print("{}\n", train::report_json(report).dump(2));
      else
        fmt::print("{}", train::report_table(report, args->metric.empty() ? -1 : static_cast<int>(*metric_from_name(args->metric))));
      return 0;
    };
  });
}

}  // namespace nordiq::cli
