// `nordiq eval alerts`: the daemon's alerts replayed over a simulated history and scored against
// its incident ground truth, beside two reference rules (replay/alert_score.hpp).
#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <thread>

#include "cli/command.hpp"
#include "replay/alert_baselines.hpp"
#include "replay/alert_replay.hpp"
#include "replay/incidents.hpp"

namespace nordiq::replay {

struct EvalAlertsArgs {
  std::string data, incidents, model = "models/default", config, per_incident, false_alarms;
  int threads = 0;
  bool json = false;
};

namespace {

void write_text_file(const std::string& path, const std::string& text, const char* what) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out.flush()) throw std::runtime_error(fmt::format("{}: cannot write the {}", path, what));
}

// The detector's baseline needs 2 h 45 min of a server's history (cascade/anomaly.hpp): events
// starting before that are not scored.
constexpr int64_t kCascadeWarmupMs = 3 * 3'600'000LL;

int run_eval_alerts(const EvalAlertsArgs& args) {
  auto log = std::make_shared<spdlog::logger>("eval", std::make_shared<spdlog::sinks::stderr_sink_mt>());
  log->set_level(spdlog::get_level());  // NORDIQ_LOG_LEVEL, read by main()
  const train::History history = train::load_history(args.data);
  if (history.empty()) throw std::runtime_error(fmt::format("{}: no records", args.data));
  const std::vector<Incident> incidents = load_incidents(args.incidents);
  ReplayOptions options;
  options.model = args.model;
  if (!args.config.empty()) options.config = risk::load_alert_config(args.config);
  options.threads = args.threads > 0 ? args.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  auto last = std::chrono::steady_clock::now();
  options.progress = [&](int64_t done, int64_t total) {
    const auto now = std::chrono::steady_clock::now();
    if (now - last < std::chrono::seconds(15)) return;
    last = now;
    log->info("replayed {}/{} steps ({:.0f} %)", done, total, 100.0 * done / total);
  };
  log->info("replaying {} servers, {} steps through the serving path (model {}), {} incidents", history.servers.size(),
            (history.last_step - history.first_step) / history.step_ms + 1, args.model, incidents.size());
  ScoredSpan span;
  for (const auto& s : history.servers) span.servers.push_back(s.name);
  span.begin = history.first_step;
  span.end = history.last_step + history.step_ms;
  span.step_ms = history.step_ms;
  std::vector<NamedScore> scores;
  const ReplayResult replayed = replay_history(history, options);
  scores.push_back({"nordiq", score_alerts(replayed.alerts, incidents, span)});
  scores.push_back({"static_threshold",
                    score_alerts(baseline_alerts(history, options.config, BaselineRule::static_threshold), incidents, span)});
  scores.push_back({"linear_trend_1h_30m",
                    score_alerts(baseline_alerts(history, options.config, BaselineRule::linear_trend), incidents, span)});
  const CascadeScore cascades =
      score_cascades(replayed.cascades, cascade_truth(incidents, span.end), span, kCascadeWarmupMs);
  if (!args.per_incident.empty()) write_text_file(args.per_incident, incident_outcomes_csv(scores), "per-incident report");
  if (!args.false_alarms.empty())
    write_text_file(args.false_alarms, false_alarms_csv(scores, span.servers), "false-alarm report");
  if (args.json) {
    nlohmann::ordered_json j = alert_score_json(scores);
    j["cascades"] = cascade_score_json(cascades);
    fmt::print("{}\n", j.dump(2));
  } else {
    fmt::print("{} servers, {:.1f} server-days, data {} .. {}\n\n{}\n{}", span.servers.size(),
               scores[0].score.server_days, format_iso8601(span.begin), format_iso8601(span.end),
               alert_score_table(scores), cascade_score_table(cascades));
  }
  return 0;
}

}  // namespace
}  // namespace nordiq::replay

namespace nordiq::cli {

void add_eval_alerts_command(CLI::App& app, Runner& runner) {
  CLI::App* eval = app.get_subcommand("eval");
  auto args = std::make_shared<replay::EvalAlertsArgs>();
  auto* cmd = eval->add_subcommand(
      "alerts", "Replays a simulated history through the serving path (store, forecast, risk, alert tracker) in "
                "data time and scores its alerts against the incident ground truth, beside a static-threshold "
                "rule and a 1 h linear-trend rule");
  cmd->add_option("--data", args->data, "history CSV written by `nordiq simulate history`")->required();
  cmd->add_option("--incidents", args->incidents, "its incidents.csv")->required();
  cmd->add_option("--model", args->model, "model dir / .safetensors, or 'baseline'")->capture_default_str();
  cmd->add_option("--alerts-config", args->config, "alert thresholds and rules (default: the built-in ones)");
  cmd->add_option("--threads", args->threads, "TFT engine threads (0 = hardware threads)")->check(CLI::Range(0, 1024));
  cmd->add_option("--per-incident", args->per_incident,
                  "also write one CSV row per incident to warn of and system: its kind, signal and lead time");
  cmd->add_option("--false-alarms", args->false_alarms,
                  "also write one CSV row per false alarm and system: server, signal, when it was open, likely/possible");
  cmd->add_flag("--json", args->json, "print the scores as JSON");
  cmd->callback([args, &runner] { runner = [args] { return replay::run_eval_alerts(*args); }; });
}

}  // namespace nordiq::cli
