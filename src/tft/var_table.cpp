#include "tft/var_table.hpp"

#include <algorithm>
#include <cmath>

#include "tft/folded.hpp"

namespace nordiq::tft::nn {

namespace {

// The fit starts from knots this far apart from x on (then bisects where it must).
double base_step(double x) {
  const double a = std::fabs(x);
  return a < 4 ? 0.125 : (a < 8 ? 0.25 : 0.5);
}
constexpr double kQuarterChecks = 0.125;          // intervals wider than this are also checked at their quarters
constexpr double kNarrowestInterval = 1.0 / 4096;  // bisection stops here

// ξ and ξ' at x. At a knot both neighbouring pieces' branches give the same value and slope
// (ELU is continuously differentiable), so one sample serves both.
struct Sample {
  double x;
  std::vector<double> v, d;
};

struct Tabulator {
  const FoldedVar& f;
  const FoldedGlu& glu;
  const float *gamma, *beta;
  double eps;
  int hidden, out;
  size_t max_intervals;
  std::vector<float> knot, coef;

  Sample sample(double x, double branch_x) const {
    Sample s{x, std::vector<double>(size_t(out)), std::vector<double>(size_t(out))};
    var_xi_double(f, glu, gamma, beta, eps, hidden, out, x, branch_x, s.v.data(), s.d.data());
    return s;
  }

  // Hermite coefficients of [a.x, b.x] in powers of (x − a.x).
  std::vector<double> cubic(const Sample& a, const Sample& b) const {
    const double h = b.x - a.x;
    std::vector<double> c(size_t(4) * out);
    for (size_t j = 0; j < size_t(out); ++j) {
      const double slope = (b.v[j] - a.v[j]) / h;
      c[j] = a.v[j];
      c[size_t(out) + j] = a.d[j];
      c[size_t(2 * out) + j] = (3 * slope - 2 * a.d[j] - b.d[j]) / h;
      c[size_t(3 * out) + j] = (a.d[j] + b.d[j] - 2 * slope) / (h * h);
    }
    return c;
  }

  // max |cubic − ξ| at s (the cubic c starts at x0)
  double error(const std::vector<double>& c, double x0, const Sample& s) const {
    const double dx = s.x - x0;
    double worst = 0;
    for (size_t j = 0; j < size_t(out); ++j) {
      const double y = c[j] + dx * (c[size_t(out) + j] + dx * (c[size_t(2 * out) + j] + dx * c[size_t(3 * out) + j]));
      worst = std::max(worst, std::fabs(y - s.v[j]));
    }
    return worst;
  }

