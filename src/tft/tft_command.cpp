// `nordiq tft check FILE.safetensors [--atol X] [--rtol Y] [--threads N]`
#include <CLI/CLI.hpp>

#include "cli/command.hpp"
#include "tft/check.hpp"

namespace nordiq::cli {

void add_tft_command(CLI::App& app, Runner& runner) {
  auto* tft = app.add_subcommand("tft", "Temporal Fusion Transformer engine tools");
  tft->require_subcommand(1);
  auto* check = tft->add_subcommand("check", "Run the forward pass on a golden-format file and compare with its expected outputs");
  struct Opts {
    std::string file;
    double atol = -1, rtol = -1;
    int threads = 1;
  };
  auto opts = std::make_shared<Opts>();
  check->add_option("file", opts->file, "golden-format .safetensors file (tft_* or modules)")->required()->check(CLI::ExistingFile);
  check->add_option("--atol", opts->atol, "absolute tolerance for every tensor (overrides the golden README defaults)")->check(CLI::NonNegativeNumber);
  check->add_option("--rtol", opts->rtol, "relative tolerance (× |reference|) for every tensor")->check(CLI::NonNegativeNumber);
  check->add_option("--threads", opts->threads, "engine threads")->check(CLI::Range(1, 256));
  check->callback([opts, &runner] {
    runner = [opts] {
      tft::CheckOptions o;
      if (opts->atol >= 0) o.atol = opts->atol;
      if (opts->rtol >= 0) o.rtol = opts->rtol;
      o.threads = opts->threads;
      const auto report = tft::check_golden_file(opts->file, o);
      tft::print_report(report);
      return report.pass() ? 0 : 1;
    };
  });
}

}  // namespace nordiq::cli
