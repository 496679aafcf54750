// The `nordiq eval` command line: flags reach the evaluation, --json prints only the report.
#include <gtest/gtest.h>

#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/command.hpp"
#include "synthetic.hpp"
#include "train/eval_command.hpp"

namespace nordiq::train {
namespace {

std::string run_cli(std::vector<std::string> argv, int* rc) {
  CLI::App app;
  cli::Runner runner;
  cli::add_eval_command(app, runner);
  std::reverse(argv.begin(), argv.end());  // CLI11 takes the vector reversed
  app.parse(argv);
  ::testing::internal::CaptureStdout();
  *rc = runner();
  std::fflush(stdout);
  return ::testing::internal::GetCapturedStdout();
}

TEST(EvalCli, JsonFlagPrintsTheReportAndNothingElseOnStdout) {
  const std::string path = ::testing::TempDir() + "eval_cli.csv";
  {
    std::ofstream out(path);
    out << test::kHeader << "\n";
    for (int i = 0; i < 3 * 288; ++i)
      out << test::csv_row(test::kT0 + i * test::kStepMs, "ppetl001", "data_ingest", "healthy",
                           40 + (i % 288) * 0.05)
          << "\n";
  }
  int rc = -1;
  const std::string text = run_cli({"eval", "--model", "baseline", "--data", path, "--stride",
                                    "48", "--holdout-days", "1", "--json", "--threads", "1"},
                                   &rc);
  EXPECT_EQ(rc, 0);
  const auto j = nlohmann::json::parse(text);  // throws if anything else was printed
  // Held out: the last day (steps 576..863); origins need 96 steps of future: 576..768, every
  // 48th from 576 → 576, 624, 672, 720, 768.
  EXPECT_EQ(j["windows"], 5);
  EXPECT_TRUE(j["per_metric"]["cpu_user_pct"]["seasonal_naive"].contains("coverage_p10_p90"));

  const std::string table =
      run_cli({"eval", "--model", "baseline", "--data", path, "--stride", "48"}, &rc);
  EXPECT_EQ(rc, 0);
  EXPECT_NE(table.find("p50 MAE"), std::string::npos);
  EXPECT_NE(table.find("overall"), std::string::npos);
  EXPECT_NE(table.find("seasonal_naive"), std::string::npos);
}

TEST(EvalCli, SaysWhenTheOriginsSitAtFewPositionsWithinTheHour) {
  const std::string path = ::testing::TempDir() + "eval_phase.csv";
  {
    std::ofstream out(path);
    out << test::kHeader << "\n";
    for (int i = 0; i < 2 * 288; ++i)
      out << test::csv_row(test::kT0 + i * test::kStepMs, "ppweb001", "web_api", "healthy", 20 + (i % 12 == 3) * 30)
          << "\n";
  }
  auto log_of = [&](int stride) {
    std::ostringstream text;
    spdlog::logger log("eval_test", std::make_shared<spdlog::sinks::ostream_sink_mt>(text));
    EvalArgs args;
    args.model = "baseline";
    args.data = path;
    args.stride = stride;
    args.threads = 1;
    run_eval(args, &log);
    return text.str();
  };
  // 5-min steps: stride 12 keeps one origin an hour, always at the same minute; 6 keeps two.
  EXPECT_NE(log_of(12).find("origins fall on 1 of the 12 step positions within the hour"), std::string::npos);
  EXPECT_NE(log_of(6).find("origins fall on 2 of the 12 step positions"), std::string::npos);
  EXPECT_EQ(log_of(13).find("origins fall on"), std::string::npos) << "13 is coprime with 12";
}

TEST(EvalCli, MissingOrBadFlagsAreUsageErrors) {
  int rc = 0;
  EXPECT_THROW(run_cli({"eval", "--data", "x.csv"}, &rc), CLI::ParseError);  // no --model
  EXPECT_THROW(run_cli({"eval", "--model", "baseline", "--data", "x.csv", "--stride", "0"}, &rc),
               CLI::ParseError);
}

}  // namespace
}  // namespace nordiq::train
