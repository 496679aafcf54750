// Engine behaviour beyond the golden files: determinism over thread counts, other
// configurations, input validation, and the GEMM backend against its slow reference twin.
#include <gtest/gtest.h>
#include <fmt/format.h>

#include <cmath>
#include <cstring>
#include <random>

#include "tft/gemm.hpp"
#include "test_util.hpp"

namespace nordiq::tft {
namespace {

using testing::Outputs;

void expect_bit_identical(const Outputs& a, const Outputs& b) {
  EXPECT_EQ(0, std::memcmp(a.pn.data(), b.pn.data(), a.pn.size() * 4));
  EXPECT_EQ(0, std::memcmp(a.pred.data(), b.pred.data(), a.pred.size() * 4));
  EXPECT_EQ(0, std::memcmp(a.attn.data(), b.attn.data(), a.attn.size() * 4));
  EXPECT_EQ(0, std::memcmp(a.sw.data(), b.sw.data(), a.sw.size() * 4));
  EXPECT_EQ(0, std::memcmp(a.dw.data(), b.dw.data(), a.dw.size() * 4));
}

TEST(TftEngine, ResultsAreBitIdenticalForAnyThreadCount) {
  auto model = load_model_file(testing::golden("tft_tiny.safetensors"));
  const int E = 24, D = 12;
  const int B = 3 * Engine::chunk_servers(1000, E, D) + 5;  // several chunks, a short last one
  const auto batch = testing::random_batch(*model, B, E, D, 7, true);
  Engine engine(*model, 1);
  Outputs one(model->config(), model->weights(), B, E, D);
  engine.forward(batch.inputs(), one.ptrs());
  for (int threads : {2, 3}) {
    engine.set_threads(threads);
    EXPECT_EQ(engine.threads(), threads);
    Outputs many(model->config(), model->weights(), B, E, D);
    engine.forward(batch.inputs(), many.ptrs());
    expect_bit_identical(one, many);
  }
  // and a second call on a warm engine gives the same bits again
  Outputs again(model->config(), model->weights(), B, E, D);
  engine.forward(batch.inputs(), again.ptrs());
  expect_bit_identical(one, again);
}

TEST(TftEngine, ReducedInterpretationIsTheMeanOfTheFullTensorsOverValidSteps) {
  auto model = load_model_file(testing::golden("tft_tiny.safetensors"));
  const ModelConfig& c = model->config();
  const TftWeights& w = model->weights();
  const int E = 24, D = 12, T = E + D, B = Engine::chunk_servers(1000, E, D) + 3;
  const auto batch = testing::random_batch(*model, B, E, D, 5, true);
  Engine engine(*model, 2);
  Outputs full(c, w, B, E, D);
  std::vector<float> attn_mean(size_t(B) * T), enc(size_t(B) * w.encoder_vsn.n()), dec(size_t(B) * w.decoder_vsn.n());
  ForwardOutputs o = full.ptrs();
  o.attention_mean = attn_mean.data();
  o.encoder_importance = enc.data();
  o.decoder_importance = dec.data();
  engine.forward(batch.inputs(), o);
  const int ne = w.encoder_vsn.n(), nd = w.decoder_vsn.n();
  for (int b = 0; b < B; ++b) {
    const int le = batch.enc[size_t(b)], ld = batch.dec[size_t(b)];
    double attn_sum = 0, enc_sum = 0, dec_sum = 0;
    for (int t = 0; t < T; ++t) {
      double expect = 0;
      for (int j = 0; j < ld; ++j)
        for (int h = 0; h < c.heads; ++h) expect += full.attn[((size_t(b) * D + j) * c.heads + h) * T + t];
      expect /= ld * c.heads;
      EXPECT_NEAR(attn_mean[size_t(b) * T + t], expect, 1e-6) << "server " << b << " step " << t;
      attn_sum += attn_mean[size_t(b) * T + t];
    }
    for (int v = 0; v < ne; ++v) {
      double expect = 0;
      for (int t = 0; t < le; ++t) expect += full.ew[(size_t(b) * E + t) * ne + v];
      EXPECT_NEAR(enc[size_t(b) * ne + v], expect / le, 1e-6);
      enc_sum += enc[size_t(b) * ne + v];
    }
    for (int v = 0; v < nd; ++v) {
      double expect = 0;
      for (int t = 0; t < ld; ++t) expect += full.dw[(size_t(b) * D + t) * nd + v];
      EXPECT_NEAR(dec[size_t(b) * nd + v], expect / ld, 1e-6);
      dec_sum += dec[size_t(b) * nd + v];
    }
    EXPECT_NEAR(attn_sum, 1.0, 1e-4);
    EXPECT_NEAR(enc_sum, 1.0, 1e-4);
    EXPECT_NEAR(dec_sum, 1.0, 1e-4);
  }
}

TEST(TftEngine, OtherArchitecturesRunFromTheManifestAlone) {
  // H=32, 8 heads (d=4), c=32 = H (single-variable GRNs without resample), embedding 3 ≠ H
  auto manifest = read_manifest(SafeTensors::load(testing::golden("tft_tiny.safetensors")));
  manifest["model"]["hidden_size"] = 32;
  manifest["model"]["attention_head_size"] = 8;
  manifest["model"]["head_dim"] = 4;
  manifest["model"]["hidden_continuous_size"] = 32;
  manifest["model"]["embedding_sizes"]["status"] = {9, 3};
  Model m(ModelConfig::from_manifest(manifest));
  std::mt19937 rng(3);
  std::normal_distribution<float> n(0.0f, 0.2f);
  for (size_t i = 0; i < m.table().total(); ++i) m.params()[i] = n(rng);
  const int E = 17, D = 5, B = 6;
  const auto batch = testing::random_batch(m, B, E, D, 11, true);
  Engine engine(m, 2);
  Outputs o(m.config(), m.weights(), B, E, D);
  engine.forward(batch.inputs(), o.ptrs());
  for (float x : o.pn) ASSERT_TRUE(std::isfinite(x));
  // attention rows are distributions over the allowed keys only
  const int T = E + D;
  for (int b = 0; b < B; ++b)
    for (int i = 0; i < batch.dec[size_t(b)]; ++i)
      for (int h = 0; h < 8; ++h) {
        const float* p = &o.attn[((size_t(b) * D + i) * 8 + h) * T];
        double s = 0;
        for (int j = 0; j < T; ++j) {
          const bool blocked = j < E ? j >= batch.enc[size_t(b)] : j - E >= i;
          if (blocked) {
            ASSERT_EQ(p[j], 0.0f);
          }
          s += p[j];
        }
        ASSERT_NEAR(s, 1.0, 1e-5);
      }
  for (int b = 0; b < B; ++b) {
    double s = 0;
    for (int v = 0; v < m.weights().static_vsn.n(); ++v) s += o.sw[size_t(b) * m.weights().static_vsn.n() + v];
    EXPECT_NEAR(s, 1.0, 1e-5);
  }
}

TEST(TftEngine, InvalidInputsAreRefusedNamingTheField) {
  auto model = load_model_file(testing::golden("tft_tiny.safetensors"));
  auto batch = testing::random_batch(*model, 3, 24, 12, 5);
  Engine engine(*model, 1);
  Outputs o(model->config(), model->weights(), 3, 24, 12);
  auto message = [&](const testing::Batch& b) {
    try {
      engine.forward(b.inputs(), o.ptrs());
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  auto bad = batch;
  bad.enc[1] = 25;
  EXPECT_NE(message(bad).find("encoder_lengths[1]"), std::string::npos);
  bad = batch;
  bad.x_cat[(size_t(2) * 36 + 0) * 2 + 0] = 8;  // profile has 8 classes: 0..7
  EXPECT_NE(message(bad).find("profile"), std::string::npos) << message(bad);
  bad = batch;
  bad.x_cont[(size_t(0) * 36 + 30) * 50 + 29] = NAN;  // hour_sin at a decoder step
  EXPECT_NE(message(bad).find("hour_sin"), std::string::npos) << message(bad);
  bad = batch;
  bad.enc[0] = 3;  // now step 5 is padding: NaN there is never read
  bad.x_cont[(size_t(0) * 36 + 5) * 50 + 40] = NAN;
  EXPECT_EQ(message(bad), "");
  // a target's column at a decoder step: in a row the network reads, but not a cell it reads
  bad = batch;
  bad.x_cont[(size_t(1) * 36 + 30) * 50 + 40] = NAN;
  EXPECT_EQ(message(bad), "");
  // of two bad cells, the first in step order is named
  bad = batch;
  bad.x_cont[(size_t(1) * 36 + 9) * 50 + 36] = INFINITY;
  bad.x_cont[(size_t(1) * 36 + 4) * 50 + 41] = NAN;
  EXPECT_NE(message(bad).find("x_cont[1,4,41]"), std::string::npos) << message(bad);
}

// The engine checks each chunk's values on the chunk's thread; of bad cells in several chunks, the
// first server's is named whichever thread finds its own first, and no chunk's bad cell is missed.
TEST(TftEngine, OfBadCellsInSeveralChunksTheFirstServersIsNamedForAnyThreadCount) {
  auto model = load_model_file(testing::golden("tft_tiny.safetensors"));
  const int E = 24, D = 12, T = E + D, per = Engine::chunk_servers(1000, E, D);
  const int B = 3 * per + 5;
  auto batch = testing::random_batch(*model, B, E, D, 9, true);
  const int first = per + 1, second = 2 * per + 2;  // in the second and third chunks
  for (int b : {first, second}) batch.x_cont[(size_t(b) * T + E + 1) * 50 + 29] = NAN;  // hour_sin, decoder step 1
  Outputs o(model->config(), model->weights(), B, E, D);
  for (int threads : {1, 2, 3}) {
    Engine engine(*model, threads);
    try {
      engine.forward(batch.inputs(), o.ptrs());
      ADD_FAILURE() << "expected an exception with " << threads << " threads";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(fmt::format("x_cont[{},{},29]", first, E + 1)), std::string::npos) << e.what();
    }
  }
  batch.x_cont[(size_t(first) * T + E + 1) * 50 + 29] = 0.5f;  // the first mended: the second is found
  Engine engine(*model, 2);
  try {
    engine.forward(batch.inputs(), o.ptrs());
    ADD_FAILURE() << "expected an exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find(fmt::format("x_cont[{},{},29]", second, E + 1)), std::string::npos) << e.what();
  }
}

struct GemmCase { int M, N, K, ldx, ldy; bool bias, acc; };

TEST(TftGemm, BackendMatchesTheReferenceOnTftShapes) {
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (const GemmCase& c : {GemmCase{1, 7, 3, 0, 0, true, false}, GemmCase{5, 64, 32, 0, 0, true, false},
                            GemmCase{300, 128, 64, 0, 0, true, true}, GemmCase{37, 22, 32, 677, 0, true, false},
                            GemmCase{1152, 32, 32, 677, 40, false, false}, GemmCase{96, 98, 64, 64, 98, true, false},
                            GemmCase{1536, 256, 64, 0, 0, true, false}, GemmCase{13, 64, 4, 0, 0, false, true}}) {
    const int ldx = c.ldx ? c.ldx : c.K, ldy = c.ldy ? c.ldy : c.N;
    std::vector<float> X(size_t(c.M) * ldx), W(size_t(c.N) * c.K), b(size_t(c.N)), Y(size_t(c.M) * ldy), R;
    for (auto* v : {&X, &W, &b, &Y})
      for (auto& x : *v) x = u(rng);
    R = Y;
    const gemm::Shape s{c.M, c.N, c.K, c.ldx, c.ldy, c.acc};
    gemm::linear(s, X.data(), W.data(), c.bias ? b.data() : nullptr, Y.data());
    gemm::linear_reference(s, X.data(), W.data(), c.bias ? b.data() : nullptr, R.data());
    for (int m = 0; m < c.M; ++m)
      for (int n = 0; n < ldy; ++n)
        ASSERT_NEAR(Y[size_t(m) * ldy + n], R[size_t(m) * ldy + n], 1e-6 * (c.K + 4))
            << "M=" << c.M << " N=" << c.N << " K=" << c.K << " at " << m << "," << n;
  }
}

TEST(TftGemm, SmallKMajorKernelMatchesTheReference) {
  std::mt19937 rng(2);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (auto [M, N, K] : {std::tuple{1, 256, 64}, std::tuple{7, 64, 16}, std::tuple{5, 100, 33}, std::tuple{4, 16, 1}}) {
    std::vector<float> X(size_t(M) * K), W(size_t(N) * K), WT(size_t(K) * N), Y(size_t(M) * N), R;
    for (auto& x : X) x = u(rng);
    for (auto& x : W) x = u(rng);
    for (auto& x : Y) x = u(rng);
    for (int n = 0; n < N; ++n)
      for (int k = 0; k < K; ++k) WT[size_t(k) * N + n] = W[size_t(n) * K + k];
    R = Y;
    gemm::small_kmajor(M, N, K, X.data(), K, WT.data(), Y.data(), N, true);
    gemm::linear_reference(gemm::Shape{M, N, K, 0, 0, true}, X.data(), W.data(), nullptr, R.data());
    for (size_t i = 0; i < Y.size(); ++i) ASSERT_NEAR(Y[i], R[i], 1e-6 * (K + 4)) << M << "x" << N << "x" << K;
  }
}

TEST(TftGemm, KMajorKernelWithBiasMatchesTheReferenceForEveryBlockShape) {
  std::mt19937 rng(4);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (int N : {7, 16, 22, 32, 44, 64, 98, 128, 256})
    for (int M : {1, 5, 6, 7, 11, 12, 13, 300})
      for (bool acc : {false, true}) {
        const int K = 33, ldx = 40, ldy = N + 3;
        std::vector<float> X(size_t(M) * ldx), W(size_t(N) * K), WT(size_t(K) * N), b(static_cast<size_t>(N)), Y(size_t(M) * ldy), R;
        for (auto* v : {&X, &W, &b, &Y})
          for (auto& x : *v) x = u(rng);
        for (int n = 0; n < N; ++n)
          for (int k = 0; k < K; ++k) WT[size_t(k) * N + n] = W[size_t(n) * K + k];
        R = Y;
        const gemm::Shape s{M, N, K, ldx, ldy, acc};
        gemm::kmajor(s, X.data(), WT.data(), b.data(), Y.data());
        gemm::linear_reference(s, X.data(), W.data(), b.data(), R.data());
        for (size_t i = 0; i < Y.size(); ++i) ASSERT_NEAR(Y[i], R[i], 1e-5) << "M=" << M << " N=" << N << " acc=" << acc << " at " << i;
      }
}

TEST(TftGemm, WorkCountsAddEachCallsFlopsOnlyWhileCountingIsOn) {
  const int M = 13, N = 40, K = 24;
  std::vector<float> X(size_t(M) * K, 0.5f), W(size_t(N) * K, 0.25f), Y(size_t(M) * N);
  const gemm::Shape s{M, N, K, 0, 0, false};
  gemm::kmajor(s, X.data(), W.data(), nullptr, Y.data());  // before counting: not counted
  gemm::count_work(true);
  gemm::kmajor(s, X.data(), W.data(), nullptr, Y.data());
  gemm::linear(s, X.data(), W.data(), nullptr, Y.data());
  gemm::small_kmajor(M, N, K, X.data(), K, W.data(), Y.data(), N, true);  // one call, counted once
  const gemm::WorkCount on = gemm::work_counted();
  gemm::count_work(false);
  gemm::kmajor(s, X.data(), W.data(), nullptr, Y.data());  // after: not counted
  const gemm::WorkCount off = gemm::work_counted();
  EXPECT_EQ(on.calls, 3);
  EXPECT_DOUBLE_EQ(on.flop, 3.0 * 2 * M * N * K);
  EXPECT_GT(on.thread_seconds, 0.0);
  EXPECT_EQ(off.calls, on.calls);
  EXPECT_DOUBLE_EQ(off.flop, on.flop);
  gemm::count_work(true);  // turning it on again starts from zero
  EXPECT_EQ(gemm::work_counted().calls, 0);
  gemm::count_work(false);
}

}  // namespace
}  // namespace nordiq::tft
