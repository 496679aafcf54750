#include "bench/bench_http.hpp"

#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/metrics.hpp"
#include "bench/get_reader.hpp"
#include "core/time.hpp"

namespace nordiq::bench {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

// `nordiq serve` (this very binary) on a free port; killed with SIGTERM by the destructor.
class Daemon {
 public:
  Daemon(const fs::path& data_dir, const fs::path& models_dir) : port_(free_loopback_port()) {
    const std::string self = fs::read_symlink("/proc/self/exe").string();
    const std::string port = std::to_string(port_), log = (data_dir.parent_path() / "daemon.log").string();
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("bench: fork failed");
    if (pid_ == 0) {
      if (FILE* f = std::freopen(log.c_str(), "w", stdout)) (void)f;
      ::dup2(1, 2);
      ::execl(self.c_str(), self.c_str(), "serve", "--port", port.c_str(), "--data-dir", data_dir.c_str(), "--models-dir",
              models_dir.c_str(), "--no-auth", "--rate-feed", "0", "--rate-read", "0", "--retention-days", "3650", nullptr);
      ::_exit(127);
    }
    for (int i = 0; i < 600; ++i) {
      httplib::Client c("127.0.0.1", port_);
      if (auto r = c.Get("/health"); r && r->status == 200) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    throw std::runtime_error("bench: the daemon did not become healthy; see " + log);
  }
  ~Daemon() {
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
  int port() const { return port_; }

 private:
  int port_;
  pid_t pid_ = -1;
};

Latency summarize(std::vector<double> ms, double seconds, double units) {
  std::sort(ms.begin(), ms.end());
  Latency l;
  l.requests = static_cast<int>(ms.size());
  l.p50_ms = ms[ms.size() / 2];
  l.p99_ms = ms[std::min(ms.size() - 1, ms.size() * 99 / 100)];
  l.per_s = units / seconds;
  return l;
}

// 500 records, one per server, `post` · 5 s after `t0` (a step closes every 60 posts, as live).
std::string feed_body(const std::vector<std::string>& names, EpochMs t) {
  std::string body = R"({"records":[)";
  for (size_t i = 0; i < names.size(); ++i)
    body += fmt::format(
        R"({}{{"timestamp":"{}","server_name":"{}","status":"healthy","cpu_user_pct":{},"cpu_sys_pct":5,"cpu_iowait_pct":2,)"
        R"("cpu_idle_pct":{},"java_cpu_pct":10,"mem_used_pct":61.5,"swap_used_pct":1,"disk_usage_pct":50,"net_in_mb_s":3,)"
        R"("net_out_mb_s":2,"back_close_wait":2,"front_close_wait":1,"load_average":2,"uptime_days":30}})",
        i ? "," : "", format_iso8601(t), names[i], 20 + double(i % 10), 73 - double(i % 10));
  return body + "]}";
}

}  // namespace

namespace {

Latency measure_feed(httplib::Client& c, const std::vector<std::string>& names, EpochMs from, int posts) {
  std::vector<std::string> bodies;  // built before the clock starts
  for (int i = 0; i < posts; ++i) bodies.push_back(feed_body(names, from + int64_t{i} * 5'000));
  std::vector<double> ms;
  const auto t0 = Clock::now();
  for (const std::string& b : bodies) {
    const auto s = Clock::now();
    auto r = c.Post("/feed/data", b, "application/json");
    if (!r || r->status != 200) throw std::runtime_error("bench: POST /feed/data failed");
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - s).count());
  }
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  return summarize(ms, secs, double(posts) * double(names.size()));
}

// One GET /predictions/current by a reader: how long it took and what came back.
struct Reading {
  double ms = 0;
  int status = 0;
  std::string etag;
};

using HeaderList = std::vector<std::pair<std::string, std::string>>;

// `clients` keep-alive readers, each on its own thread, GETting /predictions/current while
// `more(its readings so far)` says so, with the headers `headers_for(the ETag it holds)` gives,
// at most one request per `pace`. The readings of every reader, in no particular order.
std::vector<Reading> read_concurrently(int port, int clients, std::chrono::milliseconds pace,
                                       const std::function<bool(size_t)>& more,
                                       const std::function<HeaderList(const std::string&)>& headers_for) {
  std::vector<std::vector<Reading>> per(static_cast<size_t>(clients));
  std::vector<std::thread> pool;
  for (int k = 0; k < clients; ++k)
    pool.emplace_back([&, k] {
      GetReader reader(port);
      std::vector<Reading>& mine = per[size_t(k)];
      std::string etag;
      while (more(mine.size())) {
        const auto s = Clock::now();
        const GetReader::Answer a = reader.get("/predictions/current", headers_for(etag));
        if ((a.status == 200 && a.bytes > 0) || a.status == 304) {
          etag = a.etag;
          mine.push_back({std::chrono::duration<double, std::milli>(Clock::now() - s).count(), a.status, etag});
        }
        std::this_thread::sleep_until(s + pace);
      }
    });
  for (auto& t : pool) t.join();
  std::vector<Reading> all;
  for (auto& v : per) all.insert(all.end(), v.begin(), v.end());
  if (all.empty()) throw std::runtime_error("bench: every GET /predictions/current failed");
  return all;
}

Latency summarize_readings(const std::vector<Reading>& readings, double seconds) {
  std::vector<double> ms;
  for (const Reading& r : readings) ms.push_back(r.ms);
  return summarize(ms, seconds, double(readings.size()));
}

// `clients` concurrent keep-alive clients, `requests` each. Revalidating clients poll as a cache
// does: each sends back the ETag it holds (If-None-Match) and gets a 304, or the new body and tag.
Latency measure_predictions(int port, int requests, int clients, bool revalidate = false) {
  const auto t0 = Clock::now();
  const auto readings = read_concurrently(
      port, clients, std::chrono::milliseconds(0), [&](size_t done) { return done < size_t(requests); },
      [&](const std::string& etag) {
        return revalidate && !etag.empty() ? HeaderList{{"If-None-Match", etag}} : HeaderList{};
      });
  Latency l = summarize_readings(readings, std::chrono::duration<double>(Clock::now() - t0).count());
  l.not_modified_share =
      double(std::count_if(readings.begin(), readings.end(), [](const Reading& r) { return r.status == 304; })) /
      double(readings.size());
  return l;
}

// `clients` keep-alive readers polling GET /predictions/current (each every 200 ms) while a
// collector posts 500 records every second, each post opening a new step: every post starts a
// forecast cycle, so the readers cross the cycles' publishes, as a dashboard does while its
// collectors report. The readers go on until the last post's cycle has had time to publish.
// With `gzip`, the readers ask for gzip and time the compressed body to its last byte (inflating it
// is the reader's own work, not the daemon's).
Latency measure_predictions_across_cycles(int port, httplib::Client& feeder, const std::vector<std::string>& names,
                                          EpochMs first_step, int posts, int clients, bool gzip) {
  constexpr auto kPostEvery = std::chrono::milliseconds(1'000);
  // Readers poll, not spin: four in a loop on these two cores would leave the cycle (nice 10) no CPU.
  constexpr auto kPollEvery = std::chrono::milliseconds(200);
  std::vector<std::string> bodies;  // built before the clock starts
  for (int i = 0; i < posts; ++i) bodies.push_back(feed_body(names, first_step + int64_t{i} * 300'000));
  std::atomic<bool> stop{false}, posted{true};
  const auto t0 = Clock::now();
  std::thread collector([&] {
    for (const std::string& b : bodies) {
      const auto next = Clock::now() + kPostEvery;
      auto r = feeder.Post("/feed/data", b, "application/json");
      posted = posted && r && r->status == 200;
      std::this_thread::sleep_until(next);
    }
    std::this_thread::sleep_for(2 * kPostEvery);
    stop = true;
  });
  const HeaderList headers = gzip ? HeaderList{{"Accept-Encoding", "gzip"}} : HeaderList{};
  const auto readings = read_concurrently(
      port, clients, kPollEvery, [&](size_t) { return !stop.load(); }, [&](const std::string&) { return headers; });
  collector.join();
  if (!posted) throw std::runtime_error("bench: POST /feed/data failed");
  std::vector<std::string> seen;
  for (const Reading& r : readings) seen.push_back(r.etag);
  std::sort(seen.begin(), seen.end());
  Latency l = summarize_readings(readings, std::chrono::duration<double>(Clock::now() - t0).count());
  l.bodies_seen = static_cast<int>(std::unique(seen.begin(), seen.end()) - seen.begin());
  return l;
}

// Readers across cycles, plain, then the first gzip request since the daemon started (compressed
// for it, then ahead) and gzip readers across cycles. Posts from the step at or after
// `next_free`; returns the next step free to post.
EpochMs measure_across_cycles(int port, httplib::Client& c, const std::vector<std::string>& names, EpochMs next_free,
                              const HttpPlan& plan, HttpResults& out) {
  next_free = (next_free / 300'000 + 1) * 300'000;
  for (bool gzip : {false, true}) {
    if (gzip) {
      GetReader g(port);
      const auto started = Clock::now();
      if (const auto a = g.get("/predictions/current", {{"Accept-Encoding", "gzip"}}); a.status != 200 || !a.bytes)
        throw std::runtime_error("bench: GET /predictions/current (gzip) failed");
      out.predictions_500_first_gzip_ms = std::chrono::duration<double, std::milli>(Clock::now() - started).count();
    }
    (gzip ? out.predictions_500_gzip_across_cycles : out.predictions_500_across_cycles) =
        measure_predictions_across_cycles(port, c, names, next_free, plan.cycle_posts, plan.clients, gzip);
    next_free += int64_t{plan.cycle_posts} * 300'000;
  }
  return next_free;
}

std::string job_phase(httplib::Client& c) {
  auto r = c.Get("/admin/training-status");
  if (!r || r->status != 200) return "unknown";
  const auto j = nlohmann::json::parse(r->body);
  return j["state"] == "running" ? j["job"]["phase"].get<std::string>() : j["state"].get<std::string>();
}

}  // namespace

int free_loopback_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

HttpResults measure_http(const fs::path& data_dir, const fs::path& models_dir, const HttpPlan& plan) {
  Daemon daemon(data_dir, models_dir);
  httplib::Client c("127.0.0.1", daemon.port());
  c.set_read_timeout(60, 0);
  const auto first = c.Get("/predictions/current?metrics=cpu_idle_pct&quantiles=p50");
  if (!first || first->status != 200) throw std::runtime_error("bench: GET /predictions/current failed");
  const auto preds = nlohmann::json::parse(first->body)["predictions"];
  std::vector<std::string> names;
  EpochMs last = 0;
  for (const auto& [name, p] : preds.items()) {
    names.push_back(name);
    last = std::max(last, parse_iso8601(p["last_step"].get<std::string>()).value_or(0));
  }
  HttpResults out;
  out.clients = plan.clients;
  const EpochMs from = last + 600'000;
  out.feed_500 = measure_feed(c, names, from, plan.feed_posts);
  EpochMs next_free = from + int64_t{plan.feed_posts} * 5'000;  // the feed's next step to post
  GetReader first_reader(daemon.port());
  const auto first_started = Clock::now();
  if (const auto a = first_reader.get("/predictions/current"); a.status != 200 || !a.bytes)
    throw std::runtime_error("bench: GET /predictions/current failed");
  out.predictions_500_first_ms = std::chrono::duration<double, std::milli>(Clock::now() - first_started).count();
  out.predictions_500 = measure_predictions(daemon.port(), plan.get_requests_per_client, plan.clients);
  out.predictions_500_revalidated = measure_predictions(daemon.port(), plan.get_requests_per_client, plan.clients, true);
  next_free = measure_across_cycles(daemon.port(), c, names, next_free, plan, out);
  if (!plan.during_training) return out;
  auto r = c.Post("/admin/trigger-training", R"({"epochs": 100, "days": 3, "max_windows": 100000})", "application/json");
  if (!r || r->status != 202) throw std::runtime_error("bench: POST /admin/trigger-training failed");
  // Measure while it trains (reading the history first takes a while under SCHED_IDLE).
  for (int i = 0; i < 3000 && job_phase(c) == "reading_history"; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  out.during_training = true;
  out.feed_500_training = measure_feed(c, names, next_free, plan.feed_posts);
  out.predictions_500_training = measure_predictions(daemon.port(), plan.get_requests_per_client, plan.clients);
  out.training_phase = job_phase(c);
  c.Post("/admin/cancel-training", "", "application/json");
  return out;
}

}  // namespace nordiq::bench
