#include "forecast/tft_forecaster.hpp"

#include <fmt/core.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <tuple>

namespace nordiq::forecast {

namespace {

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ",") + s;
  return out;
}

}  // namespace

std::vector<std::string> check_model_contract(const tft::Model& model) {
  const tft::ModelConfig& c = model.config();
  std::vector<std::string> warnings;
  if (c.n_targets() != kNumMetrics)
    throw std::runtime_error(fmt::format("model: {} targets, NordIQ forecasts {}", c.n_targets(), kNumMetrics));
  for (int k = 0; k < kNumMetrics; ++k)
    if (c.targets[k] != kMetrics[k].name)
      throw std::runtime_error(fmt::format("model: target {} is '{}', expected '{}'", k, c.targets[k], kMetrics[k].name));
  if (c.n_quantiles() != kNumQuantiles)
    throw std::runtime_error(fmt::format("model: {} quantiles, expected {}", c.n_quantiles(), kNumQuantiles));
  for (int q = 0; q < kNumQuantiles; ++q)
    if (std::fabs(c.quantiles[q] - kQuantiles[q]) > 1e-6f)
      throw std::runtime_error(fmt::format("model: quantile {} is {}, expected {}", q, c.quantiles[q], kQuantiles[q]));
  // Which decoder-only inputs: the column count says which contract the model claims.
  const InputSet inputs = input_set_of(c.x_reals.size());
  const InputContract& contract = input_contract(inputs);
  if (c.x_categoricals != contract.x_categoricals)
    throw std::runtime_error(fmt::format("model: x_categoricals [{}], expected [{}]", join(c.x_categoricals),
                                         join(contract.x_categoricals)));
  const auto& reals = contract.x_reals;
  if (c.x_reals.size() != reals.size())
    throw std::runtime_error(fmt::format("model: {} x_reals, expected {}", c.x_reals.size(), reals.size()));
  for (size_t i = 0; i < reals.size(); ++i)
    if (c.x_reals[i] != reals[i])
      throw std::runtime_error(fmt::format("model: x_reals[{}] is '{}', expected '{}'", i, c.x_reals[i], reals[i]));
  for (const auto& [field, have, want] :
       {std::tuple{"static_variables", &c.static_variables, &contract.static_variables},
        std::tuple{"encoder_variables", &c.encoder_variables, &contract.encoder_variables},
        std::tuple{"decoder_variables", &c.decoder_variables, &contract.decoder_variables}})
    if (*have != *want)
      throw std::runtime_error(fmt::format("model: {} [{}], expected [{}]", field, join(*have), join(*want)));
  for (const auto& [name, classes] : {std::pair<std::string, int>{"profile", kNumProfiles + 1}, {"status", kNumStatuses + 1}}) {
    auto it = c.embedding_sizes.find(name);
    if (it != c.embedding_sizes.end() && it->second.first != classes)
      throw std::runtime_error(fmt::format("model: embedding '{}' has {} classes, expected {}", name, it->second.first, classes));
  }
  const nlohmann::json& manifest = model.manifest();
  if (manifest.contains("normalizer")) {
    const std::string err = check_normalizer_manifest(manifest["normalizer"], inputs);
    if (!err.empty()) throw std::runtime_error("model manifest " + err);
  } else {
    warnings.push_back(fmt::format("model manifest has no 'normalizer' rules: assuming this build's (normalizer version {})",
                                   normalizer_manifest(inputs)["version"].get<int>()));
  }
  return warnings;
}

TftForecaster::TftForecaster(std::unique_ptr<tft::Model> model, std::string name, int threads)
    : model_(std::move(model)), description_("tft:" + std::move(name)) {
  if (!model_) throw std::invalid_argument("TftForecaster: no model");
  check_model_contract(*model_);
  const auto& c = model_->config();
  config_.max_encoder = c.max_encoder_length > 0 ? c.max_encoder_length : kMaxEncoderSteps;
  config_.horizon = c.max_prediction_length > 0 ? c.max_prediction_length : kHorizonSteps;
  config_.inputs = input_set_of(static_cast<size_t>(c.n_real()));
  engine_ = std::make_unique<tft::Engine>(*model_, std::max(threads, 1));
}

