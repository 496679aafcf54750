// `nordiq serve`: the daemon. Wires store → HTTP API, serves until SIGTERM/SIGINT, then drains
// in-flight requests, stops the services, checkpoints the store and exits 0.
#include <CLI/CLI.hpp>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <memory>
#include <thread>

#include "api/api_server.hpp"
#include "api/dashboard_endpoint.hpp"
#include "api/feed_endpoint.hpp"
#include "api/logging.hpp"
#include "api/memory_budget.hpp"
#include "api/predictions_setup.hpp"
#include "api/remote_write_endpoint.hpp"
#include "api/serve_context.hpp"
#include "api/status_endpoint.hpp"
#include "cli/command.hpp"
#include "core/thread_priority.hpp"
#include "store/data_dir_lock.hpp"

namespace nordiq::cli {

namespace {

struct ServeFlags {
  api::ServeOptions options;
  std::string api_key_file, admin_key_file;
  bool no_auth = false;
  bool skip_integrity_check = false;
  std::string sync = "normal";
  size_t max_body_mib = 32;
  size_t max_records = 100'000;
  size_t max_name_length = 128;
  int64_t remote_write_hold_s = 30;
};

int run_serve(ServeFlags& flags) {
  api::ServeOptions& opt = flags.options;
  api::configure_logging(opt.log_format, spdlog::get_level());  // NORDIQ_LOG_LEVEL, read by main()

  opt.auth.enabled = !flags.no_auth;
  opt.store.integrity_check = !flags.skip_integrity_check;
  opt.auth.data_dir = opt.store.data_dir;
  if (!flags.api_key_file.empty()) opt.auth.api_key_file = flags.api_key_file;
  if (!flags.admin_key_file.empty()) opt.auth.admin_key_file = flags.admin_key_file;
  opt.store.durability = flags.sync == "full" ? Durability::full : Durability::normal;
  opt.http.max_body_bytes = flags.max_body_mib << 20;
  set_batch_nice(opt.forecast_nice);  // before the forecast cycle's threads exist

  // Signals are taken by a dedicated thread (sigwait): block them before any thread exists so
  // every thread inherits the mask and none is interrupted mid-request.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  // Everything the daemon creates (data dir, database, WAL, generated key) is its own: 0700
  // directories, 0600 files, whatever the caller's umask.
  ::umask(077);

  if (opt.store.max_servers == 0) {
    const uint64_t memory = api::usable_memory_bytes();
    opt.store.max_servers = api::fitted_max_servers(memory);
    spdlog::info("max servers: {}; --max-servers to change", api::describe_fitted_max_servers(memory));
  }

  // One writer per data dir: a second daemon (or `simulate history --out store`) is refused.
  DataDirLock data_dir_lock(opt.store.data_dir, "stop it first, or give this daemon another --data-dir");
  auto store = FleetStore::open(opt.store);
  api::Authenticator auth = opt.auth.enabled ? api::Authenticator::configure(opt.auth)
                                             : api::Authenticator::disabled();
  if (!opt.auth.enabled) spdlog::warn("auth: --no-auth: every endpoint is open to anyone who can connect");
  api::ApiServer server(opt.http, std::move(auth));
  api::ServeContext ctx{opt, *store, server, {}, {}};

  FeedLimits limits;
  limits.max_records = flags.max_records;
  limits.max_name_length = flags.max_name_length;
  limits.max_age_ms = int64_t{opt.store.retention_days} * 86'400'000;
  api::add_status_routes(ctx);
  api::add_dashboard_routes(server);
  api::add_feed_routes(server, *store, limits);
  opt.remote_write.max_servers = opt.store.max_servers;
  opt.remote_write.hold_ms = flags.remote_write_hold_s * 1000;
  api::add_remote_write_routes(ctx, opt.remote_write);
  // Services plug in here (forecast cycle + /predictions, /alerts, /metrics: issue 3).
  api::add_forecast_service(ctx);

  const int port = server.bind();
  spdlog::info("nordiq {} listening on http://{}:{} (data dir {}, {} threads, up to {} connections, step {} s)",
               NORDIQ_VERSION, opt.http.host, port, opt.store.data_dir.string(),
               opt.http.threads, opt.http.max_connections, opt.store.window.step_seconds);

  std::atomic<bool> served{false};
  std::atomic<bool> signalled{false};
  std::thread signal_thread([&] {
    int sig = 0;
    sigwait(&stop_signals, &sig);
    if (served.load()) return;  // woken by main after serve() ended on its own
    signalled = true;
    spdlog::info("received {}: draining in-flight requests", sig == SIGINT ? "SIGINT" : "SIGTERM");
    // stop() is a no-op until the listener runs: repeat until serve() has returned.
    while (!served.load()) {
      server.stop();
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  server.serve();
  served = true;
  if (!signalled.load()) pthread_kill(signal_thread.native_handle(), SIGTERM);
  signal_thread.join();

  for (auto it = ctx.on_shutdown.rbegin(); it != ctx.on_shutdown.rend(); ++it) (*it)();
  store->flush();
  spdlog::info("stopped cleanly: {} records stored, {} servers", store->records_stored(),
               store->windows().server_count());
  return signalled.load() ? 0 : 1;
}

}  // namespace

void add_serve_command(CLI::App& app, Runner& runner) {
  auto flags = std::make_shared<ServeFlags>();
  api::ServeOptions& o = flags->options;
  CLI::App* cmd = app.add_subcommand("serve", "Run the NordIQ daemon (ingest, forecasts, HTTP API)");
  cmd->option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);  // last one wins
  cmd->add_option("--host", o.http.host, "Address to listen on")->capture_default_str();
  cmd->add_option("--port", o.http.port, "Port to listen on (0 = any free port)")
      ->check(CLI::Range(0, 65535))->capture_default_str();
  cmd->add_option("--data-dir", o.store.data_dir, "Directory of the store (SQLite, key file)")
      ->capture_default_str();
  cmd->add_option("--models-dir", o.models_dir, "Directory holding model directories")->capture_default_str();
  cmd->add_option("--model", o.model, "Model name inside --models-dir (default: the shipped one)");
  cmd->add_option("--alerts-config", o.alerts_config,
                  "JSON file of alert thresholds per profile and signal and alert rules (default: the "
                  "built-in values, documented in config/alerts.json)");
  cmd->add_option("--threads", o.http.threads, "HTTP worker threads kept ready")
      ->check(CLI::Range(2, 1024))->capture_default_str();
  cmd->add_option("--max-connections", o.http.max_connections,
                  "Connections served at once: the pool adds a thread per connection up to this (slow clients "
                  "cannot take every thread)")
      ->check(CLI::Range(2, 65536))->capture_default_str();
  cmd->add_option("--max-connections-per-address", o.http.max_connections_per_address,
                  "Connections one client address (IPv6: one /64) may hold at once; more get 429 (0 = no cap)")
      ->check(CLI::Range(0, 65536))->capture_default_str();
  cmd->add_option("--request-timeout", o.http.request_timeout_s,
                  "Seconds a request's head and body may take to arrive, from its first byte; then 408")
      ->check(CLI::Range(1, 3600))->capture_default_str();
  cmd->add_option("--forecast-threads", o.forecast_threads,
                  "Threads of the forecast cycle (TFT network and served layer); 0 = one per core")
      ->check(CLI::Range(0, 1024))->capture_default_str();
  cmd->add_option("--forecast-nice", o.forecast_nice,
                  "CPU priority (nice) of the forecast cycle's threads: requests that arrive during a cycle preempt "
                  "them; 0 = the same priority as the HTTP threads")
      ->check(CLI::Range(0, 19))->capture_default_str();
  cmd->add_option("--training-threads", o.training_threads,
                  "Threads of a retraining job started over HTTP (it also runs at a lower CPU priority)")
      ->check(CLI::Range(1, 256))->capture_default_str();
  cmd->add_option("--training-priority", o.training_priority,
                  "CPU priority of a retraining job: idle (SCHED_IDLE: only CPU time serving leaves idle), "
                  "nice (+10) or normal")
      ->check(CLI::IsMember({"idle", "nice", "normal"}))->capture_default_str();
  cmd->add_option("--log-format", o.log_format, "Log output: text or json")
      ->check(CLI::IsMember({"text", "json"}))->capture_default_str();
  cmd->add_flag("--no-auth", flags->no_auth, "Serve without API keys (never on a shared network)");
  cmd->add_flag("--skip-integrity-check", flags->skip_integrity_check,
                "Start without PRAGMA quick_check of the database (huge stores; or to serve what a corrupt one still holds)");
  cmd->add_option("--api-key-file", flags->api_key_file, "File holding the ingest/read key (else NORDIQ_API_KEY)");
  cmd->add_option("--admin-key-file", flags->admin_key_file, "File holding the admin key (else NORDIQ_ADMIN_KEY)");
  cmd->add_option("--step-seconds", o.store.window.step_seconds, "Step length of the time model")
      ->check(CLI::Range(1, 86400))->capture_default_str();
  cmd->add_option("--retention-days", o.store.retention_days, "Days of records and step history kept")
      ->check(CLI::Range(1, 3650))->capture_default_str();
  o.store.max_servers = 0;  // fitted to the machine's memory at start (api/memory_budget.hpp)
  cmd->add_option("--max-servers", o.store.max_servers,
                  "Servers tracked at most; 0 = fit the machine: as many as half its memory holds at ~512 KiB each "
                  "(1,000..100,000)")
      ->capture_default_str();
  cmd->add_option("--max-body-mib", flags->max_body_mib, "Largest request body (MiB)")
      ->check(CLI::Range(1, 1024))->capture_default_str();
  cmd->add_option("--max-records", flags->max_records, "Records per request at most")
      ->check(CLI::Range(1, 10'000'000))->capture_default_str();
  cmd->add_option("--max-name-length", flags->max_name_length, "Longest server name")
      ->check(CLI::Range(1, 128))->capture_default_str();
  cmd->add_option("--rate-feed", o.http.rate_limits.feed_per_minute, "Feed requests per minute per key (0 = unlimited)")
      ->check(CLI::NonNegativeNumber)->capture_default_str();
  cmd->add_option("--rate-read", o.http.rate_limits.read_per_minute, "Read requests per minute per key (0 = unlimited)")
      ->check(CLI::NonNegativeNumber)->capture_default_str();
  cmd->add_option("--rate-admin", o.http.rate_limits.admin_per_minute, "Admin requests per minute per key (0 = unlimited)")
      ->check(CLI::NonNegativeNumber)->capture_default_str();
  cmd->add_option("--remote-write-server-label", o.remote_write.server_label,
                  "remote_write: the label naming the server (a trailing :port is removed); a nordiq_server "
                  "label wins when present")->capture_default_str();
  cmd->add_option("--remote-write-hold-seconds", flags->remote_write_hold_s,
                  "remote_write: longest wait for the rest of a server's series of one timestamp")
      ->check(CLI::Range(1, 3600))->capture_default_str();
  cmd->add_option("--alertmanager-url", o.alertmanager_url,
                  "Alertmanager to post alerts to (http://host:port); off when empty");
  cmd->add_option("--external-url", o.external_url,
                  "This daemon's address as users reach it, for links in alerts (default http://<host>:<port>)");
  cmd->add_option("--sync", flags->sync,
                  "normal: commits survive a process crash (kill -9); full: also power loss (slower)")
      ->check(CLI::IsMember({"normal", "full"}))->capture_default_str();
  cmd->callback([flags, &runner] { runner = [flags] { return run_serve(*flags); }; });
}

}  // namespace nordiq::cli
