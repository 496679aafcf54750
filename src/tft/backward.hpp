// The TFT's blocks for training: each `*_backward` sits beside the forward it differentiates.
// The forwards here are thin: they take room in the arena for what the backward needs and call
// the serving blocks of tft/layers.hpp (the one forward), which keep those activations and apply
// dropout (nn::Keep, nn::Prepared::dropout). Equations: docs/TFT.md §3–6, 8, 12.
//
// Conventions (all functions):
// - row-major float arrays, shapes in the signature, parameters as offsets into P (and the
//   gradients at the same offsets into G, the gradient buffer laid out by the same ParamTable);
// - every backward ACCUMULATES (+=) into input gradients and parameter gradients, so a tensor
//   that fans out simply receives several backward calls;
// - dropout (§3.11, §8) is inverted dropout with a per-element mask drawn from the graph's RNG;
//   rate 0 stores no mask and costs nothing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <utility>
#include <vector>

#include "core/rng.hpp"
#include "tft/layers.hpp"
#include "tft/model.hpp"

namespace nordiq::tft::grad {

// Bump allocator over stable blocks: pointers stay valid until reset(); after one warm-up pass
// over a batch shape, later passes allocate nothing.
class Arena {
 public:
  float* take(size_t n);
  float* take_zero(size_t n);
  void reset() { block_ = 0, used_ = 0; }
  size_t mark() const { return (block_ << 40) | used_; }
  void release(size_t mark) { block_ = mark >> 40, used_ = mark & ((size_t(1) << 40) - 1); }

