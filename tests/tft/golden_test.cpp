// The engine against the golden tensors of shared/golden (PyTorch reference): every expected
// output and per-stage trace present must be within the golden README's tolerances.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "tft/check.hpp"

namespace nordiq::tft {
namespace {

std::string golden(const std::string& name) { return std::string(NORDIQ_SHARED_DIR) + "/golden/" + name; }

bool has_check(const CheckReport& r, const std::string& name) {
  return std::any_of(r.checks.begin(), r.checks.end(), [&](const TensorCheck& c) { return c.name == name && c.compared > 0; });
}

void expect_all_pass(const CheckReport& r) {
  print_report(r);
  for (const auto& c : r.checks)
    EXPECT_TRUE(c.pass) << r.file << ": " << c.name << " max abs " << c.max_abs << " (tolerance " << c.tolerance << ")";
  EXPECT_TRUE(r.pass());
}

TEST(TftGolden, TinyMatchesOutputsAttentionWeightsAndEveryTrace) {
  const auto r = check_golden_file(golden("tft_tiny.safetensors"), {});
  expect_all_pass(r);
  for (const char* n : {"out.prediction_normalized", "out.prediction", "out.attention", "out.static_variable_weights",
                        "out.encoder_variable_weights", "out.decoder_variable_weights", "t.static_vsn.var_outputs",
                        "t.encoder_vsn.logits", "t.lstm_encoder.h_n", "t.lstm_decoder.out", "t.attn.k", "t.attn.heads",
                        "t.enriched", "t.pre_output", "t.emb.status"})
    EXPECT_TRUE(has_check(r, n)) << n;
  EXPECT_GE(r.checks.size(), 6u + 37u);  // 6 outputs + all 37 traces
}

TEST(TftGolden, RaggedMatchesOnValidPositions) {
  const auto r = check_golden_file(golden("tft_ragged.safetensors"), {});
  expect_all_pass(r);
  EXPECT_TRUE(has_check(r, "out.attention"));
  EXPECT_TRUE(has_check(r, "t.lstm_encoder.c_n"));
  EXPECT_GE(r.checks.size(), 43u);
}

TEST(TftGolden, MediumProductionShapeMatches) {
  CheckOptions o;
  o.threads = 2;
  const auto r = check_golden_file(golden("tft_medium.safetensors"), o);
  expect_all_pass(r);
  EXPECT_EQ(r.checks.size(), 6u);
}

TEST(TftGolden, ModuleCasesForwardMatch) {
  const auto r = check_golden_file(golden("modules.safetensors"), {});
  expect_all_pass(r);
  for (const char* n : {"grn_resample_ctx.out.y", "grn_same.out.y", "gate_add_norm.out.y", "layer_norm.out.y", "vsn3_ctx.out.y",
                        "vsn3_ctx.out.weights", "vsn_static_mixed.out.weights", "imha_mask.out.attention", "imha_mask.in.mask",
                        "lstm_ragged.out.h_n", "interp_2437_to_39.out.y", "interp_677_to_22.out.y"})
    EXPECT_TRUE(has_check(r, n)) << n;
}

TEST(TftGolden, TightToleranceOverrideMakesTheCheckFail) {
  // The checker must be able to fail: a tolerance of 0 cannot hold for float32 re-implementation.
  CheckOptions o;
  o.atol = 0.0;
  o.rtol = 0.0;
  EXPECT_FALSE(check_golden_file(golden("tft_tiny.safetensors"), o).pass());
}

}  // namespace
}  // namespace nordiq::tft
