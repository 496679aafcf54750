// The Forecaster interface: one call forecasts a whole batch of servers (never one call per
// server). The baseline (forecast/baseline.hpp) and the TFT (forecast/tft_forecaster.hpp) both
// implement it, so the forecast cycle, risk and the API never know which model ran.
//
// Output layout, chosen for its readers: values[b][k][q][t] — per server b, per metric k (contract
// order), per quantile q (kQuantiles order), the horizon's steps t contiguous. Risk scans one
// quantile's path over time and the API writes `"p50": [96 values]`, both straight from one run
// of memory; the TFT's [t][k][q] output is transposed once while it is de-normalised anyway.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string_view>
#include <vector>

#include "core/metrics.hpp"
#include "core/window.hpp"
#include "forecast/contract.hpp"

namespace nordiq::forecast {

inline constexpr int kNumQuantiles = 7;
inline constexpr std::array<float, kNumQuantiles> kQuantiles = {0.02f, 0.1f,  0.25f, 0.5f,
                                                                 0.75f, 0.9f, 0.98f};
inline constexpr std::array<std::string_view, kNumQuantiles> kQuantileNames = {
    "p02", "p10", "p25", "p50", "p75", "p90", "p98"};
// Indices of the quantiles the API and risk use most.
inline constexpr int kP10 = 1;
inline constexpr int kP50 = 3;
inline constexpr int kP90 = 5;
inline constexpr int kP02 = 0;
inline constexpr int kP98 = 6;

enum class ModelKind : uint8_t { baseline, tft };
inline std::string_view model_kind_name(ModelKind m) {
  return m == ModelKind::tft ? "tft" : "baseline";
}

// Optional TFT-native interpretation, per server (sizes fixed by the model's variable lists,
// whose names are forecast::input_contract(inputs)'s static/encoder/decoder variables).
struct Interpretation {
  InputSet inputs = InputSet::decoder;  // which decoder-only inputs the model has
  int static_vars = 0;   // 30 for the NordIQ contract
  int encoder_vars = 0;  // 22
  int decoder_vars = 0;  // 7 (+ 28 or 42 decoder-only inputs)
  int encoder_steps = 0; // attention positions kept per server (the padded E of the batch)
  std::vector<float> static_importance;   // [B, static_vars]
  std::vector<float> encoder_importance;  // [B, encoder_vars], mean over the server's encoder steps
  std::vector<float> decoder_importance;  // [B, decoder_vars], mean over horizon steps
  std::vector<float> attention;           // [B, encoder_steps], mean over heads and horizon steps;
                                          // position i = i-th step of the server's own encoder
  std::vector<int> encoder_length;        // [B] valid attention positions of each server
  std::vector<uint8_t> present;           // [B] 1 when this server has interpretation outputs
};

// The result of one Forecaster call. Buffers are reused across calls (resize never shrinks
// capacity), so a steady forecast cycle allocates nothing once warmed up.
struct ForecastBatch {
  int batch = 0;
  int horizon = kHorizonSteps;
  std::vector<float> values;       // [batch][kNumMetrics][kNumQuantiles][horizon], raw units
  std::vector<ModelKind> model;    // [batch]
  Interpretation interpretation;   // filled only by models that have it
  // Which candidate serves each [batch][kNumMetrics][horizon band] (forecast/skill_tracker.hpp's
  // Candidate); empty unless the forecaster is the served one.
  std::vector<uint8_t> served_by;

  void resize(int new_batch, int new_horizon = kHorizonSteps) {
    batch = new_batch;
    horizon = new_horizon;
    values.resize(static_cast<size_t>(batch) * kNumMetrics * kNumQuantiles * horizon);
    model.assign(static_cast<size_t>(batch), ModelKind::baseline);
    interpretation.present.assign(static_cast<size_t>(batch), 0);
    served_by.clear();
  }
  size_t server_stride() const { return static_cast<size_t>(kNumMetrics) * kNumQuantiles * horizon; }
  // The horizon path of server b, metric k, quantile q.
  float* path(int b, int k, int q) {
    return values.data() + b * server_stride() + (static_cast<size_t>(k) * kNumQuantiles + q) * horizon;
  }
  const float* path(int b, int k, int q) const {
    return values.data() + b * server_stride() + (static_cast<size_t>(k) * kNumQuantiles + q) * horizon;
  }
  float at(int b, int t, int k, int q) const { return path(b, k, q)[t]; }
};

// Runs fn(i) for every i in [0, n), possibly on several threads (each i writes only its own
// rows); empty: a plain loop on the caller.
using ForEachRow = std::function<void(int n, const std::function<void(int)>& fn)>;

// fn(i) for i in [0, n): on `rows`' threads, or in order on the caller when it is empty.
inline void each_row(const ForEachRow& rows, int n, const std::function<void(int)>& fn) {
  if (rows) return rows(n, fn);
  for (int i = 0; i < n; ++i) fn(i);
}

class Forecaster {
 public:
  virtual ~Forecaster() = default;
  // A short description for /status and logs (e.g. "baseline", "tft:default").
  virtual std::string_view description() const = 0;

  // Two phases: prepare() reads the windows (features, baseline and robust fits; the views must
  // stay valid until it returns: the forecast cycle hands it copies it made under the store's
  // lock); run() does the expensive part (the network) without touching any window.
  // prepare() sizes `out` for windows.size() servers. Windows should have length ≥ 1; one with
  // no steps gets a flat zero forecast rather than an exception, so one bad server cannot sink
  // a batch. Thread-compatible: one prepare/run at a time per instance.
  virtual void prepare(std::span<const WindowView> windows, ForecastBatch& out) = 0;
  virtual void run(ForecastBatch& out) = 0;
  // The forecaster's threads, idle between forecasts, for the caller's per-server work; empty
  // when it has none.
  virtual ForEachRow for_each_row() { return {}; }

  void forecast(std::span<const WindowView> windows, ForecastBatch& out) {
    prepare(windows, out);
    run(out);
  }
};

}  // namespace nordiq::forecast
