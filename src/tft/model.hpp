// The TFT model: its configuration (from the manifest), the parameter table that lays every
// tensor out in ONE contiguous float allocation (llm.c style; a trainer allocates gradients and
// Adam moments with the same table), and loading/validation of safetensors weights.
//
// Parameter names are pytorch-forecasting state_dict keys (docs/TFT.md §9). Aliased names
// (the per-VSN prescalers, post_lstm_*_decoder) point at the same offset as their target.
#pragma once

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tft/safetensors.hpp"

namespace nordiq::tft {

inline constexpr size_t kNoParam = std::numeric_limits<size_t>::max();

// Architecture + input contract, parsed from the manifest's "model" object.
struct ModelConfig {
  int hidden = 0;            // H
  int heads = 0;             // h (attention_head_size)
  int head_dim = 0;          // d = H / h
  int cont_hidden = 0;       // c (hidden_continuous_size)
  int lstm_layers = 1;
  float layer_norm_eps = 1e-5f;
  int max_encoder_length = 0;  // E of the manifest (0 if absent): default window for callers
  int max_prediction_length = 0;
  std::vector<std::string> targets;
  std::vector<float> quantiles;
  std::vector<std::string> x_categoricals;  // x_cat column order
  std::vector<std::string> x_reals;         // x_cont column order
  std::vector<std::string> static_variables, encoder_variables, decoder_variables;  // VSN orders
  std::map<std::string, std::pair<int, int>> embedding_sizes;  // name → (classes, dim)

  int n_targets() const { return static_cast<int>(targets.size()); }
  int n_quantiles() const { return static_cast<int>(quantiles.size()); }
  int n_cat() const { return static_cast<int>(x_categoricals.size()); }
  int n_real() const { return static_cast<int>(x_reals.size()); }

  // `manifest` is the whole manifest; the architecture is read from manifest["model"].
  // Throws std::runtime_error naming the missing/invalid field.
  static ModelConfig from_manifest(const nlohmann::json& manifest);
};

// ---- parameter table ------------------------------------------------------------------------

struct ParamSpec {
  std::string name;
  std::vector<int64_t> shape;
  size_t offset = 0;  // in floats, into the parameter buffer
  size_t numel = 0;
  int alias_of = -1;  // index of the canonical spec, or -1
};

class ParamTable {
 public:
  size_t add(const std::string& name, std::vector<int64_t> shape);  // returns the offset
  void alias(const std::string& name, const std::string& target);
  const std::vector<ParamSpec>& specs() const { return specs_; }
  size_t total() const { return total_; }       // floats in the buffer (aligned)
  size_t unique_count() const { return unique_count_; }  // floats of unique parameters
  const ParamSpec* find(const std::string& name) const;

