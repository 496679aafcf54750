// The Prometheus ecosystem end to end, with the real programs on loopback (issue 15):
// node_exporter → Prometheus with deploy/prometheus/nordiq_rules.yml → remote_write → NordIQ;
// NordIQ → Alertmanager; Prometheus scrapes NordIQ's /metrics. Short intervals: 5 s scrapes and
// rule evaluations, a 1 s remote_write batch deadline, 5 s NordIQ steps.
#include <gtest/gtest.h>
#include <sys/statvfs.h>

#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "e2e/daemon.hpp"
#include "e2e/external_process.hpp"

namespace nordiq::e2e {
namespace {

constexpr const char* kKey = "nq_prometheus_e2e_key";
const fs::path kDeploy = fs::path(NORDIQ_SOURCE_DIR) / "deploy" / "prometheus";

// Host CPU idle share (0-100) between two reads of /proc/stat's "cpu" line.
struct CpuTimes {
  uint64_t idle = 0, total = 0;
};
CpuTimes read_cpu_times() {
  std::ifstream in("/proc/stat");
  std::string cpu;
  in >> cpu;
  CpuTimes t;
  for (int i = 0; i < 10; ++i) {
    uint64_t v = 0;
    in >> v;
    if (i < 8) t.total += v;  // guest times are already inside user/nice
    if (i == 3) t.idle = v;
  }
  return t;
}

// The lowest and highest idle share over the windows between reads at least `min_reads` apart:
// the span of what a rate() over some window inside the test's span can have seen.
std::pair<double, double> idle_range(const std::vector<CpuTimes>& reads, size_t min_reads) {
  double lo = 100, hi = 0;
  for (size_t i = 0; i < reads.size(); ++i)
    for (size_t j = i + min_reads; j < reads.size(); ++j) {
      const double total = static_cast<double>(reads[j].total - reads[i].total);
      if (total <= 0) continue;
      const double idle = 100.0 * static_cast<double>(reads[j].idle - reads[i].idle) / total;
      lo = std::min(lo, idle);
      hi = std::max(hi, idle);
    }
  return {lo, hi};
}

double meminfo_used_pct() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  double value = 0, total = 0, available = 0;
  std::string unit;
  while (in >> key >> value >> unit) {
    if (key == "MemTotal:") total = value;
    if (key == "MemAvailable:") available = value;
  }
  return 100.0 * (1.0 - available / total);
}

// df's Use% of "/": used / (used + available to users).
double root_disk_used_pct() {
  struct statvfs s{};
  ::statvfs("/", &s);
  const double used = static_cast<double>(s.f_blocks - s.f_bfree);
  return 100.0 * used / (used + static_cast<double>(s.f_bavail));
}

void write_file(const fs::path& p, const std::string& text) { std::ofstream(p) << text; }

std::string prometheus_config(int node_port, int nordiq_port, const fs::path& key_file) {
  return "global:\n  scrape_interval: 5s\n  evaluation_interval: 5s\n"
         "rule_files:\n  - " + (kDeploy / "nordiq_rules.yml").string() + "\n"
         "scrape_configs:\n"
         "  - job_name: node\n    static_configs: [{targets: ['127.0.0.1:" + std::to_string(node_port) + "']}]\n"
         "  - job_name: nordiq\n    authorization: {credentials_file: " + key_file.string() + "}\n"
         "    static_configs: [{targets: ['127.0.0.1:" + std::to_string(nordiq_port) + "']}]\n"
         "remote_write:\n"
         "  - url: http://127.0.0.1:" + std::to_string(nordiq_port) + "/api/v1/write\n"
         "    authorization: {credentials_file: " + key_file.string() + "}\n"
         "    write_relabel_configs: [{source_labels: [__name__], regex: 'nordiq:.*', action: keep}]\n"
         "    queue_config: {batch_send_deadline: 1s, max_shards: 1, min_backoff: 100ms, max_backoff: 1s}\n";
}

// Alerts: memory over 1 % counts as over its threshold, and opens at once: a forced alert.
constexpr const char* kForcedAlerts = R"({
  "rules": {"min_history_steps": 0, "open_after_minutes": 0, "measured_open_after_minutes": 0, "resolve_after_minutes": 0},
  "thresholds": {"default": {"memory": 1}}
})";

