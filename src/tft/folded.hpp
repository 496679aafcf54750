// Inference-time folds of the variable selection networks (serving only: training keeps the
// unfolded blocks it differentiates). A real variable enters a VSN as one scalar x through its
// prescaler p = x·w + b (Lin 1→c), and inside a GRN nothing non-linear sits between fc2 and the
// gate's linear layer. So, exactly in real arithmetic (float rounding differs by terms far inside
// the golden tolerances):
//   fc1(p)               = x·(W1·w) + (W1·b + b1)               rank 1: c FMAs instead of c²
//   Lin_glu(fc2(e))      = (Wg·W2)·e + (Wg·b2 + bg)             one GEMM instead of two
//   skip = LN(κ ⊙ I(p))  = LN(x·(κ ⊙ I·w) + κ ⊙ I·b)            no interpolation per row, and
//                                                               its LayerNorm in closed form (FoldedVar)
// and the VSN's flattened input F (S = Σ widths columns, c per real) is never built: each column
// of F is affine in one column of the compact input z (one column per real, the embedding's e
// columns per categorical), so the selection GRN's fc1 and its ResampleNorm skip become small
// GEMMs on z (K = 26 instead of 341 for the encoder).
#pragma once

#include <cmath>
#include <cstdint>
#include <map>
#include <vector>

#include "tft/layers.hpp"
#include "tft/var_table.hpp"

namespace nordiq::tft::nn {

// Lin_glu ∘ fc2 of one GRN, K-major ([hidden, 2·out]) for gemm::kmajor.
struct FoldedGlu {
  std::vector<float> wt, b;
};

// An affine map y = z·Wt + b, K-major ([in, out]).
struct FoldedLinear {
  std::vector<float> wt, b;
  int in = 0, out = 0;
};

// One real variable's single-variable GRN as a function of its scalar input.
//
// Its skip LN(x·a + c) is a closed form in x. With A = a − mean(a) and C = c − mean(c), the row's
// deviations from its mean are x·A + C, and its variance is the quadratic
//   var(x) = mean((x·A + C)²) = P·(x − x0)² + m,
//   P = mean(A²), x0 = −mean(A·C)/P, m = mean(C²) − P·x0² ≥ 0 (Cauchy–Schwarz),
// written as a square plus a non-negative rest so that no cancellation can make it negative. So
//   skip_j = r(x)·(x·(A⊙γ)_j + (C⊙γ)_j) + β_j,   r(x) = 1/√(P·(x − x0)² + m + eps):
// no reduction over the row (the mean and the variance took two per row and variable).
struct FoldedVar {
  std::vector<float> a1, b1;              // fc1 ∘ prescaler [hidden]
  std::vector<float> skip_ag, skip_cg;    // A⊙γ and C⊙γ [out]
  std::vector<float> skip_beta;           // β [out]
  float skip_p = 0, skip_x0 = 0, skip_m = 0;
  VarTable table;                         // ξ(x) as cubics on [table.lo, table.hi) (var_table.hpp)
  float skip_scale(float x, float eps) const {  // r(x)
    const float d = x - skip_x0;
    return 1.0f / std::sqrt(skip_p * d * d + skip_m + eps);
  }
};

struct FoldedVsn {
  int width = 0;                 // columns of z
  std::vector<int> z_offset;     // per variable: its first column in z
  FoldedLinear fc1, skip;        // the selection GRN's fc1 and skip (before its LayerNorm) on z
  std::vector<FoldedVar> vars;   // per variable (empty for categoricals)
};

// Folds keyed by the GrnW / VsnW they derive from (the model's weights outlive them).
struct Folds {
  std::map<const GrnW*, FoldedGlu> glu;
  std::map<const VsnW*, FoldedVsn> vsn;
  const FoldedGlu* glu_of(const GrnW& g) const;
  const FoldedVsn* vsn_of(const VsnW& v) const;  // null: that VSN is served unfolded
};

// Every GRN of the network (fc2 ∘ GLU) and every VSN, from the parameters P and the
// ResampleNorm gate factors kappa (Prepared's); eps is the LayerNorms'.
// The encoder's and decoder's real variables are tabulated on [−kVarTableRange, kVarTableRange).
Folds fold_network(const TftWeights& w, const float* P, const float* kappa, float eps);

// z [servers·steps, width] for steps step0.. of each server: reals their scalar, categoricals
// their embedding row; padding (t ≥ valid_steps[b]) reads as value 0 / code 0, as vsn_gather.
void folded_vsn_gather(float* z, const VsnW& v, const FoldedVsn& f, const float* P, const int32_t* x_cat, int n_cat,
                       const float* x_cont, int n_real, int T, int servers, int step0, int steps,
                       const int32_t* valid_steps);

// Real variables whose input is the same for every server of the batch at each step (the known
// time features, when all windows end at the same step and are full). ξ depends on the input
// alone, so it is computed once per step for the whole batch, bit for bit what each row would get.
struct SharedInputs {
  int steps = 0, out = 0;       // steps = 0: nothing shared
  std::vector<int> slot;        // per variable: its block of xi, or -1
  std::vector<float> xi;        // [shared variables, steps, out]
  std::vector<float> x, scratch;
  const float* xi_of(int i) const;  // [steps, out] or null
};
// Finds the shared variables of the batch's steps step0.. and computes their ξ.
void find_shared_inputs(SharedInputs& s, const VsnW& v, const FoldedVsn& f, const Prepared& p, const float* x_cont,
                        int n_real, int T, int servers, int step0, int steps, const int32_t* valid_steps);

// vsn_forward on z instead of the flattened input: the same outputs (a.flat.out = logits,
// a.weights, a.vars[i].out, a.out), up to float rounding. With `shared` (rows = servers × its
// steps), shared variables take their ξ from it and leave a.vars[i].out unwritten.
void folded_vsn_forward(VsnActs& a, const float* z, int rows, const float* context, int rows_per_ctx, const VsnW& v,
                        const FoldedVsn& f, int hidden, const Prepared& p, const SharedInputs* shared = nullptr);

}  // namespace nordiq::tft::nn