  // [a, b] lies between two knots of ξ's branches: bisected until its cubic is within the tolerance
  // in the middle, where a cubic's error on a smooth piece peaks. The middle's sample becomes the
  // halves' shared end, so an interval costs about two evaluations of ξ.
  void add(const Sample& a, const Sample& b) {
    if (knot.size() >= max_intervals) return;  // given up: tabulate_var returns no table
    const double mid = double(float(0.5 * (a.x + b.x)));  // a knot is a float: fit the interval it starts
    const std::vector<double> c = cubic(a, b);
    if (b.x - a.x > kNarrowestInterval && mid > a.x && mid < b.x) {
      const Sample m = sample(mid, mid);
      double worst = error(c, a.x, m);
      if (b.x - a.x > kQuarterChecks)  // a wide interval: its quarters too
        for (double t : {0.25, 0.75}) worst = std::max(worst, error(c, a.x, sample(a.x + t * (b.x - a.x), mid)));
      if (worst > kVarTableTolerance) {
        add(a, m);
        add(m, b);
        return;
      }
    }
    knot.push_back(float(a.x));
    for (double v : c) coef.push_back(float(v));
  }
};

}  // namespace

void var_xi_double(const FoldedVar& f, const FoldedGlu& glu, const float* gamma, const float* beta, double eps,
                   int hidden, int out, double x, double branch_x, double* xi, double* dxi) {
  const int width = 2 * out;
  std::vector<double> u(static_cast<size_t>(width)), du(static_cast<size_t>(width));
  for (int j = 0; j < width; ++j) u[size_t(j)] = glu.b[size_t(j)], du[size_t(j)] = 0;
  for (int h = 0; h < hidden; ++h) {
    const double a = f.a1[size_t(h)], pre = x * a + f.b1[size_t(h)];
    const bool linear = branch_x * a + f.b1[size_t(h)] > 0;  // the branch ELU takes on this piece
    const double e = linear ? pre : std::expm1(pre), de = linear ? a : std::exp(pre) * a;
    const float* w = glu.wt.data() + size_t(h) * width;
    for (int j = 0; j < width; ++j) u[size_t(j)] += e * w[j], du[size_t(j)] += de * w[j];
  }
  // the skip's LayerNorm in closed form (FoldedVar), r = 1/√(P·(x − x0)² + m + eps)
  const double dx0 = x - f.skip_x0, q = double(f.skip_p) * dx0 * dx0 + f.skip_m + eps;
  const double r = 1.0 / std::sqrt(q), dr = -r / q * double(f.skip_p) * dx0;
  double mean = 0, dmean = 0;
  for (int j = 0; j < out; ++j) {
    const double g = u[size_t(out + j)], s = 1.0 / (1.0 + std::exp(-g)), ds = s * (1 - s) * du[size_t(out + j)];
    const double lin = x * f.skip_ag[size_t(j)] + f.skip_cg[size_t(j)];
    xi[j] = u[size_t(j)] * s + r * lin + f.skip_beta[size_t(j)];
    dxi[j] = du[size_t(j)] * s + u[size_t(j)] * ds + dr * lin + r * f.skip_ag[size_t(j)];
    mean += xi[j], dmean += dxi[j];
  }
  mean /= out, dmean /= out;
  double var = 0, dvar = 0;
  for (int j = 0; j < out; ++j) var += (xi[j] - mean) * (xi[j] - mean), dvar += 2 * (xi[j] - mean) * (dxi[j] - dmean);
  var /= out, dvar /= out;
  const double inv = 1.0 / std::sqrt(var + eps), dinv = -0.5 * inv / (var + eps) * dvar;
  for (int j = 0; j < out; ++j) {
    const double c = xi[j] - mean;
    dxi[j] = ((dxi[j] - dmean) * inv + c * dinv) * gamma[j];
    xi[j] = c * inv * gamma[j] + beta[j];
  }
}

VarTable tabulate_var(const FoldedVar& f, const FoldedGlu& glu, const float* gamma, const float* beta, float eps,
                      int hidden, int out, float lo, float hi, size_t max_intervals) {
  // the knots: a base grid, finer where the inputs usually are (ξ flattens far out), and where a
  // hidden unit's ELU switches branch
  std::vector<double> knots{lo};
  while (knots.back() < hi) knots.push_back(std::min(double(hi), knots.back() + base_step(knots.back())));
  const double first = knots.front(), last = knots.back();
  for (int h = 0; h < hidden; ++h) {
    const double a = f.a1[size_t(h)];
    if (a == 0) continue;
    const double k = double(float(-double(f.b1[size_t(h)]) / a));
    if (k > first && k < last) knots.push_back(k);
  }
  std::sort(knots.begin(), knots.end());
  knots.erase(std::unique(knots.begin(), knots.end()), knots.end());

  Tabulator t{f, glu, gamma, beta, double(eps), hidden, out, max_intervals, {}, {}};
  Sample left = t.sample(knots[0], knots[0]);
  for (size_t i = 0; i + 1 < knots.size(); ++i) {
    Sample right = t.sample(knots[i + 1], knots[i + 1]);
    t.add(left, right);
    left = std::move(right);
  }
  VarTable table;
  if (t.knot.size() >= max_intervals) return table;  // out = 0: the exact path
  table.out = out;
  table.lo = float(knots.front());
  table.hi = float(knots.back());
  table.inv_cell = float(1.0 / kLookupCell);
  table.knot = std::move(t.knot);
  table.knot.push_back(table.hi);
  table.coef = std::move(t.coef);
  const int lookup_cells = int(std::ceil((double(table.hi) - table.lo) / kLookupCell));
  table.cell_first.resize(size_t(lookup_cells));
  size_t k = 0;
  for (int c = 0; c < lookup_cells; ++c) {
    const float edge = float(double(table.lo) + c * kLookupCell);
    while (table.knot[k + 1] <= edge) ++k;
    table.cell_first[size_t(c)] = int32_t(k);
  }
  return table;
}

}  // namespace nordiq::tft::nn
