#include "train/trainer.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <random>
#include <stdexcept>

#include "core/metrics.hpp"
#include "core/rng.hpp"
#include "core/time.hpp"
#include "core/worker_pool.hpp"
#include "forecast/features.hpp"
#include "forecast/normalizer.hpp"
#include "tft/adam.hpp"
#include "tft/gemm.hpp"
#include "tft/training_graph.hpp"

namespace nordiq::train {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr int kTrainChunk = 8;   // windows per gradient chunk: fixed, so threads never change results
constexpr int kEvalChunk = 16;
constexpr int kPadTo = 32;       // encoder axis padding granularity

// A seed from two (the run's seed and a step or chunk number).
uint64_t mix(uint64_t a, uint64_t b) { return splitmix64_mix(a * kGoldenGamma + b + 0x632BE59BD9B4E019ull); }

struct Worker {
  std::unique_ptr<tft::TrainingGraph> graph;
  forecast::FeatureBatch features;
  std::vector<float> targets;
  std::vector<forecast::TrainingSlice> slices;
};

std::string fmt_duration(double s) {
  if (!std::isfinite(s) || s < 0) return "--:--";
  const int64_t t = int64_t(s + 0.5);
  return t >= 3600 ? fmt::format("{}:{:02}:{:02}", t / 3600, t / 60 % 60, t % 60) : fmt::format("{:02}:{:02}", t / 60, t % 60);
}

}  // namespace

json contract_model_json(int hidden, int heads, int cont_hidden, forecast::InputSet inputs) {
  // Every variable list comes from the one contract table (forecast/contract.hpp).
  const forecast::InputContract& contract = forecast::input_contract(inputs);
  const auto& targets = contract.targets;
  const auto& statics = contract.static_variables;
  const auto& known = contract.known_reals;
  // fastai width rule (TFT.md §10): n = 8 and 9 classes → 5, capped at H
  auto width = [&](int n) { return std::min(n <= 2 ? 1 : std::min(int(std::lround(1.6 * std::pow(n, 0.56))), 100), hidden); };
  json profiles = json::array({"unknown"}), statuses = json::array({"unknown"});
  for (auto p : kProfileIds) profiles.push_back(std::string(p));
  for (auto s : kStatusNames) statuses.push_back(std::string(s));
  std::vector<float> q(forecast::kQuantiles.begin(), forecast::kQuantiles.end());
  return {
      {"hidden_size", hidden},
      {"attention_head_size", heads},
      {"head_dim", hidden / heads},
      {"hidden_continuous_size", cont_hidden},
      {"lstm_layers", 1},
      {"layer_norm_eps", 1e-5},
      {"causal_attention", true},
      {"mask_bias", -1e9},
      {"share_single_variable_networks", false},
      {"targets", targets},
      {"quantiles", q},
      {"target_transformation", "none"},
      {"static_categoricals", {"profile"}},
      {"static_reals", std::vector<std::string>(statics.begin() + 1, statics.end())},
      {"time_varying_known_categoricals", json::array()},
      {"time_varying_known_reals", known},
      {"time_varying_unknown_categoricals", {"status"}},
      {"time_varying_unknown_reals", targets},
      {"x_categoricals", contract.x_categoricals},
      {"x_reals", contract.x_reals},
      {"static_variables", statics},
      {"encoder_variables", contract.encoder_variables},
      {"decoder_variables", contract.decoder_variables},
      {"embedding_sizes", {{"profile", {kNumProfiles + 1, width(kNumProfiles + 1)}},
                           {"status", {kNumStatuses + 1, width(kNumStatuses + 1)}}}},
      {"embedding_paddings", {"profile", "status"}},
      {"categorical_vocab", {{"profile", profiles}, {"status", statuses}}},
  };
}