 private:
  struct Block {
    std::vector<float> storage;
    float* mem = nullptr;  // 64-byte aligned start inside storage
    size_t size = 0;
    void allocate(size_t n);
  };
  std::vector<Block> blocks_;
  size_t block_ = 0, used_ = 0;
};

using Rng = nn::Rng;  // dropout masks: deterministic per seed

// What every block needs besides its inputs: parameters, gate factors κ = 2σ(mask) (at the mask
// offsets), interpolation tables, ε, dropout rate/RNG, and the arenas.
struct Ctx {
  const float* P = nullptr;
  const float* kappa = nullptr;
  const float* PT = nullptr;  // transposed 2-D weights (nn::prepare_transposed), or null
  const std::map<std::pair<int, int>, nn::InterpTable>* interp = nullptr;
  float eps = 1e-5f;
  float dropout = 0.0f;
  Rng* rng = nullptr;
  Arena* acts = nullptr;     // forward activations (live until backward)
  Arena* scratch = nullptr;  // temporaries of one backward call (mark/release)
  const nn::InterpTable& table(int n, int m) const { return interp->at({n, m}); }
  // The serving blocks' view: same parameters, unfolded, with this context's dropout.
  nn::Prepared prepared() const;
  nn::Keep keep() const { return {true, dropout > 0.0f}; }
};

// ---- dropout ----------------------------------------------------------------------------------
// Returns x itself (mask = null) when the rate is 0, else a dropped copy; mask holds 0 or 1/(1−p).
const float* dropout_forward(const float* x, int ldx, int rows, int n, float*& mask, const Ctx& c);
// dx (+)= dy ⊙ mask (or dy when mask is null).
void dropout_backward(float* dx, int lddx, const float* dy, int rows, int n, const float* mask);

// ---- primitives -----------------------------------------------------------------------------
void interp_backward(float* dx, int lddx, const float* dy, int rows, const nn::InterpTable& t);
// Backward of nn::layer_norm_forward; recomputes μ and 1/σ from x (the stored LN input).
void layer_norm_backward(float* dx, int lddx, float* dgamma, float* dbeta, const float* dy, const float* x, int rows,
                         int n, const float* gamma, float eps);
// Its scalar twin (double sums), compiled in every build: the reference of tests/tft/kernels_test.cpp.
void layer_norm_backward_reference(float* dx, int lddx, float* dgamma, float* dbeta, const float* dy, const float* x,
                                   int rows, int n, const float* gamma, float eps);
void softmax_backward(float* ds, const float* p, const float* dp, int rows, int n);

// ResampleNorm(in→out) (§3.6).
struct ResAct {
  const float* x = nullptr;
  int ldx = 0, rows = 0;
  const float *u = nullptr, *pre = nullptr, *out = nullptr;  // u = Interp(x) (null if in == out)
};
void resample_forward(ResAct& a, const float* x, int ldx, int rows, const ResampleNormW& r, const Ctx& c);
void resample_backward(float* dx, int lddx, const float* dy, const ResAct& a, const ResampleNormW& r, const Ctx& c,
                       float* G);

// GateAddNorm (§3.7): y = LN(GLU(Lin(dropout(x))) + skip).
struct GanAct {
  const float* xd = nullptr;  // the input as the GLU read it (dropped, or the input itself)
  const float* mask = nullptr;
  const float *u = nullptr, *pre = nullptr, *out = nullptr;  // u [rows, 2o], pre = GLU + skip
  int ldx = 0, rows = 0;
};
void gan_forward(GanAct& a, const float* x, int ldx, int rows, const float* skip, int ld_skip, const GateAddNormW& g,
                 bool dropout, const Ctx& c);
// Accumulates dx and dskip (either may be null).
void gan_backward(float* dx, int lddx, float* dskip, int ld_dskip, const float* dy, const GanAct& a,
                  const GateAddNormW& g, const Ctx& c, float* G);

// GRN (§3.8) with dropout at the gate's GLU input (§8): its inputs and the serving block's
// activations (fc1 = η1 after the context, elu = η2, fc2 = η3; nn::GrnActs).
struct GrnAct {
  const float* x = nullptr;
  const float* ctx = nullptr;
  int ldx = 0, rows = 0, rows_per_ctx = 1;
  nn::GrnActs act;
  float* out() const { return act.out; }
};
void grn_train_forward(GrnAct& a, const float* x, int ldx, int rows, const float* ctx, int rows_per_ctx, const GrnW& g,
                       const Ctx& c);
// dctx: [rows / rows_per_ctx, g.ctx], accumulated (may be null).
void grn_backward(float* dx, int lddx, float* dctx, const float* dy, const GrnAct& a, const GrnW& g, const Ctx& c,
                  float* G);

// Variable selection network (§4) on the flattened input F [rows, S] (embeddings and prescaled
// reals in place; F must stay alive until the backward). out [rows, H], weights [rows, n].
struct VsnAct {
  int rows = 0, rows_per_ctx = 1;
  const float* flat = nullptr;
  const float* ctx = nullptr;
  nn::VsnActs act;  // every variable's activations kept
  float* out() const { return act.out; }
};
void vsn_train_forward(VsnAct& a, const float* flat, int rows, const float* ctx, int rows_per_ctx, const VsnW& v, int H,
                       const Ctx& c);
// Accumulates dflat [rows, S] (the per-variable inputs: prescaler outputs / embeddings) and dctx.
void vsn_backward(float* dflat, float* dctx, const float* dy, const VsnAct& a, const VsnW& v, int H, const Ctx& c, float* G);

// LSTM BPTT (§5) over `servers` ragged sequences of up to `steps`. x [servers·steps, H] inputs,
// gates [servers·steps, 4H] activated (i,f,g,o), cells [servers·steps, H], out rows at
// out + b·out_stride + t·H, h0/c0 [servers, H] initial states. dout likewise strided; dh_n/dc_n
// [servers, H] gradient at the final state (may be null). Accumulates dx [servers·steps, in],
// dh0/dc0 [servers, H] and the four parameter gradients (input width w.ih.in).
void lstm_backward(float* dx, float* dh0, float* dc0, const float* dout, size_t dout_stride, const float* dh_n,
                   const float* dc_n, const float* x, const float* gates, const float* cells, const float* out,
                   size_t out_stride, const float* h0, const float* c0, const int32_t* lengths, int servers, int steps,
                   const LstmW& w, const Ctx& c, float* G);

// Attention core backward (§6), per server: given dheads [servers·D, h, d] (gradient of each
// head's output A_i V, before dropout/mean), accumulates dQ [servers·D, h·d], dK [servers·T, h·d],
// dV [servers·T, d]. probs [servers, D, h, T] from the forward.
void attention_backward(float* dQ, float* dK, float* dV, const float* dheads, const float* probs, const float* Q,
                        const float* K, const float* V, const int32_t* enc_len, int servers, int E, int D, int n_heads,
                        int d);
// Its twin, key by key over the unmasked keys only (the mask from enc_len): the reference.
void attention_backward_reference(float* dQ, float* dK, float* dV, const float* dheads, const float* probs,
                                  const float* Q, const float* K, const float* V, const int32_t* enc_len, int servers,
                                  int E, int D, int n_heads, int d);

}  // namespace nordiq::tft::grad
