// POST /feed/data latency: 1 000 posts of 500 records (500 servers, one record each, 5 s apart,
// so steps close every 60 posts as in production) over one keep-alive connection to a real
// daemon; prints p50/p90/p99/max, the sustained records/s and, for comparison, the in-process
// parse time of the same body. Not a test: numbers depend on the machine (printed first).
//
//   feed_bench                          start build/src/nordiq on a free port with a temp data dir
//   feed_bench --binary PATH            start that binary
//   feed_bench --connect 127.0.0.1:8000 --key KEY   measure a running daemon
//   options: --posts N (1000) --records N (500) --sync normal|full
#include <httplib.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "bench/bench_http.hpp"
#include "core/metrics.hpp"
#include "core/time.hpp"
#include "ingest/feed_parser.hpp"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "unknown CPU";
}

std::string body_for(int post, int records, nordiq::EpochMs t0) {
  std::string out;
  out.reserve(static_cast<size_t>(records) * 420);
  out += R"({"records":[)";
  const std::string ts = nordiq::format_iso8601(t0 + int64_t{post} * 5'000);
  for (int s = 0; s < records; ++s) {
    if (s) out += ',';
    out += fmt::format(R"({{"timestamp":"{}","server_name":"ppweb{:04}","status":"healthy")", ts, s);
    for (int k = 0; k < nordiq::kNumMetrics; ++k) {
      const double v = nordiq::kMetrics[k].integer ? (post + s + k) % 50 : ((post * 31 + s * 7 + k * 13) % 1000) / 10.0;
      out += fmt::format(R"(,"{}":{})", nordiq::kMetrics[k].name, v);
    }
    out += '}';
  }
  return out + "]}";
}

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p / 100.0 * (v.size() - 1) + 0.5));
  return v[i];
}

}  // namespace

int main(int argc, char** argv) {
  std::string binary = (fs::path(argv[0]).parent_path() / ".." / "src" / "nordiq").string();
  std::string connect, key = "feed-bench-key", sync = "normal";
  int posts = 1000, records = 500;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i], v = argv[i + 1];
    if (a == "--binary") binary = v;
    else if (a == "--connect") connect = v;
    else if (a == "--key") key = v;
    else if (a == "--posts") posts = std::stoi(v);
    else if (a == "--records") records = std::stoi(v);
    else if (a == "--sync") sync = v;
    else { std::fprintf(stderr, "unknown option %s\n", a.c_str()); return 2; }
  }

  std::string host = "127.0.0.1";
  int port = 0;
  pid_t child = -1;
  fs::path data_dir;
  if (connect.empty()) {
    data_dir = fs::temp_directory_path() / fmt::format("nordiq-feed-bench-{}", ::getpid());
    fs::create_directories(data_dir);
    port = nordiq::bench::free_loopback_port();
    child = ::fork();
    if (child == 0) {
      const std::string log = (data_dir / "daemon.log").string();
      const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      ::setenv("NORDIQ_API_KEY", key.c_str(), 1);
      const std::string p = std::to_string(port), d = (data_dir / "data").string();
      ::execl(binary.c_str(), binary.c_str(), "serve", "--port", p.c_str(), "--data-dir", d.c_str(),
              "--sync", sync.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
  } else {
    host = connect.substr(0, connect.find(':'));
    port = std::stoi(connect.substr(connect.find(':') + 1));
  }

  httplib::Client client(host, port);
  client.set_tcp_nodelay(true);
  client.set_keep_alive(true);
  client.set_default_headers({{"X-API-Key", key}});
  client.set_read_timeout(30, 0);
  for (int i = 0; i < 3000; ++i) {
    if (auto r = client.Get("/health"); r && r->status == 200) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }

  const int warmup = 50;
  const nordiq::EpochMs t0 = (nordiq::now_ms() / 300'000) * 300'000 - int64_t{posts + warmup + 60} * 5'000;
  std::vector<std::string> bodies;
  for (int p = 0; p < posts + warmup; ++p) bodies.push_back(body_for(p, records, t0));

  std::printf("feed_bench: %d posts x %d records (%.0f KB per body) after %d warm-up posts\n", posts,
              records, bodies[0].size() / 1024.0, warmup);
  std::printf("machine: %s, %u hardware threads; daemon: %s, sync=%s, one keep-alive connection\n",
              cpu_model().c_str(), std::thread::hardware_concurrency(),
              connect.empty() ? binary.c_str() : connect.c_str(), sync.c_str());

  std::vector<double> ms;
  ms.reserve(posts);
  size_t accepted = 0;
  const auto start = Clock::now();
  for (int p = 0; p < posts + warmup; ++p) {
    const auto a = Clock::now();
    auto res = client.Post("/feed/data", bodies[p], "application/json");
    const auto b = Clock::now();
    if (!res || res->status != 200) {
      std::fprintf(stderr, "post %d failed: %s\n", p, res ? res->body.substr(0, 300).c_str() : "no response");
      if (child > 0) ::kill(child, SIGKILL);
      return 1;
    }
    if (p >= warmup) {
      ms.push_back(std::chrono::duration<double, std::milli>(b - a).count());
      accepted += static_cast<size_t>(records);
    }
  }
  const double total_s = std::chrono::duration<double>(Clock::now() - start).count();
  double sum = 0;
  for (double v : ms) sum += v;
  std::printf("POST /feed/data: p50 %.3f ms  p90 %.3f ms  p99 %.3f ms  max %.3f ms  mean %.3f ms\n",
              percentile(ms, 50), percentile(ms, 90), percentile(ms, 99), percentile(ms, 100), sum / ms.size());
  std::printf("sustained (serial, one connection): %.0f records/s, %.0f posts/s\n",
              accepted / (total_s * posts / (posts + warmup)), ms.size() / (sum / 1000.0));

  // In-process parse + validate of one body, for the breakdown.
  nordiq::FeedParser parser;
  nordiq::FeedBatch batch;
  std::vector<double> parse_us;
  for (int i = 0; i < 200; ++i) {
    const auto a = Clock::now();
    parser.parse(bodies[i % bodies.size()], nordiq::now_ms(), batch);
    parse_us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - a).count());
  }
  std::printf("in-process parse+validate of one body: p50 %.0f us (%zu records)\n", percentile(parse_us, 50),
              batch.records.size());

  if (child > 0) {
    ::kill(child, SIGTERM);
    int status = 0;
    ::waitpid(child, &status, 0);
    std::error_code ec;
    fs::remove_all(data_dir, ec);
  }
  return 0;
}
