// The whole TFT forward, written once (docs/TFT.md §7): serving (tft/engine.hpp) runs it on
// chunks of servers with folds; training (tft/training_graph.hpp) runs it unfolded, with the
// activations its backward reads kept and dropout where §8 puts it (a Workspace laid out with
// nn::Keep::train, a Prepared with a dropout rate). Adding a layer means one edit here, its
// backward in training_graph.cpp, and its buffers in Workspace::layout.
#pragma once

#include <cstddef>
#include <map>
#include <utility>
#include <vector>

#include "tft/engine.hpp"
#include "tft/folded.hpp"
#include "tft/layers.hpp"
#include "tft/model.hpp"

namespace nordiq::tft {

// Weights derived from the parameters before a forward (cheap, so always in sync with a
// parameter buffer a trainer is updating): ResampleNorm gate factors, transposed 2-D weights,
// the per-head Q/K projections and the K output heads concatenated (one GEMM each), summed
// LSTM biases, interpolation tables, and the serving folds.
struct Derived {
  std::vector<float> kappa, PT;             // gate factors; transposed 2-D weights (same offsets)
  std::vector<float> q_wt, q_b, k_wt, k_b;  // [H, h·d] (transposed), [h·d]
  std::vector<float> out_wt, out_b;         // [H, K·Q] (transposed), [K·Q]
  std::vector<float> enc_bias, dec_bias;    // b_ih + b_hh; W_hh transposed is in PT
  std::map<std::pair<int, int>, nn::InterpTable> interp;
  nn::Folds folds;  // empty: the blocks as trained

  explicit Derived(const Model& m);  // sizes, interpolation tables
  // Recomputes everything from P; `fold`: also the serving folds (tft/folded.hpp).
  void update(const Model& m, const float* P, bool fold);
  // The blocks' view of these weights (no dropout).
  nn::Prepared prepared(const Model& m, const float* P) const;
};

// Activations of one chunk of servers: one allocation, laid out from (config, servers, E, D).
// `trace` keeps what forward_traced emits (every VSN variable's outputs, the flat inputs);
// `keep.train` what training's backward reads (and keep.dropout its masks).
struct Workspace {
  std::vector<float> mem;
  int servers = 0, E = 0, D = 0;
  bool trace = false;
  nn::Keep keep;
  float *s_flat, *e_flat, *d_flat;
  float *s_z, *e_z, *d_z;  // the folded VSNs' compact inputs (tft/folded.hpp)
  nn::VsnActs s_vsn, e_vsn, d_vsn;
  nn::GrnActs ctx[4];  // variable selection, initial hidden, initial cell, enrichment
  float *vsn_all, *enc_gates, *dec_gates, *enc_cells, *dec_cells, *lstm_out, *h, *c, *enc_h, *enc_c, *lstm_scratch;
  float *post_in, *post_mask, *post_glu, *post_pre, *phi;  // post-LSTM gate: input as read, glu, pre-norm, φ
  nn::GrnActs enrich;
  float *theta_dec, *phi_dec, *Q, *K, *V, *heads, *heads_mask, *heads_dropped, *heads_mean, *probs, *attn_scratch;
  float *attn_out, *attn_mask, *attn_dropped;                                // w_h output, its dropout
  float *post_attn_in, *post_attn_mask, *post_attn_glu, *post_attn_pre, *alpha;  // post-attention gate
  nn::GrnActs pos_ff;
  float *pre_glu, *pre_pre, *omega, *z;

  // Lays the arena out; with base == nullptr only measures. Returns floats used.
  size_t layout(const Model& m, const nn::Folds& folded, float* base);
  void ensure(const Model& m, const nn::Folds& folded, int servers, int E, int D, bool trace, nn::Keep keep = {});
};

// Throws std::invalid_argument, its message starting with `who` and naming the bad field, unless
// every window of `in` (batch ≥ 1) has steps and lengths in range and every cell the network
// reads holds a valid code / a finite value. Serving and training check their batches with it.
// It is the two below: the shapes of the whole batch, then the values of servers [b0, b0 + n)
// (the first bad cell in step order, then variable order), which the engine checks per chunk on
// its threads, just before the chunk's network reads the same rows.
void validate_inputs(const Model& m, const ForwardInputs& in, const char* who);
void validate_shapes(const Model& m, const ForwardInputs& in, const char* who);
void validate_values(const Model& m, const ForwardInputs& in, const char* who, int b0, int n);

// The network for servers [b0, b0 + n) of the batch into s (docs/TFT.md §7), with the parameters
// P and the derived weights d (p: the blocks' view, with dropout when training). The outputs
// `out` asks for are written at the chunk's rows; z stays in s.z otherwise. shared: the known
// inputs the whole batch shares (serving only; null: none).
void run_network(Workspace& s, const Model& m, const float* P, const Derived& d, const nn::Prepared& p,
                 const ForwardInputs& in, const ForwardOutputs& out, int b0, int n, const nn::SharedInputs* enc_shared,
                 const nn::SharedInputs* dec_shared);

}  // namespace nordiq::tft