 private:
  std::vector<ParamSpec> specs_;
  std::map<std::string, int> index_;
  size_t total_ = 0, unique_count_ = 0;
};

// Offsets of each block's tensors (kNoParam = absent). Kernels take `params + offset`.
struct LinearW { size_t w = kNoParam, b = kNoParam; int in = 0, out = 0; };
struct LayerNormW { size_t w = kNoParam, b = kNoParam; int n = 0; };
struct ResampleNormW { size_t mask = kNoParam; LayerNormW norm; int in = 0, out = 0; };
struct GateAddNormW { LinearW glu; LayerNormW norm; int out = 0; };  // glu.out == 2·out
struct GrnW {
  int in = 0, hidden = 0, out = 0, ctx = 0;  // ctx = 0: no context
  LinearW fc1, context, fc2;                 // context has no bias
  GateAddNormW gate;
  bool resample = false;                     // in ≠ out
  ResampleNormW res;
};
struct VsnVarW {
  std::string name;
  bool categorical = false;
  int width = 0;           // e (embedding dim) or c
  int flat_offset = 0;     // column offset inside the flattened input
  int source = 0;          // x_cat column (categorical) or x_cont column (real)
  size_t embedding = kNoParam;  // categorical: [classes, e]
  int classes = 0;
  LinearW prescaler;       // real: Lin(1→c), shared between VSNs
  ResampleNormW cat_norm;  // categorical branch
  GrnW grn;                // real branch
};
struct VsnW {
  std::vector<VsnVarW> vars;
  int flat_width = 0;
  GrnW flat;               // GRN(S, min(H,n), n [, ctx H])
  int n() const { return static_cast<int>(vars.size()); }
};
struct LstmW { LinearW ih, hh; int hidden = 0; };
struct AttentionW { LinearW v; std::vector<LinearW> q, k; LinearW w_h; int heads = 0, d = 0; };

struct TftWeights {
  VsnW static_vsn, encoder_vsn, decoder_vsn;
  GrnW ctx_variable_selection, ctx_initial_hidden, ctx_initial_cell, ctx_enrichment;
  LstmW lstm_encoder, lstm_decoder;
  LinearW post_lstm_glu;       // GLU(H→H): fc [2H,H]
  LayerNormW post_lstm_norm;
  GrnW static_enrichment;
  AttentionW attention;
  GateAddNormW post_attn, pre_output;
  GrnW pos_wise_ff;
  std::vector<LinearW> output_layers;  // K × Lin(H→Q)
};

// Block builders (also used by the module checks with another prefix).
LinearW add_linear(ParamTable& t, const std::string& prefix, int in, int out, bool bias = true);
LayerNormW add_layer_norm(ParamTable& t, const std::string& prefix, int n);
ResampleNormW add_resample_norm(ParamTable& t, const std::string& prefix, int in, int out);
GateAddNormW add_gate_add_norm(ParamTable& t, const std::string& prefix, int in, int out);
GrnW add_grn(ParamTable& t, const std::string& prefix, int in, int hidden, int out, int ctx);

// Copies every tensor `prefix + name` of the table into P (canonical copies; aliases are checked
// to be present, of the right shape and identical). Throws naming the first bad tensor, or
// listing missing tensors; with strict_extra also refuses tensors under `prefix` that the
// table does not know.
void load_params(const ParamTable& table, const SafeTensors& file, const std::string& prefix, bool strict_extra,
                 float* P);

// ---- model ----------------------------------------------------------------------------------

class Model {
 public:
  // Builds the table for `config` and zero-initialises the parameters.
  explicit Model(ModelConfig config);

  const ModelConfig& config() const { return config_; }
  const nlohmann::json& manifest() const { return manifest_; }  // raw, for other modules' fields
  const ParamTable& table() const { return table_; }
  const TftWeights& weights() const { return weights_; }
  float* params() { return params_.data(); }
  const float* params() const { return params_.data(); }

  // Loads every tensor `prefix + name` of the table from `file`: checks presence, dtype and
  // shape of all names (aliases too), and that no unexpected tensor with the prefix exists
  // (only when `strict_extra`). Messages name the tensor, e.g.
  //   tensor 'lstm_encoder.weight_hh_l0': expected shape [256, 64], got [256, 32]
  void load_weights(const SafeTensors& file, const std::string& prefix, bool strict_extra);

  // Writes all 1004 names (aliases as copies) plus the manifest under __metadata__["config"].
  void save(const std::string& path) const;

  void set_manifest(nlohmann::json manifest) { manifest_ = std::move(manifest); }

 private:
  ModelConfig config_;
  nlohmann::json manifest_;
  ParamTable table_;
  TftWeights weights_;
  std::vector<float> params_;
};

// Reads the manifest (__metadata__["config"]) and weights of a model or golden file.
// Weight prefix: "w." for golden files (manifest format "nordiq-tft-golden"), "" otherwise.
std::unique_ptr<Model> load_model(const SafeTensors& file);
std::unique_ptr<Model> load_model_file(const std::string& path);
nlohmann::json read_manifest(const SafeTensors& file);  // throws if absent/invalid

}  // namespace nordiq::tft
