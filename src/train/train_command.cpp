// `nordiq train --data <csv | data dir> --out <models dir>/<name>`: trains a TFT on history and
// writes <out>/model.safetensors (all 1004 tensor names + the manifest with provenance).
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <memory>
#include <stdexcept>
#include <thread>

#include "cli/command.hpp"
#include "train/history.hpp"
#include "train/trainer.hpp"

namespace nordiq::cli {

void add_train_command(CLI::App& app, Runner& runner) {
  auto* cmd = app.add_subcommand("train", "Train a TFT on history (simulator CSV or a daemon data dir)");
  struct Flags {
    std::string data, out;
    train::TrainOptions o;
    int step_seconds = kDefaultStepSeconds;
  };
  auto f = std::make_shared<Flags>();
  f->o.threads = int(std::max(1u, std::thread::hardware_concurrency()));
  cmd->add_option("--data", f->data, "history: a CSV as written by `nordiq simulate history`, or a daemon data dir")->required();
  cmd->add_option("--out", f->out, "model directory to write (e.g. models/mymodel); model.safetensors goes inside")->required();
  cmd->add_option("--hidden", f->o.hidden, "hidden size H (default 32)");
  cmd->add_option("--heads", f->o.heads, "attention heads (must divide H; default 4)");
  cmd->add_option("--hidden-continuous", f->o.cont_hidden, "prescaled width c of every real (default 16)");
  cmd->add_option("--epochs", f->o.epochs, "maximum epochs (default 20)");
  cmd->add_option("--batch-size", f->o.batch, "windows per optimiser step (default 64)");
  cmd->add_option("--lr", f->o.lr, "initial Adam learning rate (default 1e-3)");
  cmd->add_option("--dropout", f->o.dropout, "dropout rate at the TFT.md §8 positions (default 0.1)");
  cmd->add_option("--clip", f->o.clip, "max global gradient norm, 0 = off (default 1.0)");
  cmd->add_option("--seed", f->o.seed, "seed of initialisation, shuffling, encoder lengths and dropout (default 42)");
  cmd->add_option("--threads", f->o.threads, "worker threads (default: hardware threads; results do not depend on it)");
  cmd->add_option("--max-windows", f->o.max_windows, "training windows per epoch, 0 = all (default 0)");
  cmd->add_option("--max-validation", f->o.max_validation, "validation windows, 0 = all (default 0)");
  cmd->add_option("--stride", f->o.windows.stride, "steps between window origins (default 12)");
  cmd->add_option("--validation-days", f->o.windows.validation_days, "held-out last days, 0 = a fifth of the span (default 0)");
  cmd->add_option("--min-encoder", f->o.windows.min_encoder, "shortest random encoder length (default 12)");
  cmd->add_option("--patience", f->o.early_stop_patience, "early stopping: epochs without improvement (default 8)");
  cmd->add_option("--step-seconds", f->step_seconds, "step of the history grid (default 300)");
  cmd->add_flag("!--no-progress", f->o.progress, "no progress bar");
  cmd->add_flag_callback("--anchor", [f] { f->o.inputs = forecast::InputSet::anchored; },
                         "targets relative to the robust classical forecast, which the decoder also sees "
                         "(normalizer version 3; README: an experiment, not the default model)");
  cmd->add_option_function<std::string>(
         "--inputs",
         [f](const std::string& name) {
           f->o.inputs = name == "decoder" ? forecast::InputSet::decoder
                         : name == "anchored" ? forecast::InputSet::anchored
                                              : forecast::InputSet::hourly;
         },
         "the model's decoder-only inputs: hourly (lag-day, trend, each metric's within-hour shape at the step's "
         "minute of the hour and that minute; the default), decoder (lag-day and trend), anchored (the same as --anchor)")
      ->check(CLI::IsMember({"hourly", "decoder", "anchored"}));
  cmd->callback([f, &runner] {
    runner = [f]() -> int {
      train::HistoryOptions ho;
      ho.step_seconds = f->step_seconds;
      spdlog::info("train: reading {}", f->data);
      const train::History history = train::load_history(f->data, ho);
      train::TrainResult r = train::train_model(history, f->o, f->data);
      std::filesystem::create_directories(f->out);
      const std::string path = (std::filesystem::path(f->out) / "model.safetensors").string();
      r.model->save(path);
      fmt::print("wrote {}: {} epochs (best {}), best validation loss {:.4f} vs last value {:.4f} ({:+.1f} %), "
                 "{} optimiser steps, {:.1f} windows/s, {:.0f} s\n",
                 path, r.epochs, r.best_epoch, r.best_validation_loss, r.baseline_validation_loss,
                 100.0 * (r.best_validation_loss / r.baseline_validation_loss - 1.0), r.steps, r.windows_per_second, r.seconds);
      return 0;
    };
  });
}

}  // namespace nordiq::cli
