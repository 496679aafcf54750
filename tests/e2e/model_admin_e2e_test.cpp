// The model lifecycle over HTTP against the real daemon (issue #16): the registry, hot reload
// (success, a corrupt model refused while the old one keeps serving, path traversal refused, the
// choice kept across a restart), the admin role, and retraining jobs on simulator history that
// complete, are scored and promoted or kept with the reason, or are cancelled.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <chrono>
#include <thread>
#include <sstream>
#include <nlohmann/json.hpp>

#include "e2e/daemon.hpp"
#include "e2e/external_process.hpp"  // eventually()

namespace nordiq::e2e {
namespace {

using nlohmann::json;
const std::string kKey = "e2e-models-read-key";
const std::string kAdmin = "e2e-models-admin-key";
const fs::path kShippedModel = fs::path(NORDIQ_SOURCE_DIR) / "models" / "default" / "model.safetensors";

Env keys() { return {{"NORDIQ_API_KEY", kKey}, {"NORDIQ_ADMIN_KEY", kAdmin}}; }

void install_model(const fs::path& models, const std::string& name) {
  fs::create_directories(models / name);
  fs::copy_file(kShippedModel, models / name / "model.safetensors", fs::copy_options::overwrite_existing);
}

// Writes NaN over the first element of the first tensor whose name contains `part`; returns its name.
std::string poison_tensor(const fs::path& file, const std::string& part) {
  std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
  uint64_t len = 0;
  f.read(reinterpret_cast<char*>(&len), 8);
  std::string header(len, '\0');
  f.read(header.data(), static_cast<std::streamsize>(len));
  const json h = json::parse(header);
  for (const auto& [name, info] : h.items()) {
    if (name == "__metadata__" || name.find(part) == std::string::npos) continue;
    const uint64_t begin = info["data_offsets"][0].get<uint64_t>();
    const float nan = std::numeric_limits<float>::quiet_NaN();
    f.seekp(static_cast<std::streamoff>(8 + len + begin));
    f.write(reinterpret_cast<const char*>(&nan), sizeof nan);
    return name;
  }
  return "";
}

json get_ok(const Daemon& d, const std::string& path, const std::string& key = kAdmin) {
  auto res = d.client(key).Get(path);
  EXPECT_TRUE(res);
  if (!res) return json();
  EXPECT_EQ(res->status, 200) << path << ": " << res->body;
  return json::parse(res->body);
}

httplib::Result post(const Daemon& d, const std::string& path, const json& body, const std::string& key = kAdmin) {
  return d.client(key).Post(path, body.dump(), "application/json");
}

std::string served_model(const Daemon& d) { return get_ok(d, "/status", "")["model"]["name"].get<std::string>(); }

TEST(ModelReload, AReloadServesTheNewModelAndARestartKeepsIt) {
  TempDir dir;
  const fs::path models = dir.path / "models";
  install_model(models, "default");
  install_model(models, "candidate-b");
  Daemon d(dir.path / "data", {"--models-dir", models.string()}, keys());
  d.start();
  EXPECT_EQ(served_model(d), "default");
  EXPECT_TRUE(get_ok(d, "/status", "")["model"]["provenance"].contains("data_first_step"))
      << "/status shows the loaded model's provenance";

  auto res = post(d, "/admin/reload-model", {{"model", "candidate-b"}});
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  const json body = json::parse(res->body);
  EXPECT_EQ(body["model"], "candidate-b");
  EXPECT_EQ(body["previous"], "default");
  EXPECT_NE(body["accuracy_tracking"].get<std::string>().find("restarted"), std::string::npos);
  EXPECT_EQ(served_model(d), "candidate-b");

  const json info = get_ok(d, "/admin/model-info");
  EXPECT_EQ(info["name"], "candidate-b");
  EXPECT_TRUE(info["info"]["provenance"].contains("best_validation_loss")) << info.dump();
  const json registry = get_ok(d, "/admin/models");
  ASSERT_EQ(registry["models"].size(), 2u) << registry.dump();
  for (const json& m : registry["models"]) {
    EXPECT_EQ(m["current"].get<bool>(), m["name"] == "candidate-b") << m.dump();
    EXPECT_TRUE(m["validation_loss"].is_number()) << m.dump();
    EXPECT_TRUE(m["created_at"].is_string()) << m.dump();
  }
  EXPECT_EQ(d.stop(SIGTERM), 0);
  d.start();
  EXPECT_EQ(served_model(d), "candidate-b") << "the reloaded model must survive a restart";
}

// The nice values of the daemon's threads named `name` (/proc/PID/task/TID/{comm,stat}).
std::vector<int> nice_of_threads_named(pid_t pid, const std::string& name) {
  std::vector<int> out;
  for (const auto& task : fs::directory_iterator(fs::path("/proc") / std::to_string(pid) / "task")) {
    std::string comm;
    std::getline(std::ifstream(task.path() / "comm"), comm);
    if (comm != name) continue;
    std::string stat;
    std::getline(std::ifstream(task.path() / "stat"), stat);
    std::istringstream fields(stat.substr(stat.rfind(')') + 2));  // from field 3 (state) on
    std::string field;
    for (int i = 3; i <= 19 && fields >> field; ++i)
      if (i == 19) out.push_back(std::stoi(field));  // field 19: nice
  }
  return out;
}

// Waits (no timing assertion: a deadline for a condition) until `n` threads named `name` exist.
std::vector<int> wait_for_threads_named(pid_t pid, const std::string& name, size_t n) {
  std::vector<int> nice;
  eventually(std::chrono::seconds(30), [&] { return (nice = nice_of_threads_named(pid, name)).size() == n; },
             std::chrono::milliseconds(100));
  return nice;
}

TEST(ModelReload, TheForecastCycleRunsOnTheThreadsAndAtTheNiceAskedForAlsoAfterAReload) {
  TempDir dir;
  const fs::path models = dir.path / "models";
  install_model(models, "default");
  install_model(models, "candidate-b");
  Daemon d(dir.path / "data", {"--models-dir", models.string(), "--forecast-threads", "3", "--forecast-nice", "7"},
           keys());
  d.start();
  EXPECT_EQ(get_ok(d, "/status", "")["forecast"]["threads"], 3);
  EXPECT_EQ(get_ok(d, "/status", "")["forecast"]["nice"], 7);
  // The cycle's own thread and the engine's two: 3 threads, all at nice 7; the HTTP threads at 0.
  EXPECT_EQ(wait_for_threads_named(d.pid(), "nordiq-forecast", 3), std::vector<int>(3, 7));
  const std::vector<int> others = nice_of_threads_named(d.pid(), "nordiq");  // main, HTTP, store threads
  ASSERT_FALSE(others.empty());
  EXPECT_EQ(others, std::vector<int>(others.size(), 0)) << "only the forecast cycle's threads are lowered";
  auto res = post(d, "/admin/reload-model", {{"model", "candidate-b"}});
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(get_ok(d, "/status", "")["forecast"]["threads"], 3) << "a reloaded model keeps --forecast-threads";
  EXPECT_EQ(wait_for_threads_named(d.pid(), "nordiq-forecast", 3), std::vector<int>(3, 7))
      << "a reloaded model's threads keep --forecast-nice";
}

TEST(ModelReload, ACorruptModelIsRefusedNamingTheTensorAndTheOldOneKeepsServing) {
  TempDir dir;
  const fs::path models = dir.path / "models";
  install_model(models, "default");
  install_model(models, "broken");
  const std::string tensor = poison_tensor(models / "broken" / "model.safetensors", "lstm_encoder");
  ASSERT_FALSE(tensor.empty());
  fs::create_directories(models / "truncated");
  std::ofstream(models / "truncated" / "model.safetensors") << "not a model";
  Daemon d(dir.path / "data", {"--models-dir", models.string()}, keys());
  d.start();

  auto res = post(d, "/admin/reload-model", {{"model", "broken"}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 422) << res->body;
  EXPECT_NE(res->body.find(tensor), std::string::npos) << "the error must name the bad tensor: " << res->body;
  res = post(d, "/admin/reload-model", {{"model", "truncated"}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 422) << res->body;
  EXPECT_EQ(served_model(d), "default");
  EXPECT_EQ(get_ok(d, "/status", "")["model"]["type"], "tft");

  // The registry lists the broken models with their error instead of hiding them.
  const json registry = get_ok(d, "/admin/models");
  int with_error = 0;
  for (const json& m : registry["models"]) with_error += m.contains("error");
  EXPECT_EQ(with_error, 1) << "the header of 'broken' is fine (its weights are not); 'truncated' is unreadable: "
                           << registry.dump();
}

TEST(ModelReload, NamesThatLeaveTheModelsDirAreRefused) {
  TempDir dir;
  const fs::path models = dir.path / "models";
  install_model(models, "default");
  install_model(dir.path / "outside", "m");
  fs::create_directory_symlink(dir.path / "outside" / "m", models / "escape");
  Daemon d(dir.path / "data", {"--models-dir", models.string()}, keys());
  d.start();
  for (const std::string name : {"../outside/m", "/etc", "default/../default", ".", "..", "escape"}) {
    auto res = post(d, "/admin/reload-model", {{"model", name}});
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 400) << name << ": " << res->body;
    EXPECT_NE(res->body.find("model"), std::string::npos) << res->body;
  }
  auto res = post(d, "/admin/reload-model", {{"model", "absent"}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404) << res->body;
  res = post(d, "/admin/reload-model", json::object());
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400) << res->body;
  EXPECT_EQ(served_model(d), "default");
}

TEST(ModelAdmin, TheReadKeyGets403OnEveryAdminEndpoint) {
  TempDir dir;
  Daemon d(dir.path / "data", {"--models-dir", (dir.path / "models").string()}, keys());
  d.start();
  EXPECT_EQ(d.client(kKey).Get("/admin/models")->status, 403);
  EXPECT_EQ(d.client(kKey).Get("/admin/model-info")->status, 403);
  EXPECT_EQ(d.client(kKey).Get("/admin/training-status")->status, 403);
  EXPECT_EQ(post(d, "/admin/reload-model", {{"model", "default"}}, kKey)->status, 403);
  EXPECT_EQ(post(d, "/admin/trigger-training", json::object(), kKey)->status, 403);
  EXPECT_EQ(post(d, "/admin/cancel-training", json::object(), kKey)->status, 403);
  EXPECT_EQ(get_ok(d, "/admin/training-status")["state"], "idle");
}

// Sends `request` as is on a fresh connection; returns the raw response (until the peer closes).
std::string raw_exchange(int port, const std::string& request) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return "";
  }
  timeval tv{30, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  (void)!::write(fd, request.data(), request.size());
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) out.append(buf, static_cast<size_t>(n));
  ::close(fd);
  return out;
}

// HTTP/1.1: no Content-Length and no Transfer-Encoding means no body. `curl -X POST` sends such
// requests; they used to wait out the read timeout and get 400 instead of being answered.
TEST(HttpHeaders, APostWithoutContentLengthIsAnsweredAsAnEmptyBody) {
  TempDir dir;
  Daemon d(dir.path / "data", {"--models-dir", (dir.path / "models").string()}, keys());
  d.start();
  const std::string response = raw_exchange(
      d.port(), "POST /admin/cancel-training HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: " + kAdmin +
                    "\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(response.rfind("HTTP/1.1 409", 0), 0u) << response;
  EXPECT_NE(response.find("no_training_job"), std::string::npos) << response;
}

TEST(HttpHeaders, ANegativeContentLengthIsRefusedAtOnceNamingTheHeader) {
  TempDir dir;
  Daemon d(dir.path / "data", {"--models-dir", (dir.path / "models").string()}, keys());
  d.start();
  const std::string response = raw_exchange(
      d.port(), "POST /admin/cancel-training HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: " + kAdmin +
                    "\r\nContent-Length: -5\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(response.rfind("HTTP/1.1 400", 0), 0u) << response;
  EXPECT_NE(response.find("Content-Length"), std::string::npos) << response;
}

// A store with 3 simulated days of 7 servers, written as `nordiq simulate history --out store` does.
void simulate_store(const fs::path& data) {
  const std::string cmd = std::string(NORDIQ_BINARY) + " simulate history --days 3 --servers 7 --seed 5 --out store --data-dir '" +
                          data.string() + "' --incidents '" + data.string() + ".incidents.csv' > '" + data.string() + ".sim.log' 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << read_file(data.string() + ".sim.log");
}

json wait_for_job(const Daemon& d, std::chrono::seconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  json status;
  while (std::chrono::steady_clock::now() < deadline) {
    status = get_ok(d, "/admin/training-status");
    if (status["state"] != "running") return status;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  ADD_FAILURE() << "the training job did not finish in time: " << status.dump();
  return status;
}

// A daemon over 3 simulated days with the shipped model. Status is polled (no admin rate limit);
// the job competes fairly with parallel tests instead of waiting for idle CPU.
struct Training : ::testing::Test {
  TempDir dir;
  std::unique_ptr<Daemon> daemon;
  void SetUp() override {
    const fs::path models = dir.path / "models", data = dir.path / "data";
    install_model(models, "default");
    simulate_store(data);
    daemon = std::make_unique<Daemon>(
        data, std::vector<std::string>{"--models-dir", models.string(), "--rate-admin", "0", "--training-priority", "normal"},
        keys());
    daemon->start();
  }
};

TEST_F(Training, AJobOnStoredHistoryCompletesIsScoredAndPromotedOrKeptWithTheReason) {
  Daemon& d = *daemon;
  auto res = post(d, "/admin/trigger-training",
                  {{"epochs", 1}, {"days", 3}, {"holdout_days", 1}, {"max_windows", 32}, {"hidden", 8}});
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 202) << res->body;
  const json done = wait_for_job(d, std::chrono::seconds(600));
  ASSERT_EQ(done["state"], "completed") << done.dump(2) << "\n" << d.log();
  const json& job = done["job"];
  EXPECT_EQ(job["epoch"], 1);
  EXPECT_GT(job["batches"].get<int>(), 0);
  const json& result = job["result"];
  const std::string name = result["model"];
  const double candidate = result["scores"]["candidate"]["quantile_loss"], current = result["scores"]["current"]["quantile_loss"];
  EXPECT_GT(candidate, 0);
  EXPECT_GT(current, 0);
  EXPECT_EQ(result["scores"]["current_model"], "default");
  EXPECT_EQ(result["promoted"].get<bool>(), candidate < current) << result.dump(2);
  EXPECT_NE(result["reason"].get<std::string>().find("held-out quantile loss"), std::string::npos);
  EXPECT_GT(result["held_out"]["windows"].get<int>(), 0);
  EXPECT_EQ(served_model(d), result["promoted"].get<bool>() ? name : "default");

  // Registered with both scores, whatever the decision.
  const json registry = get_ok(d, "/admin/models");
  bool listed = false;
  for (const json& m : registry["models"]) {
    if (m["name"] != name) continue;
    listed = true;
    EXPECT_DOUBLE_EQ(m["evaluation"]["candidate"]["quantile_loss"].get<double>(), candidate);
    EXPECT_DOUBLE_EQ(m["evaluation"]["current"]["quantile_loss"].get<double>(), current);
    EXPECT_EQ(m["current"].get<bool>(), result["promoted"].get<bool>());
  }
  EXPECT_TRUE(listed) << registry.dump(2);
  // The registered model loads like any other.
  res = post(d, "/admin/reload-model", {{"model", name}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
}

TEST_F(Training, ACancelStopsTheJobAndASecondTriggerWhileItRunsGets409) {
  Daemon& d = *daemon;
  auto res = post(d, "/admin/trigger-training", {{"epochs", 200}, {"days", 3}, {"max_windows", 100000}, {"hidden", 8}});
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 202) << res->body;
  res = post(d, "/admin/trigger-training", {{"epochs", 1}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 409) << res->body;
  // Let it reach the training loop, then cancel.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(300);
  while (std::chrono::steady_clock::now() < deadline && get_ok(d, "/admin/training-status")["job"]["batch"] == 0)
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  res = post(d, "/admin/cancel-training", json::object());
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 202) << res->body;
  const json done = wait_for_job(d, std::chrono::seconds(120));
  EXPECT_EQ(done["state"], "cancelled") << done.dump(2);
  EXPECT_TRUE(done["job"]["result"].is_null());
  EXPECT_EQ(get_ok(d, "/admin/models")["models"].size(), 1u) << "a cancelled job registers nothing";
  EXPECT_EQ(served_model(d), "default");
  res = post(d, "/admin/cancel-training", json::object());
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 409) << res->body;
  res = post(d, "/admin/trigger-training", {{"epochs", 0}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400) << res->body;
  EXPECT_NE(res->body.find("epochs"), std::string::npos);
}

}  // namespace
}  // namespace nordiq::e2e