void init_parameters(tft::Model& model, uint64_t seed) {
  std::mt19937_64 rng(seed);
  float* P = model.params();
  auto ends = [](const std::string& s, const char* suffix) {
    const size_t n = std::strlen(suffix);
    return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
  };
  for (const auto& s : model.table().specs()) {
    if (s.alias_of >= 0) continue;
    float* p = P + s.offset;
    const std::string& n = s.name;
    const int out = int(s.shape[0]), in = s.shape.size() > 1 ? int(s.shape[1]) : 1;
    auto uniform = [&](double a) {
      std::uniform_real_distribution<double> u(-a, a);
      for (size_t i = 0; i < s.numel; ++i) p[i] = float(u(rng));
    };
    auto normal = [&](double sd) {
      std::normal_distribution<double> g(0.0, sd);
      for (size_t i = 0; i < s.numel; ++i) p[i] = float(g(rng));
    };
    auto fill = [&](float v) { std::fill(p, p + s.numel, v); };
    const double xavier = std::sqrt(6.0 / double(in + out));
    if (n.rfind("input_embeddings.", 0) == 0) {
      normal(1.0);
      std::fill(p, p + in, 0.0f);  // padding row (code 0) is zero and stays zero
    } else if (n.rfind("prescalers.", 0) == 0) {
      uniform(1.0);
    } else if (n.rfind("lstm_", 0) == 0) {
      uniform(1.0 / std::sqrt(double(model.config().hidden)));
    } else if (n.rfind("output_layer.", 0) == 0) {
      uniform(1.0 / std::sqrt(double(model.config().hidden)));
    } else if (ends(n, ".mask")) {
      fill(0.0f);
    } else if (ends(n, "norm.weight")) {
      fill(1.0f);
    } else if (ends(n, "norm.bias")) {
      fill(0.0f);
    } else if (ends(n, "fc1.weight") || ends(n, "fc2.weight")) {
      normal(std::sqrt(2.0 / double(in)));  // Kaiming normal, fan_in
    } else if (ends(n, ".weight")) {
      uniform(xavier);  // GRN context, every GLU, attention projections
    } else {
      fill(0.0f);  // every remaining bias
    }
  }
}

namespace {

void check_options(const TrainOptions& o) {
  if (o.hidden < 1 || o.heads < 1 || o.hidden % o.heads) throw std::invalid_argument("--hidden must be a positive multiple of --heads");
  if (o.cont_hidden < 1) throw std::invalid_argument("--hidden-continuous must be ≥ 1");
  if (o.batch < 1) throw std::invalid_argument("--batch-size must be ≥ 1");
  if (o.epochs < 1) throw std::invalid_argument("--epochs must be ≥ 1");
  if (!(o.lr > 0)) throw std::invalid_argument("--lr must be > 0");
  if (!(o.dropout >= 0 && o.dropout < 1)) throw std::invalid_argument("--dropout must be in [0, 1)");
}

// The training and validation windows; at most max_validation of the latter, evenly spaced.
WindowSplit training_split(const History& history, const TrainOptions& o) {
  WindowSplit split = split_windows(history, o.windows);
  if (split.train.empty()) throw std::invalid_argument("no training window: the history is too short for the split (encoder ≥ min, 96-step horizon, validation days)");
  if (split.validation.empty()) throw std::invalid_argument("no validation window: the held-out span is shorter than one horizon");
  if (o.max_validation > 0 && int64_t(split.validation.size()) > o.max_validation) {
    std::vector<Window> sub;
    const double step = double(split.validation.size()) / double(o.max_validation);
    for (int64_t i = 0; i < o.max_validation; ++i) sub.push_back(split.validation[size_t(double(i) * step)]);
    split.validation = std::move(sub);
  }
  return split;
}

json model_manifest(const History& history, const TrainOptions& o) {
  json manifest;
  manifest["format"] = "nordiq-tft-model";
  manifest["format_version"] = 1;
  manifest["max_encoder_length"] = o.windows.max_encoder;
  manifest["max_prediction_length"] = o.windows.horizon;
  manifest["min_encoder_length"] = o.windows.min_encoder;
  manifest["step_seconds"] = history.step_ms / 1000;
  manifest["normalizer"] = forecast::normalizer_manifest(o.inputs);
  manifest["model"] = contract_model_json(o.hidden, o.heads, o.cont_hidden, o.inputs);
  return manifest;
}

// This epoch's window order and encoder lengths (deterministic in seed and epoch).
void draw_epoch(std::vector<Window>& order, const TrainOptions& o, int epoch) {
  std::mt19937_64 rng(mix(o.seed, uint64_t(epoch)));
  std::shuffle(order.begin(), order.end(), rng);
  for (auto& w : order) {
    const int avail = available_encoder(w, o.windows.max_encoder);
    const bool full = std::uniform_real_distribution<double>(0, 1)(rng) < o.full_encoder_share;
    w.encoder = full ? avail : int(std::uniform_int_distribution<int>(std::min(o.windows.min_encoder, avail), avail)(rng));
  }
}

// ReduceLROnPlateau (torch semantics, mode min, relative threshold 1e-4: halve after 5 bad
// epochs, then 4 of cooldown) and early stopping after `patience` epochs without a new best.
struct Plateau {
  double lr, best_loss = INFINITY;
  int bad_epochs = 0, cooldown = 0, since_best = 0;

