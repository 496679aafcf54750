// A real variable's single-variable GRN, tabulated (serving only). After the folds of folded.hpp,
// a real variable's output ξ(x) (its GRN: ELU, GLU, gate, skip, LayerNorm) is a function of one
// scalar x and nothing else: no context, no other variable. Computing it costs ~1,100 FMAs, 48
// exponentials and two LayerNorms per row and variable, ~8,000 rows per server and cycle.
//
// So ξ is tabulated once per model (the encoder's and decoder's real variables), as a cubic per
// interval of x (Hermite: the value and slope at both ends, computed in double). ξ is smooth
// except where a hidden unit's ELU switches branch (its second derivative jumps there), so those
// points are knots. The intervals are bisected until the cubic is within `kVarTableTolerance` of
// ξ in the middle, where a Hermite cubic's error on a smooth piece peaks (and at the quarters for
// intervals wider than 1/8). A row reads one interval (4·out floats) and runs a Horner scheme: 3
// FMAs per output. tests/tft/var_table_test.cpp holds every table to 1e-6 on a dense grid.
//
// Outside [lo, hi) (or for NaN) the exact folded path runs, as before.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace nordiq::tft::nn {

struct FoldedVar;
struct FoldedGlu;

// Max |cubic − ξ| at the checked points of each interval: about two float32 ulps of ξ's largest
// elements (|ξ| ≲ 4), below the exact float path's own rounding against double.
inline constexpr double kVarTableTolerance = 4e-7;

// The inputs are normalised (a metric's deviation from its present level in units of its window's
// spread): nearly all of them fall inside this.
inline constexpr float kVarTableRange = 16.0f;

// Interval lookup cells: narrower than 93 % of the shipped model's intervals (the rest are steep
// stretches bisected further and the pieces beside an ELU knot).
inline constexpr double kLookupCell = 1.0 / 128;

struct VarTable {
  int out = 0;                     // 0: no table (the exact path only)
  float lo = 0, hi = 0;            // x in [lo, hi) is tabulated
  float inv_cell = 0;              // uniform cells over [lo, hi), to find an interval (kLookupCell wide)
  std::vector<int32_t> cell_first; // per cell: the interval holding its left edge
  std::vector<float> knot;         // interval k is [knot[k], knot[k + 1]); knot.back() = hi
  std::vector<float> coef;         // per interval: c0, c1, c2, c3 [out each]: ξ = c0 + d(c1 + d(c2 + d·c3)), d = x − knot[k]

  bool covers(float x) const { return x >= lo && x < hi; }  // false for NaN
  // The coefficients of x's interval and d (x must be covered). The cells are narrower than most
  // intervals, so a cell's left edge mostly lies in x's interval or the one before: one compare
  // without a branch, then a loop for the narrower intervals that is rarely taken, so that rows
  // with random x seldom mispredict.
  const float* interval(float x, float& d) const {
    int cell = int((x - lo) * inv_cell);
    cell = cell < 0 ? 0 : (cell >= int(cell_first.size()) ? int(cell_first.size()) - 1 : cell);
    std::size_t k = std::size_t(cell_first[std::size_t(cell)]);
    k += x >= knot[k + 1];
    while (x >= knot[k + 1]) ++k;
    while (k > 0 && x < knot[k]) --k;  // float rounding of the cell index
    d = x - knot[k];
    return coef.data() + k * 4 * std::size_t(out);
  }
  // Output j of an interval's cubic c at d: the forward's arithmetic (its AVX-512 path does the
  // same fused multiply-adds, 16 outputs at a time).
  static float cubic(const float* c, float d, int out, int j) {
    return std::fma(std::fma(std::fma(c[3 * out + j], d, c[2 * out + j]), d, c[out + j]), d, c[j]);
  }
  // ξ(x) from the table (x must be covered), as the serving forward computes it.
  void eval(float x, float* xi) const {
    float d;
    const float* c = interval(x, d);
    for (int j = 0; j < out; ++j) xi[j] = cubic(c, d, out, j);
  }
  std::size_t intervals() const { return knot.empty() ? 0 : knot.size() - 1; }
  std::size_t bytes() const { return sizeof(float) * (coef.size() + knot.size()) + sizeof(int32_t) * cell_first.size(); }
};

// ξ of one folded real variable (its fc1 ∘ prescaler and skip in f, its Lin_glu ∘ fc2 in glu, its
// gate LayerNorm's γ and β), tabulated on [lo, hi); no table (out = 0, the exact path) if it would
// take max_intervals or more: a badly conditioned model file must not cost gigabytes of tables
// (the shipped models need at most 482 per variable).
VarTable tabulate_var(const FoldedVar& f, const FoldedGlu& glu, const float* gamma, const float* beta, float eps,
                      int hidden, int out, float lo, float hi, std::size_t max_intervals = 4096);

// ξ(x) and dξ/dx in double, with every ELU on the branch it takes at `branch_x` (the exact function
// on the piece between knots that holds branch_x). For the table and its tests.
void var_xi_double(const FoldedVar& f, const FoldedGlu& glu, const float* gamma, const float* beta, double eps,
                   int hidden, int out, double x, double branch_x, double* xi, double* dxi);

}  // namespace nordiq::tft::nn
