// Serving computes each real variable's GRN skip, LayerNorm(ResampleNorm(prescaler(x))), as a closed
// form in its scalar input x (tft/folded.hpp FoldedVar). It must be that LayerNorm for any x: far
// outside the inputs' usual range, and where the skip's row varies least (x = x0, where the
// variance is smallest), since a variance computed with cancellation would go wrong there first.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "test_util.hpp"
#include "tft/folded.hpp"
#include "tft/network.hpp"

namespace nordiq::tft {
namespace {

// The skip as the trained blocks compute it: prescaler Lin(1→c), then the ResampleNorm.
std::vector<float> skip_unfolded(const VsnVarW& var, const nn::Prepared& p, float x) {
  const int c = var.width, out = var.grn.res.out;
  std::vector<float> pre(static_cast<size_t>(c)), skip(static_cast<size_t>(out));
  for (int j = 0; j < c; ++j) pre[size_t(j)] = x * p.P[var.prescaler.w + size_t(j)] + p.P[var.prescaler.b + size_t(j)];
  nn::resample_norm_forward(skip.data(), pre.data(), c, 1, var.grn.res, p);
  return skip;
}

// The closed form of FoldedVar, as serving computes it.
std::vector<float> skip_folded(const nn::FoldedVar& f, float x, float eps) {
  const float r = f.skip_scale(x, eps);
  std::vector<float> skip(f.skip_ag.size());
  for (size_t j = 0; j < skip.size(); ++j) skip[j] = r * (x * f.skip_ag[j] + f.skip_cg[j]) + f.skip_beta[j];
  return skip;
}

TEST(FoldedSkipNorm, IsTheSkipsLayerNormAtAnyInput) {
  for (const char* file : {"tft_tiny.safetensors", "tft_medium.safetensors"}) {
    auto model = load_model_file(testing::golden(file));
    Derived derived(*model);
    derived.update(*model, model->params(), true);
    const nn::Prepared p = derived.prepared(*model, model->params());
    int checked = 0;
    for (const VsnW* v : {&model->weights().static_vsn, &model->weights().encoder_vsn, &model->weights().decoder_vsn}) {
      const nn::FoldedVsn* folded = derived.folds.vsn_of(*v);
      ASSERT_NE(folded, nullptr) << file;
      for (size_t i = 0; i < v->vars.size(); ++i) {
        if (v->vars[i].categorical) continue;
        const nn::FoldedVar& f = folded->vars[i];
        for (float x : {-1e4f, -50.0f, -1.0f, 0.0f, 0.3f, 2.0f, 80.0f, 1e4f, f.skip_x0}) {
          const std::vector<float> want = skip_unfolded(v->vars[i], p, x), got = skip_folded(f, x, p.eps);
          ASSERT_EQ(got.size(), want.size());
          for (size_t j = 0; j < want.size(); ++j)
            ASSERT_NEAR(got[j], want[j], 2e-5f * (1.0f + std::fabs(want[j])))
                << file << ", variable " << v->vars[i].name << ", x = " << x << ", column " << j;
        }
        ++checked;
      }
    }
    EXPECT_GT(checked, 0) << file;
  }
}

}  // namespace
}  // namespace nordiq::tft