  // True when `val` is a new best.
  bool observe(double val) {
    const bool improved = val < best_loss * (1.0 - 1e-4);
    if (improved) {
      best_loss = val;
      bad_epochs = 0;
      since_best = 0;
    } else {
      ++bad_epochs;
      ++since_best;
    }
    if (cooldown > 0) {
      --cooldown;
      bad_epochs = 0;
    }
    if (bad_epochs > 4) {
      const double next = std::max(lr * 0.5, 1e-5);
      if (lr - next > 1e-12) spdlog::info("train: validation loss plateaued, learning rate {:.1e} → {:.1e}", lr, next);
      lr = next;
      cooldown = 4;
      bad_epochs = 0;
    }
    return improved;
  }
};

// One training run: the model, its optimiser, the workers, and the phases of train_model.
class TrainingRun {
 public:
  TrainingRun(const History& history, const TrainOptions& o)
      : history_(history), o_(o), threads_(std::max(1, o.threads)), split_(training_split(history, o)),
        fc_{o.windows.max_encoder, o.windows.horizon, o.inputs}, manifest_(model_manifest(history, o)),
        model_(std::make_unique<tft::Model>(tft::ModelConfig::from_manifest(manifest_))), adam_(0, tft::AdamConfig{o.lr}),
        plateau_{o.lr}, pool_(threads_, tft::gemm::pin_library_threads_to_one) {
    init_parameters(*model_, o.seed);
    np_ = model_->table().total();
    params_.assign(model_->params(), model_->params() + np_);
    best_ = params_;
    grad_.assign(np_, 0.0f);
    adam_ = tft::Adam(np_, tft::AdamConfig{o.lr});
    workers_.resize(static_cast<size_t>(threads_));
    for (auto& w : workers_) w.graph = std::make_unique<tft::TrainingGraph>(*model_);
    baseline_ = last_value_baseline_loss(history, split_.validation, fc_);
    spdlog::info("train: {} servers, {} training / {} validation windows (validation from {}), baseline last-value loss {:.4f}, {} parameters",
                 history.servers.size(), split_.train.size(), split_.validation.size(), format_iso8601(split_.validation_start),
                 baseline_, model_->table().unique_count());
  }

  TrainResult run(const std::string& data_source);

 private:
  bool stop_requested() const { return o_.cancelled && o_.cancelled(); }
  double validate();
  double train_batch(std::span<Window> batch, int epoch, int batch_index);
  void report_batch(int epoch, int batch_index, int batches, double epoch_loss, int64_t epoch_windows, double elapsed);
  json provenance(const TrainResult& r, const std::string& data_source) const;

