// nordiq: one binary, one subcommand per job. The commands live in their modules.
#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <spdlog/spdlog.h>

#include <exception>
#include <stdexcept>

#include "cli/command.hpp"
#include "core/log_level.hpp"

int main(int argc, char** argv) {
  CLI::App app{"NordIQ: forecasts trouble on server fleets before it happens"};
  app.set_version_flag("--version", std::string("nordiq ") + NORDIQ_VERSION);
  app.require_subcommand(1);
  nordiq::cli::Runner runner;
  // (each module adds its command here)
  nordiq::cli::add_simulate_command(app, runner);
  nordiq::cli::add_tft_command(app, runner);
  nordiq::cli::add_serve_command(app, runner);
  nordiq::cli::add_eval_command(app, runner);
  nordiq::cli::add_eval_alerts_command(app, runner);
  nordiq::cli::add_train_command(app, runner);
  nordiq::cli::add_bench_command(app, runner);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help/--version print and exit 0; every other parse error is a usage error: exit 2.
    return app.exit(e) == 0 ? 0 : 2;
  }
  try {
    spdlog::set_level(nordiq::log_level_from_env());  // every command's, before it logs anything
  } catch (const std::invalid_argument& e) {
    fmt::print(stderr, "nordiq: error: {}\n", e.what());
    return 2;
  }
  try {
    return runner ? runner() : 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "nordiq: error: {}\n", e.what());
    return 1;
  }
}
