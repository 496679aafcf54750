// Helpers shared by the TFT tests: golden paths, batches in engine layout, file rewriting.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "tft/engine.hpp"
#include "tft/model.hpp"
#include "tft/safetensors.hpp"

namespace nordiq::tft::testing {

inline std::string golden(const std::string& name) { return std::string(NORDIQ_SHARED_DIR) + "/golden/" + name; }

struct Batch {
  int B = 0, E = 0, D = 0;
  std::vector<int32_t> x_cat, enc, dec;
  std::vector<float> x_cont, target_scale;
  ForwardInputs inputs() const { return {B, E, D, x_cat.data(), x_cont.data(), enc.data(), dec.data(), target_scale.data()}; }
};

struct Outputs {
  std::vector<float> pn, pred, attn, sw, ew, dw;
  Outputs(const ModelConfig& c, const TftWeights& w, int B, int E, int D)
      : pn(size_t(B) * D * c.n_targets() * c.n_quantiles()), pred(pn.size()), attn(size_t(B) * D * c.heads * (E + D)),
        sw(size_t(B) * w.static_vsn.n()), ew(size_t(B) * E * w.encoder_vsn.n()), dw(size_t(B) * D * w.decoder_vsn.n()) {}
  ForwardOutputs ptrs() { return {pn.data(), pred.data(), attn.data(), sw.data(), ew.data(), dw.data()}; }
};

inline Batch batch_from_golden(const SafeTensors& f, int E) {
  Batch b;
  const auto& s = f.info("in.x_cont").shape;
  b.B = int(s[0]);
  b.E = E;
  b.D = int(s[1]) - E;
  for (auto v : f.i64("in.x_cat")) b.x_cat.push_back(int32_t(v));
  for (auto v : f.i64("in.encoder_lengths")) b.enc.push_back(int32_t(v));
  for (auto v : f.i64("in.decoder_lengths")) b.dec.push_back(int32_t(v));
  b.x_cont = f.f32("in.x_cont");
  b.target_scale = f.f32("in.target_scale");
  return b;
}

// A random ragged batch for `model` (valid codes, values in ±2, lengths uniform).
inline Batch random_batch(const Model& m, int B, int E, int D, uint32_t seed, bool ragged_decoder = false) {
  const ModelConfig& c = m.config();
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-2.0f, 2.0f);
  Batch b;
  b.B = B;
  b.E = E;
  b.D = D;
  const int T = E + D;
  b.x_cat.resize(size_t(B) * T * c.n_cat());
  for (size_t i = 0; i < b.x_cat.size(); ++i) {
    const int classes = c.embedding_sizes.at(c.x_categoricals[i % size_t(c.n_cat())]).first;
    b.x_cat[i] = int32_t(rng() % uint32_t(classes));
  }
  b.x_cont.resize(size_t(B) * T * c.n_real());
  for (auto& x : b.x_cont) x = u(rng);
  for (int i = 0; i < B; ++i) {
    b.enc.push_back(int32_t(1 + rng() % uint32_t(E)));
    b.dec.push_back(ragged_decoder ? int32_t(1 + rng() % uint32_t(D)) : D);
  }
  b.enc[0] = E;
  b.target_scale.resize(size_t(B) * c.n_targets() * 2);
  for (size_t i = 0; i < b.target_scale.size(); ++i) b.target_scale[i] = i % 2 ? 0.5f + std::abs(u(rng)) : u(rng) * 10;
  return b;
}

// Rewrites a safetensors file, letting `edit` change/drop entries (return false to drop).
using Edit = std::function<bool(const std::string& name, std::vector<int64_t>& shape, std::vector<float>& data)>;
inline void rewrite(const SafeTensors& f, const std::string& out, const Edit& edit) {
  SafeTensorsWriter w;
  for (const auto& [k, v] : f.metadata()) w.set_metadata(k, v);
  for (const auto& [name, info] : f.tensors()) {
    if (info.dtype == DType::I64) {
      auto v = f.i64(name);
      w.add_i64(name, info.shape, v);
      continue;
    }
    auto shape = info.shape;
    auto data = f.f32(name);
    if (edit(name, shape, data)) w.add_f32(name, shape, data);
  }
  w.write(out);
}

inline std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("nordiq_tft_test_" + std::to_string(::getpid()) + "_" + name)).string();
}

}  // namespace nordiq::tft::testing