// GET path → its JSON body; null (and a note on stderr) when there is none.
nlohmann::json get_json(httplib::Client& c, const std::string& path) {
  auto res = c.Get(path);
  if (!res || res->status != 200) {
    std::cerr << "GET " << path << ": " << (res ? std::to_string(res->status) + " " + res->body : httplib::to_string(res.error()))
              << "\n";
    return nlohmann::json();
  }
  return nlohmann::json::parse(res->body, nullptr, false);
}

class PrometheusE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    const fs::path key_file = dir.path / "api_key";
    write_file(key_file, std::string(kKey) + "\n");
    write_file(dir.path / "alerts.json", kForcedAlerts);

    ListeningProcess started = start_listening(
        [&](int port) {
          return std::vector<std::string>{"prometheus-alertmanager", "--config.file=" + (kDeploy / "alertmanager.yml").string(),
                                          "--storage.path=" + (dir.path / "am").string(),
                                          "--web.listen-address=127.0.0.1:" + std::to_string(port),
                                          "--cluster.listen-address="};
        },
        dir.path / "alertmanager.log");
    alertmanager = std::move(started.process);
    const int am_port = started.port;
    am = std::make_unique<httplib::Client>("127.0.0.1", am_port);

    daemon = std::make_unique<Daemon>(dir.path / "data",
                                      std::vector<std::string>{"--step-seconds", "5", "--api-key-file", key_file.string(),
                                                               "--alerts-config", (dir.path / "alerts.json").string(),
                                                               "--alertmanager-url", "http://127.0.0.1:" + std::to_string(am_port)});
    daemon->start();

    started = start_listening(
        [](int port) {
          return std::vector<std::string>{"prometheus-node-exporter",
                                          "--web.listen-address=127.0.0.1:" + std::to_string(port), "--collector.tcpstat"};
        },
        dir.path / "node_exporter.log");
    node_exporter = std::move(started.process);
    const int node_port = started.port;

    write_file(dir.path / "prometheus.yml", prometheus_config(node_port, daemon->port(), key_file));
    started = start_listening(
        [&](int port) {
          return std::vector<std::string>{"prometheus", "--config.file=" + (dir.path / "prometheus.yml").string(),
                                          "--storage.tsdb.path=" + (dir.path / "prom").string(),
                                          "--web.listen-address=127.0.0.1:" + std::to_string(port)};
        },
        dir.path / "prometheus.log");
    prometheus = std::move(started.process);
    prom = std::make_unique<httplib::Client>("127.0.0.1", started.port);
  }

  void TearDown() override {
    if (HasFailure())
      for (const ExternalProcess* p : {prometheus.get(), node_exporter.get(), alertmanager.get()})
        if (p) std::cerr << "---- " << p->program() << " log (tail) ----\n" << tail(read_file(p->log())) << "\n";
    if (HasFailure() && daemon) std::cerr << "---- nordiq log (tail) ----\n" << tail(daemon->log()) << "\n";
    prometheus.reset();
    node_exporter.reset();
    alertmanager.reset();
    if (daemon) daemon->stop();
  }
  static std::string tail(const std::string& s) { return s.size() > 4000 ? s.substr(s.size() - 4000) : s; }

  TempDir dir;
  std::unique_ptr<ExternalProcess> alertmanager, node_exporter, prometheus;
  std::unique_ptr<Daemon> daemon;
  std::unique_ptr<httplib::Client> am, prom;
};

