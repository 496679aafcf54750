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

// A daemon whose data dir is on a 3 MiB tmpfs, fed steps of 200 servers.
class FullDisk : public ::testing::Test {
 protected:
  FullDisk() : disk_(dir_.path / "small", "size=3m"), daemon_(dir_.path / "small" / "data", {}, {{"NORDIQ_API_KEY", kKey}}) {
    daemon_.set_command_prefix(disk_.enter());
    daemon_.start();
  }

  // Posts the next step (200 records, each step later than the last) and returns the answer.
  httplib::Result post_next_step() {
    std::vector<TestRecord> records;
    for (int s = 0; s < 200; ++s) records.push_back(make_record(fmt::format("ppweb{:03d}", s), steps_ago(280 - step_), step_ + s));
    ++step_;
    return daemon_.client(kKey).Post("/feed/data", feed_body(records), "application/json");
  }

  // Posts steps until one is not stored; returns that answer (null if the disk never filled).
  std::shared_ptr<httplib::Response> feed_until_full(size_t& acknowledged) {
    while (step_ < 280) {
      auto res = post_next_step();
      if (!res) ADD_FAILURE() << "POST " << step_ << " got no answer; log:\n" << daemon_.log();
      if (!res || res->status != 200) return res ? std::make_shared<httplib::Response>(*res) : nullptr;
      acknowledged += nlohmann::json::parse(res->body)["accepted"].get<size_t>();
    }
    return nullptr;
  }

  TempDir dir_;
  SmallDisk disk_;
  Daemon daemon_;
  int step_ = 0;
};

TEST_F(FullDisk, Answers503NamingItKeepsServingAndRecoversWithoutARestart) {
  {
    std::ofstream filler(disk_.inside("filler"), std::ios::binary);
    filler << std::string(1 << 20, 'x');  // 1 MiB to free later
  }
  ASSERT_TRUE(fs::exists(disk_.inside("filler")));
  size_t acknowledged = 0;
  const auto full = feed_until_full(acknowledged);
  ASSERT_TRUE(full) << "3 MiB never filled up";
  EXPECT_EQ(full->status, 503) << full->body;
  EXPECT_NE(full->body.find("the disk is full"), std::string::npos) << full->body;
  EXPECT_TRUE(full->has_header("Retry-After"));

  auto health = daemon_.client().Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);

  fs::remove(disk_.inside("filler"));
  auto retried = post_next_step();
  ASSERT_TRUE(retried);
  EXPECT_EQ(retried->status, 200) << "not recovered once space was freed: " << retried->body;
}

TEST_F(FullDisk, SigtermStopsCleanlyAndARestartKeepsEveryAcknowledgedRecord) {
  size_t acknowledged = 0;
  ASSERT_TRUE(feed_until_full(acknowledged)) << "3 MiB never filled up";
  ASSERT_GT(acknowledged, 0u);
  // Before: the final WAL checkpoint failed on the full disk and SIGTERM exited 1.
  EXPECT_EQ(daemon_.stop(SIGTERM), 0) << daemon_.log();

  daemon_.start();
  auto status = daemon_.client(kKey).Get("/status");
  ASSERT_TRUE(status);
  ASSERT_EQ(status->status, 200);
  EXPECT_EQ(nlohmann::json::parse(status->body)["records_stored"].get<size_t>(), acknowledged) << daemon_.log();
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
