// Serving reads each real variable's ξ(x) (its single-variable GRN, a function of its scalar input
// alone) from a table of cubics (tft/var_table.hpp). The table must be ξ to about float precision
// everywhere it covers, beside the ELUs' knots included, and the forward must take the exact path
// for inputs it does not cover.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "test_util.hpp"
#include "tft/folded.hpp"
#include "tft/network.hpp"

namespace nordiq::tft {
namespace {

struct TableError {
  double max_abs = 0;
  int variables = 0, points = 0;
};

TableError table_error(const std::string& file) {
  auto model = load_model_file(file);
  Derived derived(*model);
  derived.update(*model, model->params(), true);
  const float* P = model->params();
  TableError e;
  for (const VsnW* v : {&model->weights().encoder_vsn, &model->weights().decoder_vsn}) {
    const nn::FoldedVsn* folded = derived.folds.vsn_of(*v);
    EXPECT_NE(folded, nullptr) << file;
    if (!folded) continue;
    for (size_t i = 0; i < v->vars.size(); ++i) {
      if (v->vars[i].categorical) continue;
      const nn::FoldedVar& f = folded->vars[i];
      const GrnW& g = v->vars[i].grn;
      const nn::FoldedGlu* glu = derived.folds.glu_of(g);
      EXPECT_GT(f.table.out, 0) << v->vars[i].name;
      if (!glu || f.table.out == 0) continue;
      std::vector<double> want(size_t(g.out)), slope(size_t(g.out));
      std::vector<float> got(size_t(g.out));
      // a dense grid, off the knots, and every knot with its float neighbours
      std::vector<float> xs;
      for (int k = 0; k < 6000; ++k) xs.push_back(f.table.lo + (f.table.hi - f.table.lo) * (k + 0.37f) / 6000.0f);
      for (float knot : f.table.knot)
        for (float x : {std::nextafter(knot, -INFINITY), knot, std::nextafter(knot, INFINITY)}) xs.push_back(x);
      for (float x : xs) {
        if (!f.table.covers(x)) continue;
        f.table.eval(x, got.data());
        nn::var_xi_double(f, *glu, P + g.gate.norm.w, P + g.gate.norm.b, model->config().layer_norm_eps, g.hidden,
                          g.out, x, x, want.data(), slope.data());
        for (int j = 0; j < g.out; ++j) e.max_abs = std::max(e.max_abs, std::fabs(double(got[size_t(j)]) - want[size_t(j)]));
        ++e.points;
      }
      ++e.variables;
    }
  }
  return e;
}

TEST(VarTable, IsEachVariablesGrnToFloatPrecisionAcrossItsRange) {
  const std::string shipped = (std::filesystem::path(NORDIQ_SOURCE_DIR) / "models/default/model.safetensors").string();
  for (const std::string& file : {testing::golden("tft_tiny.safetensors"), testing::golden("tft_medium.safetensors"), shipped}) {
    const TableError e = table_error(file);
    EXPECT_GT(e.variables, 0) << file;
    EXPECT_LE(e.max_abs, 1e-6) << file << ": " << e.variables << " variables, " << e.points << " points";
    std::printf("%s: %d variables, %d points, max |table − ξ| %.3g\n", file.c_str(), e.variables, e.points, e.max_abs);
  }
}

// A variable that needs more intervals than the cap gets no table (the forward then keeps the
// exact path for it, folded_var_forward): here a cap below what a trained variable needs.
TEST(VarTable, AVariableNeedingMoreIntervalsThanTheCapGetsNoTable) {
  auto model = load_model_file(testing::golden("tft_tiny.safetensors"));
  Derived derived(*model);
  derived.update(*model, model->params(), true);
  const VsnW& v = model->weights().encoder_vsn;
  const nn::FoldedVsn* folded = derived.folds.vsn_of(v);
  ASSERT_NE(folded, nullptr);
  size_t i = 0;
  while (v.vars[i].categorical) ++i;
  const GrnW& g = v.vars[i].grn;
  const float* P = model->params();
  const nn::FoldedVar& f = folded->vars[i];
  const size_t needed = f.table.intervals();
  ASSERT_GT(needed, 10u);
  auto tabulate = [&](size_t cap) {
    return nn::tabulate_var(f, *derived.folds.glu_of(g), P + g.gate.norm.w, P + g.gate.norm.b,
                            model->config().layer_norm_eps, g.hidden, g.out, -nn::kVarTableRange, nn::kVarTableRange, cap);
  };
  EXPECT_EQ(tabulate(needed + 1).intervals(), needed);
  const nn::VarTable capped = tabulate(needed / 2);
  EXPECT_EQ(capped.out, 0);
  EXPECT_EQ(capped.intervals(), 0u);
}

// Inputs far outside the tables' range (|x| up to 30) in a third of the rows, the rest inside:
// the folded engine (tables, and the exact path for the rows they miss) must agree with the
// unfolded one as closely as on ordinary inputs (ForwardParity's tolerance for this model).
TEST(VarTable, RowsOutsideTheTableTakeTheExactPath) {
  auto model = load_model_file((std::filesystem::path(NORDIQ_SOURCE_DIR) / "models/default/model.safetensors").string());
  testing::Batch batch = testing::random_batch(*model, 3, 288, 96, 21);
  int far = 0;
  for (size_t i = 0; i < batch.x_cont.size(); i += 3) {
    batch.x_cont[i] *= 15.0f;
    far += !(std::fabs(batch.x_cont[i]) < nn::kVarTableRange);
  }
  ASSERT_GT(far, 10000);
  const int K = model->config().n_targets(), Q = model->config().n_quantiles();
  auto forward = [&](bool folded) {
    std::vector<float> z(size_t(batch.B) * batch.D * K * Q);
    Engine engine(*model, 1);
    engine.set_folding(folded);
    ForwardOutputs out;
    out.prediction_normalized = z.data();
    engine.forward(batch.inputs(), out);
    return z;
  };
  const std::vector<float> tabulated = forward(true), unfolded = forward(false);
  double worst = 0;
  for (size_t i = 0; i < tabulated.size(); ++i) {
    ASSERT_TRUE(std::isfinite(tabulated[i])) << i;
    worst = std::max(worst, double(std::fabs(tabulated[i] - unfolded[i])));
  }
  EXPECT_LE(worst, 2e-4);
  EXPECT_GT(worst, 0.0);  // the two engines did compute differently
}

}  // namespace
}  // namespace nordiq::tft
