#include "sim/stream.hpp"

#include <httplib.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <deque>
#include <fmt/core.h>
#include <mutex>
#include <thread>

#include "sim/control_api.hpp"
#include "sim/options.hpp"
#include "sim/record_format.hpp"
#include "sim/scenario.hpp"

namespace nordiq::sim {

namespace {

std::atomic<bool> g_signal_stop{false};
extern "C" void on_stop_signal(int) { g_signal_stop.store(true); }

using Clock = std::chrono::steady_clock;

// One simulated step, serialised into one or more POST bodies.
struct PendingStep {
  int64_t k = 0;
  EpochMs t = 0;
  std::vector<std::string> bodies;
  std::vector<size_t> counts;  // records per body
  size_t next = 0;             // first body not yet delivered
};

struct Target {
  std::string scheme_host_port;
  std::string path;  // prefix + /feed/data
};

Target parse_url(const std::string& url) {
  const size_t scheme_end = url.find("://");
  const size_t slash = url.find('/', scheme_end == std::string::npos ? 0 : scheme_end + 3);
  Target t;
  t.scheme_host_port = url.substr(0, slash);
  std::string prefix = slash == std::string::npos ? "" : url.substr(slash);
  while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
  t.path = prefix + "/feed/data";
  return t;
}

enum class PostOutcome { delivered, refused, retry, auth };

class Streamer {
 public:
  Streamer(const SimConfig& cfg, const FleetCounts& counts, const StreamOptions& o)
      : opts_(o), engine_(cfg, counts), control_(engine_), target_(parse_url(o.url)),
        client_(target_.scheme_host_port), jitter_(Rng::substream(cfg.seed, StreamId::control, -1)) {}

  int run();

 private:
  bool stop_requested() const {
    return g_signal_stop.load() || (opts_.stop && opts_.stop->load());
  }
  void generator();
  void sender();
  PostOutcome post(const std::string& body, size_t records, int64_t k, double* retry_after);
  ControlReply health();
  // Sleeps until `until` or a stop/drain condition; returns false when interrupted by the drain
  // deadline passing.
  bool sleep_until(Clock::time_point until, bool sender_side);

  const StreamOptions& opts_;
  FleetEngine engine_;
  ScenarioControl control_;
  Target target_;
  httplib::Client client_;
  Rng jitter_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<PendingStep> queue_;
  bool generation_done_ = false;
  std::atomic<int> fatal_{0};  // exit code when the daemon refused the key
  std::atomic<bool> draining_{false};
  Clock::time_point drain_deadline_{};
  int64_t generated_ = 0;

