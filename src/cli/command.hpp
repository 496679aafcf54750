// Each module registers its own subcommand on the CLI11 app; the parse callback stores the
// function to run, and main() runs it after parsing so errors map to exit codes in one place.
#pragma once

#include <functional>

namespace CLI { class App; }

namespace nordiq::cli {

using Runner = std::function<int()>;

// Implemented by the module that owns the command (src/<module>/*_command.cpp).
void add_serve_command(CLI::App& app, Runner& runner);     // api/
void add_simulate_command(CLI::App& app, Runner& runner);  // sim/
void add_tft_command(CLI::App& app, Runner& runner);       // tft/
void add_train_command(CLI::App& app, Runner& runner);     // train/
void add_eval_command(CLI::App& app, Runner& runner);      // train/
void add_eval_alerts_command(CLI::App& app, Runner& runner);  // replay/ (after add_eval_command)
void add_bench_command(CLI::App& app, Runner& runner);     // bench/

}  // namespace nordiq::cli
