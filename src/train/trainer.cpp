#include "train/trainer.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <random>
#include <stdexcept>
#include <thread>

#include "core/metrics.hpp"
#include "core/time.hpp"
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

uint64_t mix(uint64_t a, uint64_t b) {
  uint64_t z = a * 0x9E3779B97F4A7C15ull + b + 0x632BE59BD9B4E019ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Runs fn(i, worker) for i in [0, n) on `threads` threads (worker = 0..threads−1).
template <class F>
void parallel_for(int n, int threads, F&& fn) {
  std::atomic<int> next{0};
  std::exception_ptr error;
  std::mutex mu;
  auto work = [&](int worker) {
    tft::gemm::pin_library_threads_to_one();
    for (int i; (i = next.fetch_add(1)) < n;) {
      try {
        fn(i, worker);
      } catch (...) {
        std::lock_guard lk(mu);
        if (!error) error = std::current_exception();
      }
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < std::min(threads, n); ++t) pool.emplace_back(work, t);
  work(0);
  for (auto& t : pool) t.join();
  if (error) std::rethrow_exception(error);
}

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

TrainResult train_model(const History& history, const TrainOptions& o, const std::string& data_source) {
  const auto t_start = Clock::now();
  if (o.hidden < 1 || o.heads < 1 || o.hidden % o.heads) throw std::invalid_argument("--hidden must be a positive multiple of --heads");
  if (o.cont_hidden < 1) throw std::invalid_argument("--hidden-continuous must be ≥ 1");
  if (o.batch < 1) throw std::invalid_argument("--batch-size must be ≥ 1");
  if (o.epochs < 1) throw std::invalid_argument("--epochs must be ≥ 1");
  if (!(o.lr > 0)) throw std::invalid_argument("--lr must be > 0");
  if (!(o.dropout >= 0 && o.dropout < 1)) throw std::invalid_argument("--dropout must be in [0, 1)");
  const int threads = std::max(1, o.threads);
  // Polled between gradient chunks (on any worker thread); the throw happens on this thread.
  auto stop_requested = [&o] { return o.cancelled && o.cancelled(); };
  WindowSplit split = split_windows(history, o.windows);
  if (split.train.empty()) throw std::invalid_argument("no training window: the history is too short for the split (encoder ≥ min, 96-step horizon, validation days)");
  if (split.validation.empty()) throw std::invalid_argument("no validation window: the held-out span is shorter than one horizon");
  if (o.max_validation > 0 && int64_t(split.validation.size()) > o.max_validation) {
    std::vector<Window> sub;
    const double step = double(split.validation.size()) / double(o.max_validation);
    for (int64_t i = 0; i < o.max_validation; ++i) sub.push_back(split.validation[size_t(double(i) * step)]);
    split.validation = std::move(sub);
  }
  const forecast::FeatureConfig fc{o.windows.max_encoder, o.windows.horizon, o.inputs};

  json manifest;
  manifest["format"] = "nordiq-tft-model";
  manifest["format_version"] = 1;
  manifest["max_encoder_length"] = o.windows.max_encoder;
  manifest["max_prediction_length"] = o.windows.horizon;
  manifest["min_encoder_length"] = o.windows.min_encoder;
  manifest["step_seconds"] = history.step_ms / 1000;
  manifest["normalizer"] = forecast::normalizer_manifest(o.inputs);
  manifest["model"] = contract_model_json(o.hidden, o.heads, o.cont_hidden, o.inputs);
  auto model = std::make_unique<tft::Model>(tft::ModelConfig::from_manifest(manifest));
  init_parameters(*model, o.seed);
  const size_t NP = model->table().total();
  std::vector<float> P(model->params(), model->params() + NP), best = P, G(NP);
  tft::Adam adam(NP, tft::AdamConfig{o.lr});

  std::vector<Worker> workers(static_cast<size_t>(threads));
  for (auto& w : workers) w.graph = std::make_unique<tft::TrainingGraph>(*model);
  const double baseline = last_value_baseline_loss(history, split.validation, fc);
  spdlog::info("train: {} servers, {} training / {} validation windows (validation from {}), baseline last-value loss {:.4f}, {} parameters",
               history.servers.size(), split.train.size(), split.validation.size(), format_iso8601(split.validation_start),
               baseline, model->table().unique_count());

  // Validation: no dropout, loss averaged over all validation decoder steps.
  auto validate = [&]() {
    const int n = int(split.validation.size()), chunks = (n + kEvalChunk - 1) / kEvalChunk;
    std::vector<double> part(static_cast<size_t>(chunks));
    parallel_for(chunks, threads, [&](int c, int wi) {
      if (stop_requested()) return;  // thrown below, on this thread: a cancel takes one chunk
      Worker& w = workers[size_t(wi)];
      const int b0 = c * kEvalChunk, m = std::min(kEvalChunk, n - b0);
      assemble_windows(history, std::span(split.validation).subspan(size_t(b0), size_t(m)), fc, kPadTo, w.features, w.targets, w.slices);
      tft::ForwardInputs in{w.features.batch, w.features.encoder, w.features.decoder, w.features.x_cat.data(), w.features.x_cont.data(),
                            w.features.encoder_lengths.data(), w.features.decoder_lengths.data(), nullptr};
      part[size_t(c)] = w.graph->forward(P.data(), in, w.targets.data(), {}) * m;
    });
    if (stop_requested()) throw TrainingCancelled();
    double s = 0;
    for (double v : part) s += v;
    return s / n;
  };

  TrainResult r;
  r.baseline_validation_loss = baseline;
  r.validation_windows = int64_t(split.validation.size());
  double lr = o.lr, best_loss = INFINITY;
  int bad_epochs = 0, cooldown = 0, since_best = 0;
  const int64_t per_epoch = o.max_windows > 0 ? std::min<int64_t>(o.max_windows, int64_t(split.train.size())) : int64_t(split.train.size());
  const int batches = int((per_epoch + o.batch - 1) / o.batch);
  double train_seconds = 0;
  int64_t trained_windows = 0;
  auto last_draw = Clock::now() - std::chrono::seconds(1);
  std::vector<Window> order = split.train;
  std::vector<std::vector<float>> chunk_grads;
  for (int epoch = 1; epoch <= o.epochs; ++epoch) {
    // this epoch's windows and encoder lengths (deterministic in seed and epoch)
    std::mt19937_64 rng(mix(o.seed, uint64_t(epoch)));
    std::shuffle(order.begin(), order.end(), rng);
    for (auto& w : order) {
      const int avail = available_encoder(w, o.windows.max_encoder);
      const bool full = std::uniform_real_distribution<double>(0, 1)(rng) < o.full_encoder_share;
      w.encoder = full ? avail : int(std::uniform_int_distribution<int>(std::min(o.windows.min_encoder, avail), avail)(rng));
    }
    double epoch_loss = 0;
    int64_t epoch_windows = 0;
    const auto t_epoch = Clock::now();
    for (int bi = 0; bi < batches; ++bi) {
      if (stop_requested()) throw TrainingCancelled();
      const int64_t b0 = int64_t(bi) * o.batch;
      const int m = int(std::min<int64_t>(o.batch, per_epoch - b0));
      std::vector<Window> batch(order.begin() + b0, order.begin() + b0 + m);
      // similar encoder lengths share a chunk: less padding
      std::stable_sort(batch.begin(), batch.end(), [](const Window& a, const Window& b) { return a.encoder < b.encoder; });
      const int chunks = (m + kTrainChunk - 1) / kTrainChunk;
      if (int(chunk_grads.size()) < chunks) chunk_grads.resize(size_t(chunks));
      std::vector<double> losses(static_cast<size_t>(chunks));
      const double norm_steps = double(m) * o.windows.horizon;
      const uint64_t step_seed = mix(o.seed, uint64_t(r.steps + 1));
      parallel_for(chunks, threads, [&](int c, int wi) {
        if (stop_requested()) return;
        Worker& w = workers[size_t(wi)];
        const int c0 = c * kTrainChunk, cm = std::min(kTrainChunk, m - c0);
        assemble_windows(history, std::span(batch).subspan(size_t(c0), size_t(cm)), fc, kPadTo, w.features, w.targets, w.slices);
        tft::ForwardInputs in{w.features.batch, w.features.encoder, w.features.decoder, w.features.x_cat.data(), w.features.x_cont.data(),
                              w.features.encoder_lengths.data(), w.features.decoder_lengths.data(), nullptr};
        tft::TrainStepOptions so;
        so.dropout = o.dropout;
        so.seed = mix(step_seed, uint64_t(c));
        so.normaliser_steps = norm_steps;
        auto& g = chunk_grads[size_t(c)];
        g.assign(NP, 0.0f);
        losses[size_t(c)] = w.graph->forward(P.data(), in, w.targets.data(), so);
        w.graph->backward(g.data());
      });
      if (stop_requested()) throw TrainingCancelled();
      std::fill(G.begin(), G.end(), 0.0f);
      double loss = 0;
      for (int c = 0; c < chunks; ++c) {  // fixed order: deterministic for any thread count
        const float* g = chunk_grads[size_t(c)].data();
        for (size_t i = 0; i < NP; ++i) G[i] += g[i];
        loss += losses[size_t(c)];
      }
      if (!std::isfinite(loss)) throw std::runtime_error(fmt::format("training diverged: loss {} at epoch {} batch {}", loss, epoch, bi + 1));
      if (o.clip > 0) tft::clip_grad_norm(G.data(), NP, o.clip);
      adam.step(P.data(), G.data(), lr);
      ++r.steps;
      epoch_loss += loss * m;
      epoch_windows += m;
      trained_windows += m;
      const double el = std::chrono::duration<double>(Clock::now() - t_epoch).count();
      const double per_batch = (train_seconds + el) / double((epoch - 1) * batches + bi + 1);
      const double eta = per_batch * double((o.epochs - epoch) * batches + (batches - bi - 1));
      if (o.on_batch) o.on_batch(TrainProgress{epoch, o.epochs, bi + 1, batches, epoch_loss / double(epoch_windows), best_loss, eta});
      if (o.progress && (Clock::now() - last_draw > std::chrono::milliseconds(250) || bi + 1 == batches)) {
        last_draw = Clock::now();
        const int width = 24, fill = int(double(bi + 1) / batches * width);
        fmt::print(stderr, "\repoch {}/{} [{}{}] {}/{} loss {:.4f} lr {:.1e} best val {} ETA {}   ", epoch, o.epochs,
                   std::string(size_t(fill), '='), std::string(size_t(width - fill), ' '), bi + 1, batches, epoch_loss / epoch_windows, lr,
                   std::isfinite(best_loss) ? fmt::format("{:.4f}", best_loss) : "-", fmt_duration(eta));
      }
    }
    train_seconds += std::chrono::duration<double>(Clock::now() - t_epoch).count();
    const double val = validate();
    const double train_loss = epoch_loss / double(std::max<int64_t>(epoch_windows, 1));
    if (o.progress) fmt::print(stderr, "\n");
    spdlog::info("train: epoch {}: train loss {:.4f}, validation loss {:.4f} (last value {:.4f}), lr {:.1e}", epoch, train_loss, val, baseline, lr);
    r.epochs = epoch;
    if (o.on_epoch) o.on_epoch(epoch, train_loss, val, lr);
    if (!std::isfinite(val)) throw std::runtime_error(fmt::format("validation loss is {} after epoch {}", val, epoch));
    // ReduceLROnPlateau (torch semantics, mode min, relative threshold 1e-4) + early stopping
    if (val < best_loss * (1.0 - 1e-4)) {
      best_loss = val;
      best = P;
      r.best_epoch = epoch;
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
    if (since_best >= o.early_stop_patience) {
      spdlog::info("train: no improvement for {} epochs, stopping early", since_best);
      break;
    }
  }
  std::copy(best.begin(), best.end(), model->params());
  r.best_validation_loss = best_loss;
  r.train_windows = int64_t(split.train.size());
  r.windows_per_second = train_seconds > 0 ? double(trained_windows) / train_seconds : 0;
  r.seconds = std::chrono::duration<double>(Clock::now() - t_start).count();
  manifest["provenance"] = {
      {"created_at", format_iso8601(now_ms())},
      {"tool", std::string("nordiq ") + NORDIQ_VERSION},
      {"data", data_source},
      {"data_first_step", format_iso8601(history.first_step)},
      {"data_last_step", format_iso8601(history.last_step)},
      {"validation_start", format_iso8601(split.validation_start)},
      {"servers", history.servers.size()},
      {"train_windows", r.train_windows},
      {"validation_windows", r.validation_windows},
      {"epochs", r.epochs},
      {"best_epoch", r.best_epoch},
      {"optimizer_steps", r.steps},
      {"best_validation_loss", best_loss},
      {"baseline_last_value_validation_loss", baseline},
      {"loss", "quantile loss in normalised space (TFT.md §11)"},
      {"hyperparameters", {{"hidden_size", o.hidden}, {"attention_head_size", o.heads}, {"hidden_continuous_size", o.cont_hidden},
                           {"batch_size", o.batch}, {"lr", o.lr}, {"dropout", o.dropout}, {"clip", o.clip}, {"seed", o.seed},
                           {"window_stride", o.windows.stride}, {"min_encoder_length", o.windows.min_encoder},
                           {"max_windows_per_epoch", o.max_windows}, {"full_encoder_share", o.full_encoder_share}}},
      {"windows_per_second", r.windows_per_second},
  };
  model->set_manifest(manifest);
  r.model = std::move(model);
  return r;
}

}  // namespace nordiq::train