  // /health counters
  std::atomic<int64_t> step_{-1};
  std::atomic<uint64_t> records_sent_{0}, records_rejected_{0}, duplicates_{0}, post_retries_{0};
  std::atomic<int> consecutive_failures_{0};
  std::atomic<bool> behind_{false};
  std::mutex last_mu_;
  EpochMs last_at_ = 0;
  int last_status_ = 0;
  std::string last_error_;
};

bool Streamer::sleep_until(Clock::time_point until, bool sender_side) {
  while (Clock::now() < until) {
    if (fatal_.load()) return false;
    if (sender_side) {
      if (draining_.load() && Clock::now() >= drain_deadline_) return false;
    } else if (stop_requested()) {
      return false;
    }
    const auto left = until - Clock::now();
    std::this_thread::sleep_for(std::min<Clock::duration>(left, std::chrono::milliseconds(20)));
  }
  return true;
}

PostOutcome Streamer::post(const std::string& body, size_t records, int64_t k, double* retry_after) {
  httplib::Headers headers;
  if (!opts_.api_key.empty()) headers.emplace("X-API-Key", opts_.api_key);
  auto res = client_.Post(target_.path, headers, body, "application/json");
  auto remember = [&](int status, std::string err) {
    std::lock_guard lock(last_mu_);
    last_at_ = now_ms();
    last_status_ = status;
    last_error_ = std::move(err);
  };
  if (!res) {
    remember(0, httplib::to_string(res.error()));
    consecutive_failures_.fetch_add(1);
    return PostOutcome::retry;
  }
  const int st = res->status;
  remember(st, st >= 400 ? fmt::format("HTTP {}", st) : std::string());
  if (st >= 200 && st < 300) {
    consecutive_failures_.store(0);
    records_sent_.fetch_add(records);
    try {
      const auto j = nlohmann::json::parse(res->body);
      if (j.contains("duplicates") && j["duplicates"].is_number_unsigned())
        duplicates_.fetch_add(j["duplicates"].get<uint64_t>());
      if (j.contains("rejected") && j["rejected"].is_array() && !j["rejected"].empty()) {
        // Rejections are per field; count the distinct records.
        std::vector<int64_t> idx;
        for (const auto& e : j["rejected"])
          if (e.contains("index") && e["index"].is_number_integer()) idx.push_back(e["index"].get<int64_t>());
        std::sort(idx.begin(), idx.end());
        const size_t distinct = std::unique(idx.begin(), idx.end()) - idx.begin();
        records_rejected_.fetch_add(std::max<size_t>(1, distinct));
        spdlog::warn("step {}: the daemon rejected {} record(s); first: {}", k, std::max<size_t>(1, distinct),
                     j["rejected"][0].dump());
      }
    } catch (const std::exception&) {
      // A 2xx without the documented body still means the records were stored.
    }
    return PostOutcome::delivered;
  }
  if (st == 401 || st == 403) return PostOutcome::auth;
  if (st == 408 || st == 429 || st >= 500) {
    consecutive_failures_.fetch_add(1);
    if (st == 429 && res->has_header("Retry-After")) {
      try {
        *retry_after = std::stod(res->get_header_value("Retry-After"));
      } catch (const std::exception&) {
      }
    }
    return PostOutcome::retry;
  }
  // Any other 4xx is a bug on one side: never retried (it would fail again), never silent.
  consecutive_failures_.store(0);
  records_rejected_.fetch_add(records);
  spdlog::error("step {}: the daemon refused a batch of {} records with HTTP {}: {}", k, records, st,
                res->body.substr(0, 2000));
  return PostOutcome::refused;
}

void Streamer::sender() {
  for (;;) {
    PendingStep* p = nullptr;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return !queue_.empty() || generation_done_ || fatal_.load(); });
      if (fatal_.load() || queue_.empty()) return;
      p = &queue_.front();  // only the sender pops; references into a deque survive push_back
    }
    double backoff = opts_.retry_base_s;
    while (p->next < p->bodies.size()) {
      if (draining_.load() && Clock::now() >= drain_deadline_) return;
      double retry_after = -1;
      const auto r = post(p->bodies[p->next], p->counts[p->next], p->k, &retry_after);
      if (r == PostOutcome::delivered || r == PostOutcome::refused) {
        ++p->next;
        backoff = opts_.retry_base_s;
        continue;
      }
      if (r == PostOutcome::auth) {
        spdlog::error("the daemon refused the API key (HTTP 401/403); stopping");
        fatal_.store(kExitAuth);
        cv_.notify_all();
        return;
      }
      post_retries_.fetch_add(1);
      // Exponential backoff with ±25 % jitter; a 429's Retry-After wins when it is longer.
      double wait = std::min(backoff, opts_.retry_cap_s) * (0.75 + 0.5 * jitter_.uniform());
      if (retry_after > wait) wait = retry_after;
      backoff = std::min(backoff * 2, opts_.retry_cap_s);
      if (!sleep_until(Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(wait)),
                       true))
        return;
    }
    {
      std::lock_guard lock(mu_);
      queue_.pop_front();
    }
    cv_.notify_all();
  }
}

