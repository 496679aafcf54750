// The TFT's blocks as plain forward functions over flat, row-major float arrays (llm.c style):
// outputs first, shapes in the signature, parameters as pointers into the one parameter buffer.
// They are the ONE forward of each block: serving calls them (engine.cpp), and so does training
// (backward.cpp), which asks them to keep what its `*_backward` needs (the `train` activations
// below) and to apply dropout where TFT.md §8 puts it. Equations: docs/TFT.md §3–6.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <utility>
#include <vector>

#include "core/rng.hpp"
#include "tft/model.hpp"

namespace nordiq::tft::nn {

struct Folds;  // tft/folded.hpp

// Linear interpolation along the feature axis, torch align_corners=True (TFT.md §3.2 exactly).
struct InterpTable {
  int n = 0, m = 0;
  std::vector<int> i0, i1;
  std::vector<float> l0, l1;
  static InterpTable make(int n, int m);
};

// Derived, read-only data a forward needs besides the parameters: the ResampleNorm gate
// factors κ = 2σ(mask) (stored at the mask's offset), and interpolation tables per size pair.
// Training only: dropout's random stream (splitmix64: deterministic per seed).
struct Rng {
  uint64_t state = 0;
  uint64_t next() { return splitmix64_next(state); }
  float uniform() { return float(next() >> 40) * (1.0f / 16777216.0f); }  // [0, 1)
};

// Inverted dropout (TFT.md §8): y[rows, n] = x ⊙ mask, mask[rows, n] ∈ {0, 1/(1−rate)} drawn
// per element in row order.
void dropout_forward(float* y, float* mask, const float* x, int ldx, int rows, int n, float rate, Rng& rng);

struct Prepared {
  const float* P = nullptr;      // parameters
  const float* kappa = nullptr;  // same indexing as P; valid at ResampleNorm mask offsets
  const float* PT = nullptr;     // every 2-D weight transposed ([in, out]), at its offset in P
  const std::map<std::pair<int, int>, InterpTable>* interp = nullptr;
  float eps = 1e-5f;
  const Folds* folds = nullptr;  // inference-time folds (serving); null: the blocks as trained
  float dropout = 0.0f;          // training only: the rate at the GRNs' GLU input (§8); 0 serving
  Rng* rng = nullptr;            // training only: the masks' stream
  const InterpTable& table(int n, int m) const { return interp->at({n, m}); }
};

// Fills kappa for every ResampleNorm mask of the table (name ending in ".mask").
void prepare_kappa(const ParamTable& table, const float* P, float* kappa);
void add_interp_tables(std::map<std::pair<int, int>, InterpTable>& tables, const GrnW& g);

// y[rows, out] (+)= x[rows, in] (stride ldx) · Wᵀ + b. With PT (transposed weights, see
// Prepared) narrow layers (in ≤ 128) use the register-blocked kernel, others oneDNN.
void linear_forward(float* y, int ldy, const float* x, int ldx, int rows, const LinearW& l, const float* P,
                    bool accumulate = false, const float* PT = nullptr);
// Transposes every 2-D weight of the table into PT (same offsets).
void prepare_transposed(const ParamTable& table, const float* P, float* PT);

void interp_forward(float* y, const float* x, int ldx, int rows, const InterpTable& t);

// y = LayerNorm(x) per row (y may alias x).
void layer_norm_forward(float* y, const float* x, int rows, int n, const float* gamma, const float* beta, float eps);

// y[rows, out] = LayerNorm(Interp(x) ⊙ κ) (no interpolation if in == out). Training keeps
// Interp(x) in keep_interp (in ≠ out only) and the LayerNorm's input in keep_pre [rows, out].
void resample_norm_forward(float* y, const float* x, int ldx, int rows, const ResampleNormW& r, const Prepared& p,
                           float* keep_interp = nullptr, float* keep_pre = nullptr);

// y[rows, o] = LayerNorm(u[:, :o] ⊙ σ(u[:, o:]) + skip), u = the GLU's linear output [rows, 2o].
// Training keeps the LayerNorm's input in keep_pre [rows, o].
void gate_add_norm_forward(float* y, const float* u, const float* skip, int ld_skip, int rows, int o,
                           const float* gamma, const float* beta, float eps, float* keep_pre = nullptr);

// Activations of one GRN application (TFT.md §3.8). Sizes: fc1/elu/fc2 [rows, hidden],
// ctx_proj [groups, hidden], glu [rows, 2·out], resid [rows, out] (resample only), out [rows, out].
// With train, also what the backward needs: res_interp [rows, out] (resample with in ≠ out),
// res_pre and gate_pre [rows, out] (the LayerNorms' inputs); with dropout, mask and dropped
// [rows, hidden] (fc2's output as the GLU read it). A categorical VSN variable uses out,
// res_interp and res_pre (its ResampleNorm).
struct GrnActs {
  float *fc1 = nullptr, *elu = nullptr, *fc2 = nullptr, *ctx_proj = nullptr, *glu = nullptr,
        *resid = nullptr, *out = nullptr;
  float *res_interp = nullptr, *res_pre = nullptr, *gate_pre = nullptr, *mask = nullptr, *dropped = nullptr;
};
// What an arena must keep of each block: serving keeps nothing extra (the default).
struct Keep {
  bool train = false;    // the backward's activations
  bool dropout = false;  // dropout masks (train only)
};
size_t grn_acts_floats(const GrnW& g, int rows, int groups, Keep keep = {});
GrnActs grn_acts_take(const GrnW& g, int rows, int groups, float*& cursor, Keep keep = {});

// context: [rows / rows_per_ctx, ctx] (one context row per group of consecutive rows), or null.
void grn_forward(const GrnActs& a, const float* x, int ldx, int rows, const float* context, int rows_per_ctx,
                 const GrnW& g, const Prepared& p);
// The GRN's steps after fc1, shared with the folded forms (tft/folded.hpp): fc1 += the context
// projection; a.elu = ELU(a.fc1); a.glu = Lin_glu(fc2(a.elu)) (one folded GEMM when p.folds has g;
// dropout between fc2 and the GLU when p.dropout > 0, into a.dropped with a.mask).
void grn_add_context(const GrnActs& a, int rows, const float* context, int rows_per_ctx, const GrnW& g, const Prepared& p);
void grn_elu(const GrnActs& a, int rows, const GrnW& g);
void grn_glu_input(const GrnActs& a, int rows, const GrnW& g, const Prepared& p);

// Variable selection network (TFT.md §4) on the flattened input F [rows, S] (embeddings and
// prescaled reals already in place). var_out[v] = ξ_v [rows, H]; out [rows, H]; weights [rows, n].
struct VsnActs {
  GrnActs flat;                 // flat.out = logits [rows, n]
  float* weights = nullptr;     // softmax(logits)
  std::vector<GrnActs> vars;    // per variable (categoricals use only .out); may share memory
  float* out = nullptr;
  bool vars_kept = false;       // each variable's activations have their own memory (a trace, training)
};
// keep_vars=false: every variable's intermediates share one region (inference); true: all kept
// (a trace; training, which also passes keep.train).
size_t vsn_acts_floats(const VsnW& v, int rows, int groups, bool keep_vars, Keep keep = {});
void vsn_acts_take(VsnActs& a, const VsnW& v, int rows, int groups, bool keep_vars, float*& cursor, Keep keep = {});
void vsn_forward(VsnActs& a, const float* flat, int rows, const float* context, int rows_per_ctx,
                 const VsnW& v, int hidden, const Prepared& p);
// VSNs run in blocks of rows, all variables per block: one variable's intermediates for a block
// stay in L2 (a whole chunk's would not). Rows are independent, so blocking changes no result.
inline constexpr int kVsnRowBlock = 256;  // measured: 128–512 equal, whole chunk (1152) 7 % slower
// A variable's activations (grn_acts_take / its categorical .out) from row r0 on.
GrnActs grn_acts_rows(const GrnActs& full, const VsnVarW& var, int r0);
// a.out rows r0.. (nr of them) += a.weights[·, i] · ξ_i (xi: variable i's outputs of those rows).
void vsn_accumulate(const VsnActs& a, const float* xi, const VsnW& v, int i, int r0, int nr, int hidden);

// Builds F for `rows = servers × steps` rows reading steps step0.. of each server from the
// model inputs: categoricals → embedding rows, reals → prescaler Lin(1→c). Steps at or past
// `valid_steps[b]` (padding) read as code 0 / value 0, so padding can never reach an output.
void vsn_gather(float* flat, const VsnW& v, const float* P, const int32_t* x_cat, int n_cat, const float* x_cont,
                int n_real, int T, int servers, int step0, int steps, const int32_t* valid_steps);

// LSTM over `steps` for `servers` sequences (TFT.md §5). gates: [servers·steps, 4H] holding
// x·W_ihᵀ + b_ih + b_hh on entry; overwritten with the activated gates (i,f,g,o) of valid steps.
// cells [servers·steps, H] receives c_t (may be null). h, c [servers, H]: initial state on entry,
// state after each server's last valid step on exit. out row (b, t) at out + b·out_stride + t·H,
// zero for t ≥ lengths[b]. WhhT: W_hh transposed [H, 4H]. scratch: [servers, 4H].
void lstm_forward(float* out, size_t out_stride, float* h, float* c, float* gates, float* cells,
                  const int32_t* lengths, int servers, int steps, int H, const float* WhhT, float* scratch);

// Interpretable multi-head attention core (TFT.md §6) after the projections, per server:
// Q [servers·D, h·d] (head i at columns i·d), K [servers·T, h·d], V [servers·T, d].
// Mask: encoder key j blocked iff j ≥ enc_len[b]; decoder key E+j' blocked iff j' ≥ query i.
// probs [servers, D, h, T] (masked keys exactly 0), heads [servers·D, h, d], mean [servers·D, d].
// scratch: T·(d + 1) floats.
void attention_forward(float* probs, float* heads, float* mean, const float* Q, const float* K, const float* V,
                       const int32_t* enc_len, int servers, int E, int D, int n_heads, int d, float* scratch);

// Element-wise helpers shared by the blocks.
float sigmoid(float x);
void softmax_rows(float* y, const float* x, int rows, int n);

}  // namespace nordiq::tft::nn