TftForecaster::~TftForecaster() = default;

ForEachRow TftForecaster::for_each_row() {
  // the engine's threads are idle between forwards: the per-server work before and after runs on them
  return [this](int n, const std::function<void(int)>& fn) { engine_->parallel_for(n, fn); };
}

void TftForecaster::prepare(std::span<const WindowView> windows, ForecastBatch& out) {
  out.resize(static_cast<int>(windows.size()), config_.horizon);
  tft_views_.clear();
  tft_rows_.clear();
  tft_dest_.clear();
  baseline_dest_.clear();
  baseline_fits_.clear();
  tft_fallbacks_.clear();
  for (int b = 0; b < static_cast<int>(windows.size()); ++b) {
    if (windows[b].length >= kMinEncoderSteps) {
      tft_rows_.push_back(static_cast<int>(tft_views_.size()));
      tft_dest_.push_back(b);
      tft_views_.push_back(windows[b]);
      tft_fallbacks_.push_back(fit_baseline(windows[b]));
    } else {
      baseline_dest_.push_back(b);
      baseline_fits_.push_back(fit_baseline(windows[b]));
    }
  }
  // Copies what the network needs out of the windows; after this the windows may change.
  if (!tft_views_.empty()) assemble_features(tft_views_, config_, features_, for_each_row());
  tft_views_.clear();  // views must not be used after prepare() returns
}

void TftForecaster::run(ForecastBatch& out) {
  for (size_t i = 0; i < baseline_dest_.size(); ++i) write_baseline(baseline_fits_[i], out, baseline_dest_[i]);
  if (tft_dest_.empty()) return;
  const int B = features_.batch;
  z_.resize(static_cast<size_t>(B) * features_.decoder * kNumMetrics * kNumQuantiles);
  tft::ForwardInputs in;
  in.batch = B;
  in.encoder_steps = features_.encoder;
  in.decoder_steps = features_.decoder;
  in.x_cat = features_.x_cat.data();
  in.x_cont = features_.x_cont.data();
  in.encoder_lengths = features_.encoder_lengths.data();
  in.decoder_lengths = features_.decoder_lengths.data();
  in.target_scale = features_.target_scale.data();
  const tft::TftWeights& w = model_->weights();
  const int T = features_.encoder + features_.decoder;
  static_w_.resize(static_cast<size_t>(B) * w.static_vsn.n());
  encoder_w_.resize(static_cast<size_t>(B) * w.encoder_vsn.n());
  decoder_w_.resize(static_cast<size_t>(B) * w.decoder_vsn.n());
  attention_.resize(static_cast<size_t>(B) * T);
  tft::ForwardOutputs o;
  o.prediction_normalized = z_.data();
  o.static_weights = static_w_.data();
  o.encoder_importance = encoder_w_.data();
  o.decoder_importance = decoder_w_.data();
  o.attention_mean = attention_.data();
  engine_->forward(in, o);
  denormalize_outputs(z_.data(), features_, tft_rows_, tft_dest_, out, for_each_row());
  for (int d : tft_dest_) out.model[d] = ModelKind::tft;
  scatter_interpretation(out.interpretation, out.batch);
  replace_nonfinite_rows(out);
}