TEST_F(PrometheusE2E, NodeExporterHostIsForecastAlertedInAlertmanagerAndScraped) {
  std::vector<CpuTimes> cpu_reads = {read_cpu_times()};  // one a second while waiting
  const std::string host = "127.0.0.1";  // instance 127.0.0.1:<port> without its port

  // 1. The host reaches /predictions/current through rules and remote_write. Prometheus replays
  //    its WAL and needs two rule evaluations for rates before the first send: allow 90 s.
  nlohmann::json server;
  const bool forecast = eventually(std::chrono::seconds(90), [&] {
    cpu_reads.push_back(read_cpu_times());
    auto client = daemon->client(kKey);
    const nlohmann::json body = get_json(client, "/predictions/current");
    if (!body.is_object() || !body.contains("predictions") || !body["predictions"].contains(host)) return false;
    server = body["predictions"][host];
    // Rates (CPU, network) need two scrapes in the rules' window: wait for a step that has them.
    const nlohmann::json& c = server["current"];
    return c.is_object() && c.value("cpu_user_pct", 0.0) + c.value("cpu_sys_pct", 0.0) > 0;
  }, std::chrono::seconds(1));
  ASSERT_TRUE(forecast) << "the node_exporter host never appeared in /predictions/current with CPU values: "
                        << server.dump();
  cpu_reads.push_back(read_cpu_times());
  const double proc_idle = idle_range(cpu_reads, cpu_reads.size() - 1).first;  // the whole span
  // The rules' rate() covers some window of ≥ 2 scrapes (5 s apart) inside the span; under a
  // parallel test run the host's idle swings between windows, so the value is checked against
  // the range of every such window, not the whole span's mean.
  const auto [idle_lo, idle_hi] = idle_range(cpu_reads, std::min<size_t>(5, cpu_reads.size() - 1));

  nlohmann::json current = server["current"];  // a copy: a missing key is a failure, not UB
  std::cout << "nordiq current values of host " << host << " (from node_exporter via Prometheus):\n"
            << current.dump(2) << "\n/proc/stat idle over the same span: " << proc_idle
            << " (windows of ≥ 5 s: " << idle_lo << "–" << idle_hi << ")"
            << "\n/proc/meminfo used: " << meminfo_used_pct() << "\nstatvfs(/) used: " << root_disk_used_pct() << "\n";
  EXPECT_GE(current["cpu_idle_pct"].get<double>(), idle_lo - 10.0) << "CPU idle as /proc/stat says, within noise";
  EXPECT_LE(current["cpu_idle_pct"].get<double>(), idle_hi + 10.0) << "CPU idle as /proc/stat says, within noise";
  EXPECT_NEAR(current["mem_used_pct"].get<double>(), meminfo_used_pct(), 10.0);
  EXPECT_NEAR(current["disk_usage_pct"].get<double>(), root_disk_used_pct(), 2.0);
  const double cpu_sum = current["cpu_user_pct"].get<double>() + current["cpu_sys_pct"].get<double>() +
                         current["cpu_iowait_pct"].get<double>() + current["cpu_idle_pct"].get<double>();
  EXPECT_NEAR(cpu_sum, 100.0, 5.0) << "the four CPU modes cover the host's time (steal aside)";
  std::ifstream uptime_in("/proc/uptime");
  double uptime_s = 0;
  uptime_in >> uptime_s;
  EXPECT_NEAR(current["uptime_days"].get<double>(), uptime_s / 86400.0, 0.01);
  EXPECT_GT(current["load_average"].get<double>(), 0.0);
  EXPECT_EQ(current["java_cpu_pct"].get<double>(), 0.0) << "no process-exporter: unknown, 0";

  // 2. The forced alert (memory over 1 %) reaches Alertmanager with NordIQ's labels.
  nlohmann::json alert;
  const bool alerted = eventually(std::chrono::seconds(60), [&] {
    for (nlohmann::json a : get_json(*am, "/api/v2/alerts"))
      if (a["labels"].value("server", "") == host && a["labels"].value("metric", "") == "mem_used_pct") alert = a;
    return alert.is_object();
  });
  ASSERT_TRUE(alerted) << "no NordIQ alert in Alertmanager's /api/v2/alerts";
  std::cout << "Alertmanager GET /api/v2/alerts, NordIQ's alert:\n" << alert.dump(2) << "\n";
  EXPECT_EQ(alert["labels"]["alertname"], "NordIQForecast");
  EXPECT_EQ(alert["labels"]["profile"], "generic");
  EXPECT_FALSE(alert["labels"].value("severity", "").empty());
  EXPECT_NE(alert["annotations"].value("message", "").find("memory"), std::string::npos);
  EXPECT_EQ(alert["annotations"]["eta_range"], "now");
  EXPECT_EQ(alert["annotations"]["probability"], "1.00");
  EXPECT_EQ(alert["generatorURL"], "http://127.0.0.1:" + std::to_string(daemon->port()) + "/#/server/127.0.0.1");
  EXPECT_EQ(alert["status"]["state"], "active");

  // 3. Prometheus scrapes NordIQ's /metrics without errors, and remote_write failed nothing.
  nlohmann::json target, targets;
  const bool scraped = eventually(std::chrono::seconds(30), [&] {
    targets = get_json(*prom, "/api/v1/targets");
    for (nlohmann::json t : targets["data"]["activeTargets"])
      if (t["labels"].value("job", "") == "nordiq") target = t;
    return target.is_object() && target.value("health", "") == "up";
  });
  ASSERT_TRUE(scraped) << "nordiq target: " << target.dump() << "\nall targets: " << targets.dump();
  EXPECT_EQ(target.value("lastError", "?"), "");
  // Prometheus' own counters (it does not scrape itself here): remote_write sent samples, failed none.
  auto prom_metrics = prom->Get("/metrics");
  ASSERT_TRUE(prom_metrics);
  auto counter = [&](const std::string& name) {
    const size_t at = prom_metrics->body.find("\n" + name + "{");
    if (at == std::string::npos) return -1.0;
    const size_t end = prom_metrics->body.find('\n', at + 1);
    const std::string line = prom_metrics->body.substr(at + 1, end - at - 1);
    return std::stod(line.substr(line.rfind(' ') + 1));
  };
  const double sent = counter("prometheus_remote_storage_samples_total");
  const double failed = counter("prometheus_remote_storage_samples_failed_total");
  std::cout << "Prometheus remote_write: samples sent " << sent << ", failed " << failed << "\n";
  EXPECT_GT(sent, 0);
  EXPECT_EQ(failed, 0);
  nlohmann::json risk = get_json(*prom, "/api/v1/query?query=nordiq_risk_score");
  ASSERT_TRUE(risk.is_object());
  EXPECT_FALSE(risk["data"]["result"].empty()) << "NordIQ's own gauges are in Prometheus: " << risk.dump();
  std::cout << "Prometheus target nordiq: health=" << target.value("health", "") << " lastError=\""
            << target.value("lastError", "") << "\"; nordiq_risk_score in Prometheus: " << risk["data"]["result"].dump()
            << "\n";

  // NordIQ's own account: records came in over remote_write, nothing rejected.
  auto res = daemon->client(kKey).Get("/metrics");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->body.find("nordiq_remote_write_samples_total{outcome=\"rejected\"} 0") != std::string::npos, true);
  EXPECT_NE(res->body.find("nordiq_alertmanager_posts_total{result=\"ok\"}"), std::string::npos);
  // Grafana's gauges: memory is over its (forced) threshold now on every path.
  EXPECT_NE(res->body.find("nordiq_time_to_threshold_seconds{server=\"127.0.0.1\",metric=\"mem_used_pct\",quantile=\"0.9\"} 0\n"),
            std::string::npos);
}

}  // namespace
}  // namespace nordiq::e2e
