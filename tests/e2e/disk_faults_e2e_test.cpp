// Issue #14, fault tests: the data dir on a full disk and on a read-only filesystem. A real
// daemon whose data dir is a small tmpfs, mounted in a private mount namespace (util-linux
// `unshare`; as a user namespace's root when the tests do not run as root), so the tests need
// no privileges and leave no mount behind. The daemon enters that namespace with `nsenter`.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "e2e/daemon.hpp"
#include "e2e/external_process.hpp"
#include "e2e/feed_records.hpp"

namespace nordiq::e2e {
namespace {

const std::string kKey = "e2e-disk-faults-key-0123456789";

// A tmpfs of `size` mounted at `at` inside a mount namespace that lives as long as this object,
// so that the daemon can stop and start again on the same (full) disk.
class SmallDisk {
 public:
  SmallDisk(const fs::path& at, const std::string& options)
      : at_(at), ready_(at.string() + ".ready"),
        holder_(holder_command(at, options, ready_), at.string() + ".holder.log") {
    if (!eventually(std::chrono::seconds(20), [&] { return fs::exists(ready_) || !holder_.running(); },
                    std::chrono::milliseconds(20)) || !fs::exists(ready_))
      throw std::runtime_error("could not mount a tmpfs in a private namespace: " + read_file(holder_.log()));
  }

  // Runs a program inside the namespace.
  std::vector<std::string> enter() const {
    std::vector<std::string> prefix = {"nsenter", "--target", std::to_string(holder_.pid()), "--mount"};
    if (::geteuid() != 0) prefix.insert(prefix.end(), {"--user", "--preserve-credentials"});
    prefix.push_back("--");
    return prefix;
  }
  // A path of the tmpfs as this process can reach it (through the namespace holder's root).
  fs::path inside(const std::string& relative) const {
    return fs::path("/proc") / std::to_string(holder_.pid()) / "root" / at_.relative_path() / relative;
  }

 private:
  static std::vector<std::string> holder_command(const fs::path& at, const std::string& options, const fs::path& ready) {
    fs::create_directories(at);  // before the holder starts: it mounts on it
    std::vector<std::string> argv = {"unshare", "--mount", "--propagation", "private"};
    if (::geteuid() != 0) argv.push_back("--map-root-user");
    argv.insert(argv.end(), {"--", "sh", "-c", "mount -t tmpfs -o \"$1\" tmpfs \"$0\" && touch \"$2\" && exec sleep 3600",
                             at.string(), options, ready.string()});
    return argv;
  }

  fs::path at_, ready_;
  ExternalProcess holder_;
};

std::vector<TestRecord> step_of(int servers, EpochMs t, int seed) {
  std::vector<TestRecord> records;
  for (int s = 0; s < servers; ++s) records.push_back(make_record(fmt::format("ppweb{:03d}", s), t, seed + s));
  return records;
}

TEST(DiskFaults, AFullDiskAnswers503NamingItKeepsServingAndRecoversWithoutARestart) {
  TempDir dir;
  SmallDisk disk(dir.path / "small", "size=3m");
  Daemon daemon(dir.path / "small" / "data", {}, {{"NORDIQ_API_KEY", kKey}});
  daemon.set_command_prefix(disk.enter());
  daemon.start();
  {
    std::ofstream filler(disk.inside("filler"), std::ios::binary);
    filler << std::string(1 << 20, 'x');  // 1 MiB to free later
  }
  ASSERT_TRUE(fs::exists(disk.inside("filler")));

  httplib::Client c = daemon.client(kKey);
  int step = 0;
  std::shared_ptr<httplib::Response> full;
  for (; step < 280 && !full; ++step) {
    auto res = c.Post("/feed/data", feed_body(step_of(200, steps_ago(280 - step), step)), "application/json");
    ASSERT_TRUE(res) << "POST " << step << " got no answer; log:\n" << daemon.log();
    if (res->status == 503) full = std::make_shared<httplib::Response>(*res);
    else ASSERT_EQ(res->status, 200) << res->body;
  }
  ASSERT_TRUE(full) << "3 MiB never filled up";
  EXPECT_NE(full->body.find("the disk is full"), std::string::npos) << full->body;
  EXPECT_TRUE(full->has_header("Retry-After"));

  auto health = c.Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);

  fs::remove(disk.inside("filler"));
  auto retried = c.Post("/feed/data", feed_body(step_of(200, steps_ago(280 - step + 1), step)), "application/json");
  ASSERT_TRUE(retried);
  EXPECT_EQ(retried->status, 200) << "not recovered once space was freed: " << retried->body;
}

TEST(DiskFaults, SigtermOnAFullDiskStopsCleanlyAndARestartKeepsEveryAcknowledgedRecord) {
  TempDir dir;
  SmallDisk disk(dir.path / "small", "size=3m");
  Daemon daemon(dir.path / "small" / "data", {}, {{"NORDIQ_API_KEY", kKey}});
  daemon.set_command_prefix(disk.enter());
  daemon.start();
  httplib::Client c = daemon.client(kKey);
  size_t acknowledged = 0;
  for (int step = 0; step < 280; ++step) {
    auto res = c.Post("/feed/data", feed_body(step_of(200, steps_ago(280 - step), step)), "application/json");
    ASSERT_TRUE(res);
    if (res->status != 200) break;
    acknowledged += nlohmann::json::parse(res->body)["accepted"].get<size_t>();
  }
  ASSERT_GT(acknowledged, 0u);
  // Before: the final WAL checkpoint failed on the full disk and SIGTERM exited 1.
  EXPECT_EQ(daemon.stop(SIGTERM), 0) << daemon.log();

  daemon.start();
  auto status = daemon.client(kKey).Get("/status");
  ASSERT_TRUE(status);
  ASSERT_EQ(status->status, 200);
  EXPECT_EQ(nlohmann::json::parse(status->body)["records_stored"].get<size_t>(), acknowledged) << daemon.log();
}

TEST(DiskFaults, ADataDirOnAReadOnlyFilesystemIsRefusedSayingSo) {
  TempDir dir;
  SmallDisk disk(dir.path / "ro", "ro,size=1m");
  Daemon missing(dir.path / "ro" / "data", {}, {{"NORDIQ_API_KEY", kKey}});
  missing.set_command_prefix(disk.enter());
  EXPECT_EQ(missing.run_to_exit(), 1);
  // Before: "cannot open .../nordiq.lock: No such file or directory".
  EXPECT_NE(missing.log().find("cannot create the data dir"), std::string::npos) << missing.log();
  EXPECT_NE(missing.log().find("Read-only file system"), std::string::npos) << missing.log();
  EXPECT_NE(missing.log().find("--data-dir must be writable"), std::string::npos) << missing.log();
}

}  // namespace
}  // namespace nordiq::e2e