// A server whose network outputs are not all finite (weights that overflow on its inputs) gets
// its baseline forecast and no interpretation: a NaN must never reach risk, alerts or the API.
void TftForecaster::replace_nonfinite_rows(ForecastBatch& out) {
  const size_t row_len = static_cast<size_t>(features_.decoder) * kNumMetrics * kNumQuantiles;
  last_nonfinite_ = 0;
  first_nonfinite_.clear();
  for (size_t i = 0; i < tft_dest_.size(); ++i) {
    const float* z = z_.data() + static_cast<size_t>(tft_rows_[i]) * row_len;
    const float* bad = std::find_if(z, z + row_len, [](float v) { return !std::isfinite(v); });
    if (bad == z + row_len) continue;
    if (last_nonfinite_++ == 0) {
      const size_t at = static_cast<size_t>(bad - z);
      first_nonfinite_ = fmt::format("{} {} at +{} steps = {}", kMetrics[at / kNumQuantiles % kNumMetrics].name,
                                     kQuantileNames[at % kNumQuantiles], at / (kNumMetrics * kNumQuantiles) + 1, *bad);
    }
    const int d = tft_dest_[i];
    write_baseline(tft_fallbacks_[i], out, d);
    out.model[d] = ModelKind::baseline;
    out.interpretation.present[d] = 0;
  }
  if (last_nonfinite_ > 0)
    spdlog::warn("model {}: non-finite outputs for {} of {} servers (first: {}); they get the baseline forecast",
                 description_, last_nonfinite_, tft_dest_.size(), first_nonfinite_);
}

void TftForecaster::probe_outputs() {
  constexpr EpochMs kProbeStart = 1'735'689'600'000;  // 2025-01-01T00:00:00Z
  const int L = config_.max_encoder;
  std::vector<std::vector<float>> series(2 * kNumMetrics, std::vector<float>(static_cast<size_t>(L)));
  std::vector<WindowView> windows(2);
  for (int w = 0; w < 2; ++w) {
    windows[w].server = static_cast<ServerId>(w);
    windows[w].length = L;
    windows[w].first_step = kProbeStart;
    windows[w].step_ms = static_cast<int64_t>(model_->manifest().value("step_seconds", kDefaultStepSeconds)) * 1000;
    for (int k = 0; k < kNumMetrics; ++k) {
      // Calm: a quarter of the range. Busy: rising from a half to nine tenths of it.
      const double lo = kMetrics[k].min, span = std::min(kMetrics[k].max, 100.0) - lo;
      std::vector<float>& x = series[static_cast<size_t>(w * kNumMetrics + k)];
      for (int i = 0; i < L; ++i)
        x[i] = static_cast<float>(lo + span * (w == 0 ? 0.25 : 0.5 + 0.4 * i / std::max(L - 1, 1)));
      windows[w].metric[k] = x.data();
    }
  }
  ForecastBatch out;
  forecast(windows, out);
  if (last_nonfinite_ > 0)
    throw std::runtime_error(fmt::format("model {}: its first forward gave non-finite outputs ({}): refused",
                                         description_, first_nonfinite_));
}

// Feature row i → forecast row tft_dest_[i]; attention kept over encoder positions only (the past).
void TftForecaster::scatter_interpretation(Interpretation& ip, int batch) const {
  const tft::TftWeights& w = model_->weights();
  const int ns = w.static_vsn.n(), ne = w.encoder_vsn.n(), nd = w.decoder_vsn.n();
  const int E = features_.encoder, T = features_.encoder + features_.decoder;
  ip.inputs = config_.inputs;
  ip.static_vars = ns;
  ip.encoder_vars = ne;
  ip.decoder_vars = nd;
  ip.encoder_steps = E;
  const auto n = static_cast<size_t>(batch);
  ip.static_importance.resize(n * ns);
  ip.encoder_importance.resize(n * ne);
  ip.decoder_importance.resize(n * nd);
  ip.attention.resize(n * E);
  ip.encoder_length.resize(n);
  for (size_t i = 0; i < tft_dest_.size(); ++i) {
    const auto d = static_cast<size_t>(tft_dest_[i]);
    std::copy_n(static_w_.data() + i * ns, ns, ip.static_importance.data() + d * ns);
    std::copy_n(encoder_w_.data() + i * ne, ne, ip.encoder_importance.data() + d * ne);
    std::copy_n(decoder_w_.data() + i * nd, nd, ip.decoder_importance.data() + d * nd);
    std::copy_n(attention_.data() + i * T, E, ip.attention.data() + d * E);
    ip.encoder_length[d] = features_.encoder_lengths[i];
    ip.present[d] = 1;
  }
}

}  // namespace nordiq::forecast