  const History& history_;
  const TrainOptions& o_;
  const int threads_;
  WindowSplit split_;
  const forecast::FeatureConfig fc_;
  json manifest_;
  std::unique_ptr<tft::Model> model_;
  size_t np_ = 0;
  std::vector<float> params_, best_, grad_;
  tft::Adam adam_;
  std::vector<Worker> workers_;
  std::vector<std::vector<float>> chunk_grads_;
  double baseline_ = 0;
  Plateau plateau_;
  int64_t steps_ = 0;
  double train_seconds_ = 0;  // in training batches (validation excluded)
  Clock::time_point last_draw_ = Clock::now() - std::chrono::seconds(1);
  // The run's threads, started once (they were started per mini-batch); worker i uses workers_[i].
  WorkerPool pool_;
};

// Validation: no dropout, loss averaged over all validation decoder steps.
double TrainingRun::validate() {
  const int n = int(split_.validation.size()), chunks = (n + kEvalChunk - 1) / kEvalChunk;
  std::vector<double> part(static_cast<size_t>(chunks));
  tft::gemm::pin_library_threads_to_one();  // this thread is worker 0
  pool_.run(chunks, [&](int c, int wi) {
    if (stop_requested()) return;  // thrown below, on this thread: a cancel takes one chunk
    Worker& w = workers_[size_t(wi)];
    const int b0 = c * kEvalChunk, m = std::min(kEvalChunk, n - b0);
    assemble_windows(history_, std::span(split_.validation).subspan(size_t(b0), size_t(m)), fc_, kPadTo, w.features, w.targets, w.slices);
    tft::ForwardInputs in{w.features.batch, w.features.encoder, w.features.decoder, w.features.x_cat.data(), w.features.x_cont.data(),
                          w.features.encoder_lengths.data(), w.features.decoder_lengths.data(), nullptr};
    part[size_t(c)] = w.graph->forward(params_.data(), in, w.targets.data(), {}) * m;
  });
  if (stop_requested()) throw TrainingCancelled();
  double s = 0;
  for (double v : part) s += v;
  return s / n;
}

// Forward + backward of one mini-batch in fixed chunks (any thread count gives the same sums),
// then one clipped Adam step. Returns the batch's loss.
double TrainingRun::train_batch(std::span<Window> batch, int epoch, int batch_index) {
  const int m = int(batch.size());
  // similar encoder lengths share a chunk: less padding
  std::stable_sort(batch.begin(), batch.end(), [](const Window& a, const Window& b) { return a.encoder < b.encoder; });
  const int chunks = (m + kTrainChunk - 1) / kTrainChunk;
  if (int(chunk_grads_.size()) < chunks) chunk_grads_.resize(size_t(chunks));
  std::vector<double> losses(static_cast<size_t>(chunks));
  const double norm_steps = double(m) * o_.windows.horizon;
  const uint64_t step_seed = mix(o_.seed, uint64_t(steps_ + 1));
  tft::gemm::pin_library_threads_to_one();  // this thread is worker 0
  pool_.run(chunks, [&](int c, int wi) {
    if (stop_requested()) return;
    Worker& w = workers_[size_t(wi)];
    const int c0 = c * kTrainChunk, cm = std::min(kTrainChunk, m - c0);
    assemble_windows(history_, batch.subspan(size_t(c0), size_t(cm)), fc_, kPadTo, w.features, w.targets, w.slices);
    tft::ForwardInputs in{w.features.batch, w.features.encoder, w.features.decoder, w.features.x_cat.data(), w.features.x_cont.data(),
                          w.features.encoder_lengths.data(), w.features.decoder_lengths.data(), nullptr};
    tft::TrainStepOptions so;
    so.dropout = o_.dropout;
    so.seed = mix(step_seed, uint64_t(c));
    so.normaliser_steps = norm_steps;
    auto& g = chunk_grads_[size_t(c)];
    g.assign(np_, 0.0f);
    losses[size_t(c)] = w.graph->forward(params_.data(), in, w.targets.data(), so);
    w.graph->backward(g.data());
  });
  if (stop_requested()) throw TrainingCancelled();
  std::fill(grad_.begin(), grad_.end(), 0.0f);
  double loss = 0;
  for (int c = 0; c < chunks; ++c) {  // fixed order: deterministic for any thread count
    const float* g = chunk_grads_[size_t(c)].data();
    for (size_t i = 0; i < np_; ++i) grad_[i] += g[i];
    loss += losses[size_t(c)];
  }
  if (!std::isfinite(loss)) throw std::runtime_error(fmt::format("training diverged: loss {} at epoch {} batch {}", loss, epoch, batch_index + 1));
  if (o_.clip > 0) tft::clip_grad_norm(grad_.data(), np_, o_.clip);
  adam_.step(params_.data(), grad_.data(), plateau_.lr);
  ++steps_;
  return loss;
}

// The on_batch callback and the progress bar (at most 4 redraws a second).
void TrainingRun::report_batch(int epoch, int batch_index, int batches, double epoch_loss, int64_t epoch_windows, double elapsed) {
  const double per_batch = (train_seconds_ + elapsed) / double((epoch - 1) * batches + batch_index + 1);
  const double eta = per_batch * double((o_.epochs - epoch) * batches + (batches - batch_index - 1));
  const double best = plateau_.best_loss;
  if (o_.on_batch) o_.on_batch(TrainProgress{epoch, o_.epochs, batch_index + 1, batches, epoch_loss / double(epoch_windows), best, eta});
  if (o_.progress && (Clock::now() - last_draw_ > std::chrono::milliseconds(250) || batch_index + 1 == batches)) {
    last_draw_ = Clock::now();
    const int width = 24, fill = int(double(batch_index + 1) / batches * width);
    fmt::print(stderr, "\repoch {}/{} [{}{}] {}/{} loss {:.4f} lr {:.1e} best val {} ETA {}   ", epoch, o_.epochs,
               std::string(size_t(fill), '='), std::string(size_t(width - fill), ' '), batch_index + 1, batches,
               epoch_loss / epoch_windows, plateau_.lr, std::isfinite(best) ? fmt::format("{:.4f}", best) : "-", fmt_duration(eta));
  }
}

TrainResult TrainingRun::run(const std::string& data_source) {
  const auto t_start = Clock::now();
  TrainResult r;
  r.baseline_validation_loss = baseline_;
  r.validation_windows = int64_t(split_.validation.size());
  const int64_t per_epoch = o_.max_windows > 0 ? std::min<int64_t>(o_.max_windows, int64_t(split_.train.size())) : int64_t(split_.train.size());
  const int batches = int((per_epoch + o_.batch - 1) / o_.batch);
  int64_t trained_windows = 0;
  std::vector<Window> order = split_.train;
  for (int epoch = 1; epoch <= o_.epochs; ++epoch) {
    draw_epoch(order, o_, epoch);
    double epoch_loss = 0;
    int64_t epoch_windows = 0;
    const auto t_epoch = Clock::now();
    for (int bi = 0; bi < batches; ++bi) {
      if (stop_requested()) throw TrainingCancelled();
      const int64_t b0 = int64_t(bi) * o_.batch;
      const int m = int(std::min<int64_t>(o_.batch, per_epoch - b0));
      std::vector<Window> batch(order.begin() + b0, order.begin() + b0 + m);
      epoch_loss += train_batch(batch, epoch, bi) * m;
      epoch_windows += m;
      trained_windows += m;
      report_batch(epoch, bi, batches, epoch_loss, epoch_windows, std::chrono::duration<double>(Clock::now() - t_epoch).count());
    }
    train_seconds_ += std::chrono::duration<double>(Clock::now() - t_epoch).count();
    const double val = validate();
    const double train_loss = epoch_loss / double(std::max<int64_t>(epoch_windows, 1));
    if (o_.progress) fmt::print(stderr, "\n");
    spdlog::info("train: epoch {}: train loss {:.4f}, validation loss {:.4f} (last value {:.4f}), lr {:.1e}", epoch, train_loss, val,
                 baseline_, plateau_.lr);
    r.epochs = epoch;
    if (o_.on_epoch) o_.on_epoch(epoch, train_loss, val, plateau_.lr);
    if (!std::isfinite(val)) throw std::runtime_error(fmt::format("validation loss is {} after epoch {}", val, epoch));
    if (plateau_.observe(val)) {
      best_ = params_;
      r.best_epoch = epoch;
    }
    if (plateau_.since_best >= o_.early_stop_patience) {
      spdlog::info("train: no improvement for {} epochs, stopping early", plateau_.since_best);
      break;
    }
  }
  std::copy(best_.begin(), best_.end(), model_->params());
  r.steps = steps_;
  r.best_validation_loss = plateau_.best_loss;
  r.train_windows = int64_t(split_.train.size());
  r.windows_per_second = train_seconds_ > 0 ? double(trained_windows) / train_seconds_ : 0;
  r.seconds = std::chrono::duration<double>(Clock::now() - t_start).count();
  manifest_["provenance"] = provenance(r, data_source);
  model_->set_manifest(manifest_);
  r.model = std::move(model_);
  return r;
}

json TrainingRun::provenance(const TrainResult& r, const std::string& data_source) const {
  const TrainOptions& o = o_;
  return {
      {"created_at", format_iso8601(now_ms())},
      {"tool", std::string("nordiq ") + NORDIQ_VERSION},
      {"data", data_source},
      {"data_first_step", format_iso8601(history_.first_step)},
      {"data_last_step", format_iso8601(history_.last_step)},
      {"validation_start", format_iso8601(split_.validation_start)},
      {"servers", history_.servers.size()},
      {"train_windows", r.train_windows},
      {"validation_windows", r.validation_windows},
      {"epochs", r.epochs},
      {"best_epoch", r.best_epoch},
      {"optimizer_steps", r.steps},
      {"best_validation_loss", r.best_validation_loss},
      {"baseline_last_value_validation_loss", baseline_},
      {"loss", "quantile loss in normalised space (TFT.md §11)"},
      {"hyperparameters", {{"hidden_size", o.hidden}, {"attention_head_size", o.heads}, {"hidden_continuous_size", o.cont_hidden},
                           {"batch_size", o.batch}, {"lr", o.lr}, {"dropout", o.dropout}, {"clip", o.clip}, {"seed", o.seed},
                           {"window_stride", o.windows.stride}, {"min_encoder_length", o.windows.min_encoder},
                           {"max_windows_per_epoch", o.max_windows}, {"full_encoder_share", o.full_encoder_share}}},
      {"windows_per_second", r.windows_per_second},
  };
}

}  // namespace

// The phases: options checked, windows split, model and optimiser set up (TrainingRun), then
// epochs of shuffled mini-batches, each followed by validation, the plateau schedule and early
// stopping; the best epoch's weights are kept.
TrainResult train_model(const History& history, const TrainOptions& o, const std::string& data_source) {
  check_options(o);
  TrainingRun run(history, o);
  return run.run(data_source);
}

}  // namespace nordiq::train