void Streamer::generator() {
  std::vector<SimRecord> records;
  std::vector<ExternalOverlay> overlays;
  const auto wall0 = Clock::now();
  const EpochMs wall0_ms = now_ms();
  bool caught_up_logged = false;
  auto last_progress = Clock::now();
  const auto& fleet = engine_.fleet();
  for (int64_t k = 0; opts_.steps == 0 || k < opts_.steps; ++k) {
    if (stop_requested() || fatal_.load()) break;
    // Pacing: real time sends step k at T_k; accelerated at w₀ + k/N, never before T_k.
    const EpochMs tk = engine_.time_of(k);
    auto due = wall0 + std::chrono::milliseconds(tk - wall0_ms);  // when the wall clock reaches T_k
    if (opts_.speed > 0) {
      const auto accel = wall0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(k / opts_.speed));
      if (due > accel && !caught_up_logged) {
        spdlog::info("accelerated time caught up with the clock at step {}; continuing in real time", k);
        caught_up_logged = true;
      }
      due = std::max(due, accel);
    }
    behind_.store(Clock::now() > due + std::chrono::seconds(std::max(1, engine_.config().step_s)));
    if (!sleep_until(due, false)) break;
    // Backlog: generation pauses while max_backlog steps are undelivered.
    {
      std::unique_lock lock(mu_);
      while (queue_.size() >= opts_.max_backlog && !stop_requested() && !fatal_.load())
        cv_.wait_for(lock, std::chrono::milliseconds(50));
      if (stop_requested() || fatal_.load()) break;
    }
    control_.overlays(k, overlays);
    engine_.step_all(k, records, &overlays);
    PendingStep p;
    p.k = k;
    p.t = tk;
    const std::string ts = format_iso8601(tk);
    size_t online = 0;
    std::string body;
    size_t in_body = 0;
    auto flush = [&] {
      body += "]}";
      p.bodies.push_back(std::move(body));
      p.counts.push_back(in_body);
      body.clear();
      in_body = 0;
    };
    for (int i : fleet.by_name()) {
      if (!records[i].online) continue;
      ++online;
      if (in_body == 0) body = "{\"records\":[";
      else body += ',';
      append_json_record(body, ts, fleet[i], records[i]);
      if (++in_body == opts_.batch_size) flush();
    }
    if (in_body > 0) flush();
    control_.advance(k, online);
    step_.store(k);
    generated_ = k + 1;
    if (!p.bodies.empty()) {
      std::lock_guard lock(mu_);
      queue_.push_back(std::move(p));
    }
    cv_.notify_all();
    if (Clock::now() - last_progress >= std::chrono::minutes(1)) {
      last_progress = Clock::now();
      size_t backlog;
      {
        std::lock_guard lock(mu_);
        backlog = queue_.size();
      }
      spdlog::info("stream: step {} ({}), {} records sent, backlog {} steps, {} retries", k, ts,
                   records_sent_.load(), backlog, post_retries_.load());
    }
  }
}

ControlReply Streamer::health() {
  size_t backlog;
  {
    std::lock_guard lock(mu_);
    backlog = queue_.size();
  }
  const bool failing = consecutive_failures_.load() >= 3;
  const char* status = failing ? "failing" : (backlog > 1 || behind_.load()) ? "catching_up" : "ok";
  const int64_t step = std::max<int64_t>(0, step_.load());
  nlohmann::json last;
  {
    std::lock_guard lock(last_mu_);
    last = {{"at", last_at_ ? nlohmann::json(format_iso8601(last_at_)) : nlohmann::json(nullptr)},
            {"http_status", last_status_ ? nlohmann::json(last_status_) : nlohmann::json(nullptr)},
            {"error", last_error_.empty() ? nlohmann::json(nullptr) : nlohmann::json(last_error_)}};
  }
  return {failing ? 503 : 200,
          nlohmann::json{{"status", status},
                         {"mode", "stream"},
                         {"seed", engine_.config().seed},
                         {"step_seconds", engine_.config().step_s},
                         {"speed", opts_.speed},
                         {"step", step},
                         {"sim_time", format_iso8601(engine_.time_of(step))},
                         {"fleet_size", engine_.size()},
                         {"backlog_steps", backlog},
                         {"records_sent", records_sent_.load()},
                         {"records_rejected", records_rejected_.load()},
                         {"duplicates", duplicates_.load()},
                         {"post_retries", post_retries_.load()},
                         {"last_post", last}}};
}

