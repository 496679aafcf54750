// The e2e harness itself: a test must talk to the daemon it started, never to another test's
// daemon that happens to hold the port it picked (tests run in parallel, each with its own flags).
#include <gtest/gtest.h>

#include <string>

#include "e2e/daemon.hpp"
#include "e2e/external_process.hpp"

namespace nordiq::e2e {
namespace {

TEST(Harness, ADaemonWhosePortIsTakenByAnotherDaemonStartsOnAFreePortInsteadOfTalkingToThatOne) {
  TempDir dir;
  const std::string first_key = "e2e-harness-first-key-0123456789";
  const std::string second_key = "e2e-harness-second-key-012345678";
  Daemon first(dir.path / "first", {}, {{"NORDIQ_API_KEY", first_key}});
  first.start();
  Daemon second(dir.path / "second", {}, {{"NORDIQ_API_KEY", second_key}});
  second.start_trying_port(first.port());  // as if the free port picked had been taken meanwhile

  EXPECT_NE(second.port(), first.port());
  EXPECT_TRUE(listens_on(second.pid(), second.port()));
  EXPECT_FALSE(listens_on(second.pid(), first.port()));
  auto status = second.client(second_key).Get("/status");
  ASSERT_TRUE(status);
  EXPECT_EQ(status->status, 200) << "the second key was refused: this is the first daemon; " << status->body;
  EXPECT_NE(second.log().find("cannot listen"), std::string::npos) << second.log();
}

TEST(Harness, AProgramWhosePortIsTakenIsStartedAgainOnAFreeOne) {
  TempDir dir;
  Daemon holder(dir.path / "data", {}, {{"NORDIQ_API_KEY", "e2e-harness-holder-key-0123456789"}});
  holder.start();
  const ListeningProcess exporter = start_listening(
      [](int port) {
        return std::vector<std::string>{"prometheus-node-exporter", "--web.listen-address=127.0.0.1:" + std::to_string(port)};
      },
      dir.path / "node_exporter.log", std::chrono::seconds(60), holder.port());
  EXPECT_NE(exporter.port, holder.port());
  EXPECT_TRUE(listens_on(exporter.process->pid(), exporter.port)) << read_file(dir.path / "node_exporter.log");
  EXPECT_NE(read_file(dir.path / "node_exporter.log").find("address already in use"), std::string::npos)
      << "the first try, on the daemon's port, should have failed: " << read_file(dir.path / "node_exporter.log");
}

}  // namespace
}  // namespace nordiq::e2e