int Streamer::run() {
  if (!client_.is_valid()) throw UsageError(fmt::format("--url {} is not supported by this build", opts_.url));
  client_.set_tcp_nodelay(true);
  client_.set_keep_alive(true);
  const auto to = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::duration<double>(opts_.timeout_s));
  client_.set_connection_timeout(to);
  client_.set_read_timeout(to);
  client_.set_write_timeout(to);

  control_.set_initial(*scenario_from_name(opts_.scenario));
  std::unique_ptr<ControlApi> api;
  if (opts_.control_port != 0) {
    api = std::make_unique<ControlApi>(control_, opts_.control_key, [this] { return health(); });
    try {
      const int port = api->start(opts_.control_host, opts_.control_port);
      spdlog::info("control API on {}:{}", opts_.control_host, port);
      if (opts_.on_control_port) opts_.on_control_port(port);
    } catch (const std::exception& e) {
      spdlog::error("{}", e.what());
      return kExitIo;
    }
  }
  spdlog::info("streaming {} servers from {} every {} s{} to {}", engine_.size(), format_iso8601(engine_.config().start),
               engine_.config().step_s, opts_.speed > 0 ? fmt::format(" at {} steps/s", opts_.speed) : "", opts_.url);

  std::thread send([this] { sender(); });
  generator();
  {
    std::lock_guard lock(mu_);
    generation_done_ = true;
    if (stop_requested()) {
      drain_deadline_ = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                           std::chrono::duration<double>(opts_.drain_timeout_s));
      draining_.store(true);
    }
  }
  cv_.notify_all();
  // A stop during a --steps run's final drain still bounds it by the drain timeout.
  while (!draining_.load()) {
    {
      std::lock_guard lock(mu_);
      if (queue_.empty() || fatal_.load()) break;
    }
    if (stop_requested()) {
      std::lock_guard lock(mu_);
      drain_deadline_ = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                           std::chrono::duration<double>(opts_.drain_timeout_s));
      draining_.store(true);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  send.join();
  if (api) api->stop();

  if (!opts_.incidents.empty()) {
    auto rows = engine_.incident_rows(std::max<int64_t>(0, generated_ - 1));
    control_.incident_rows(rows);
    sort_incidents(rows);
    std::string out = std::string(kIncidentsHeader) + "\n";
    for (const auto& r : rows) append_incident_row(out, r);
    FILE* f = std::fopen(opts_.incidents.c_str(), "wb");
    if (!f || std::fwrite(out.data(), 1, out.size(), f) != out.size()) {
      if (f) std::fclose(f);
      spdlog::error("cannot write {}", opts_.incidents);
      if (!fatal_.load()) return kExitIo;
    } else {
      std::fclose(f);
    }
  }
  if (opts_.on_finish) opts_.on_finish(health().body);
  if (fatal_.load()) return fatal_.load();
  std::lock_guard lock(mu_);
  spdlog::info("stream: {} steps generated, {} records sent, {} rejected, {} duplicates, {} retries", generated_,
               records_sent_.load(), records_rejected_.load(), duplicates_.load(), post_retries_.load());
  if (!queue_.empty()) {
    spdlog::error("shut down with {} undelivered steps ({} .. {})", queue_.size(), format_iso8601(queue_.front().t),
                  format_iso8601(queue_.back().t));
    return kExitUndelivered;
  }
  return kExitOk;
}

}  // namespace

void install_stream_signal_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

int run_stream(const SimConfig& cfg, const FleetCounts& counts, const StreamOptions& opts) {
  Streamer s(cfg, counts, opts);
  return s.run();
}

}  // namespace nordiq::sim
