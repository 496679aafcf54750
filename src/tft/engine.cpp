#include "tft/engine.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <cstdlib>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/thread_priority.hpp"
#include "core/worker_pool.hpp"
#include "tft/folded.hpp"
#include "tft/gemm.hpp"
#include "tft/layers.hpp"
#include "tft/network.hpp"

namespace nordiq::tft {

struct Engine::Impl {
  const Model& model;
  Derived der;
  nn::Prepared prep;
  std::vector<std::unique_ptr<Workspace>> ws;  // one per thread
  Workspace trace_ws;

  // Chunks of servers; worker i uses ws[i]. Its threads are the forecast cycle's: batch priority
  // (core/thread_priority.hpp) and a name that `top -H` shows.
  WorkerPool pool{1, [] {
                    gemm::pin_library_threads_to_one();
                    name_this_thread("nordiq-forecast");
                    enter_batch_priority();
                  }};

  std::mutex call_mu;  // one forward at a time per engine (the pool and arenas are shared)
  nn::SharedInputs enc_shared, dec_shared;  // per forward: inputs the whole batch shares

  explicit Impl(const Model& m) : model(m), der(m) {}

  bool prepared = false;
  bool fold = true;  // Engine::set_folding

  // Derived weights, recomputed when the parameters may have changed (first forward, or after
  // Engine::reload_parameters()).
  void prepare() {
    if (prepared) return;
    der.update(model, model.params(), fold);
    for (auto& arena : ws) arena->servers = -1;  // the compact inputs' widths may have changed
    trace_ws.servers = -1;
    prep = der.prepared(model, model.params());
    prepared = true;
  }

  // The known inputs every server of the batch shares, per folded VSN (tft/folded.hpp).
  void find_shared_inputs(const ForwardInputs& in) {
    const ModelConfig& c = model.config();
    const TftWeights& w = model.weights();
    const int E = in.encoder_steps, D = in.decoder_steps, T = E + D;
    auto find = [&](nn::SharedInputs& shared, const VsnW& v, int step0, int steps, const int32_t* valid) {
      shared.steps = 0;
      if (const nn::FoldedVsn* folded = der.folds.vsn_of(v))
        nn::find_shared_inputs(shared, v, *folded, prep, in.x_cont, c.n_real(), T, in.batch, step0, steps, valid);
    };
    find(enc_shared, w.encoder_vsn, 0, E, in.encoder_lengths);
    find(dec_shared, w.decoder_vsn, E, D, nullptr);
  }

  // Everything (`values`), or the batch's shapes only, the values then checked per chunk.
  void validate(const ForwardInputs& in, bool values = true) const {
    if (in.batch < 0) throw std::invalid_argument("tft forward: batch must be ≥ 0");
    if (in.batch > 0) (values ? validate_inputs : validate_shapes)(model, in, "tft forward");
  }

  void set_threads(int threads) {
    pool.resize(threads);
    while (ws.size() < size_t(pool.threads())) ws.push_back(std::make_unique<Workspace>());
    ws.resize(size_t(pool.threads()));
  }
};

Engine::Engine(const Model& model, int threads) : impl_(std::make_unique<Impl>(model)) { set_threads(threads); }
Engine::~Engine() = default;

void Engine::reload_parameters() {
  std::lock_guard call(impl_->call_mu);
  impl_->prepared = false;
}

void Engine::set_folding(bool on) {
  std::lock_guard call(impl_->call_mu);
  impl_->fold = on;
  impl_->prepared = false;
}

void Engine::set_threads(int threads) {
  std::lock_guard call(impl_->call_mu);
  impl_->set_threads(threads);
}
int Engine::threads() const { return impl_->pool.threads(); }

void Engine::parallel_for(int tasks, const std::function<void(int task)>& fn) {
  std::lock_guard call(impl_->call_mu);
  impl_->pool.run(tasks, [&](int task, int) { fn(task); });
}

int Engine::chunk_servers(int batch, int encoder_steps, int decoder_steps) {
  // ~1500 rows of the padded time axis per chunk: large enough for efficient GEMMs, small
  // enough that a chunk's activations stay near the caches. Depends only on the batch shape.
  const int T = std::max(1, encoder_steps + decoder_steps);
  constexpr int rows = 1536;  // measured at E=288, D=96: 768 and 3072 rows were 5–10 % slower
  return std::clamp((rows + T - 1) / T, 1, std::max(1, batch));
}

void Engine::forward(const ForwardInputs& in, const ForwardOutputs& out) {
  std::lock_guard call(impl_->call_mu);
  impl_->validate(in, /*values=*/false);
  if (in.batch == 0) return;
  if (out.prediction && !in.target_scale) throw std::invalid_argument("tft forward: target_scale is required for prediction");
  gemm::pin_library_threads_to_one();
  impl_->prepare();
  const int per = chunk_servers(in.batch, in.encoder_steps, in.decoder_steps);
  const int chunks = (in.batch + per - 1) / per;
  const Model& m = impl_->model;
  impl_->find_shared_inputs(in);
  // Each chunk's values are checked on its thread, just before its network reads the same rows;
  // the error of the first bad chunk is thrown, whichever thread found one first.
  std::vector<std::string> errors(static_cast<size_t>(chunks));
  impl_->pool.run(chunks, [&](int i, int worker) {
    Workspace& w = *impl_->ws[size_t(worker)];
    const int b0 = i * per, n = std::min(per, in.batch - b0);
    try {
      validate_values(m, in, "tft forward", b0, n);
    } catch (const std::invalid_argument& e) {
      errors[size_t(i)] = e.what();
      return;
    }
    w.ensure(m, impl_->der.folds, per, in.encoder_steps, in.decoder_steps, false);
    run_network(w, m, m.params(), impl_->der, impl_->prep, in, out, b0, n, &impl_->enc_shared, &impl_->dec_shared);
  });
  for (const std::string& e : errors)
    if (!e.empty()) throw std::invalid_argument(e);
}

void Engine::forward_traced(const ForwardInputs& in, const ForwardOutputs& out, const TraceSink& sink) {
  std::lock_guard call(impl_->call_mu);
  impl_->validate(in);
  if (in.batch == 0) return;
  if (out.prediction && !in.target_scale) throw std::invalid_argument("tft forward: target_scale is required for prediction");
  gemm::pin_library_threads_to_one();
  impl_->prepare();
  const Model& m = impl_->model;
  Workspace& s = impl_->trace_ws;
  const int B = in.batch, E = in.encoder_steps, D = in.decoder_steps, T = E + D;
  s.ensure(m, impl_->der.folds, B, E, D, true);
  run_network(s, m, m.params(), impl_->der, impl_->prep, in, out, 0, B, nullptr, nullptr);

  const ModelConfig& c = m.config();
  const TftWeights& w = m.weights();
  const float* P = m.params();
  const int64_t H = c.hidden, d = c.head_dim, nh = c.heads, hd = nh * d;
  std::vector<float> buf;
  auto emit = [&](const std::string& name, std::vector<int64_t> shape, const float* data) {
    size_t n = 1;
    for (auto x : shape) n *= size_t(x);
    sink(name, shape, std::span<const float>(data, n));
  };
  // [rows, H] per variable → [rows, H, n]
  auto var_outputs = [&](const std::string& name, std::vector<int64_t> shape, const nn::VsnActs& a, const VsnW& v, size_t rows) {
    const size_t n = size_t(v.n());
    buf.assign(rows * size_t(H) * n, 0.0f);
    for (size_t i = 0; i < n; ++i)
      for (size_t r = 0; r < rows; ++r)
        for (size_t j = 0; j < size_t(H); ++j) buf[(r * size_t(H) + j) * n + i] = a.vars[i].out[r * size_t(H) + j];
    emit(name, shape, buf.data());
  };
  for (int ci = 0; ci < c.n_cat(); ++ci) {
    const std::string& name = c.x_categoricals[size_t(ci)];
    const auto [classes, e] = c.embedding_sizes.at(name);
    const ParamSpec* spec = m.table().find("input_embeddings.embeddings." + name + ".weight");
    buf.assign(size_t(B) * T * size_t(e), 0.0f);
    for (size_t cell = 0; cell < size_t(B) * T; ++cell) {
      const int code = in.x_cat[cell * size_t(c.n_cat()) + size_t(ci)];
      if (code >= 0 && code < classes) std::memcpy(&buf[cell * size_t(e)], P + spec->offset + size_t(code) * size_t(e), sizeof(float) * size_t(e));
    }
    emit("t.emb." + name, {B, T, e}, buf.data());
  }
  const int64_t ns = w.static_vsn.n(), ne = w.encoder_vsn.n(), nd = w.decoder_vsn.n();
  emit("t.static_vsn.inputs_flat", {B, w.static_vsn.flat_width}, s.s_flat);
  var_outputs("t.static_vsn.var_outputs", {B, H, ns}, s.s_vsn, w.static_vsn, size_t(B));
  emit("t.static_vsn.logits", {B, ns}, s.s_vsn.flat.out);
  emit("t.static_embedding", {B, H}, s.s_vsn.out);
  emit("t.ctx_variable_selection", {B, H}, s.ctx[0].out);
  emit("t.ctx_initial_hidden", {B, H}, s.ctx[1].out);
  emit("t.ctx_initial_cell", {B, H}, s.ctx[2].out);
  emit("t.ctx_enrichment", {B, H}, s.ctx[3].out);
  emit("t.encoder_vsn.inputs_flat", {B, E, w.encoder_vsn.flat_width}, s.e_flat);
  var_outputs("t.encoder_vsn.var_outputs", {B, E, H, ne}, s.e_vsn, w.encoder_vsn, size_t(B) * E);
  emit("t.encoder_vsn.logits", {B, E, ne}, s.e_vsn.flat.out);
  emit("t.encoder_vsn.output", {B, E, H}, s.e_vsn.out);
  emit("t.decoder_vsn.inputs_flat", {B, D, w.decoder_vsn.flat_width}, s.d_flat);
  var_outputs("t.decoder_vsn.var_outputs", {B, D, H, nd}, s.d_vsn, w.decoder_vsn, size_t(B) * D);
  emit("t.decoder_vsn.logits", {B, D, nd}, s.d_vsn.flat.out);
  emit("t.decoder_vsn.output", {B, D, H}, s.d_vsn.out);
  // [B, T, H] → the encoder / decoder part
  auto part = [&](const float* src, int t0, int steps) {
    buf.resize(size_t(B) * steps * size_t(H));
    for (int b = 0; b < B; ++b)
      std::memcpy(&buf[size_t(b) * steps * size_t(H)], src + (size_t(b) * T + t0) * size_t(H), sizeof(float) * size_t(steps) * size_t(H));
    return buf.data();
  };
  emit("t.lstm_encoder.out", {B, E, H}, part(s.lstm_out, 0, E));
  emit("t.lstm_encoder.h_n", {B, H}, s.enc_h);
  emit("t.lstm_encoder.c_n", {B, H}, s.enc_c);
  emit("t.lstm_decoder.out", {B, D, H}, part(s.lstm_out, E, D));
  emit("t.lstm_decoder.h_n", {B, H}, s.h);
  emit("t.lstm_decoder.c_n", {B, H}, s.c);
  buf.resize(size_t(B) * T * size_t(H));
  for (size_t r = 0; r < size_t(B) * T; ++r)
    for (size_t j = 0; j < size_t(H); ++j) {
      const float* u = s.post_glu + r * 2 * size_t(H);
      buf[r * size_t(H) + j] = u[j] * nn::sigmoid(u[size_t(H) + j]);
    }
  emit("t.post_lstm_glu", {B, T, H}, buf.data());
  emit("t.post_lstm", {B, T, H}, s.phi);
  emit("t.enriched", {B, T, H}, s.enrich.out);
  buf.assign(size_t(B) * D * T, 0.0f);
  for (int b = 0; b < B; ++b)
    for (int i = 0; i < D; ++i)
      for (int j = 0; j < T; ++j)
        buf[(size_t(b) * D + i) * T + j] = (j < E ? j >= in.encoder_lengths[b] : j - E >= i) ? 1.0f : 0.0f;
  emit("t.attn.mask", {B, D, T}, buf.data());
  auto per_head = [&](const float* src, int steps) {  // [B·steps, h·d] → [B, h, steps, d]
    buf.resize(size_t(B) * steps * size_t(hd));
    for (int b = 0; b < B; ++b)
      for (int64_t hh = 0; hh < nh; ++hh)
        for (int t = 0; t < steps; ++t)
          std::memcpy(&buf[((size_t(b) * nh + hh) * steps + t) * d], src + (size_t(b) * steps + t) * hd + hh * d, sizeof(float) * size_t(d));
    return buf.data();
  };
  emit("t.attn.q", {B, nh, D, d}, per_head(s.Q, D));
  emit("t.attn.k", {B, nh, T, d}, per_head(s.K, T));
  emit("t.attn.v", {B, T, d}, s.V);
  emit("t.attn.heads", {B, D, nh, d}, s.heads);
  emit("t.attn.heads_mean", {B, D, d}, s.heads_mean);
  emit("t.attn.output", {B, D, H}, s.attn_out);
  emit("t.post_attn", {B, D, H}, s.alpha);
  emit("t.pos_wise_ff", {B, D, H}, s.pos_ff.out);
  emit("t.pre_output", {B, D, H}, s.omega);
}

double forward_macs_per_window(const ModelConfig& c, int E, int D) {
  const double H = c.hidden, cc = c.cont_hidden, d = c.head_dim, h = c.heads, T = E + D;
  const double R = cc + 2 * cc * cc + 2 * cc * H;
  auto G = [](double S, double m, double n, double x) { return S * m + m * m + 2 * m * n + x * m; };
  auto width = [&](const std::vector<std::string>& vars, int& n_real) {
    double S = 0;
    n_real = 0;
    for (const auto& v : vars) {
      auto it = c.embedding_sizes.find(v);
      if (it != c.embedding_sizes.end() && std::find(c.x_categoricals.begin(), c.x_categoricals.end(), v) != c.x_categoricals.end()) S += it->second.second;
      else { S += cc; ++n_real; }
    }
    return S;
  };
  int rs, re, rd;
  const double Ss = width(c.static_variables, rs), Se = width(c.encoder_variables, re), Sd = width(c.decoder_variables, rd);
  const double ns = c.static_variables.size(), ne = c.encoder_variables.size(), nd = c.decoder_variables.size();
  double macs = rs * R + G(Ss, std::min(H, ns), ns, 0) + 16 * H * H;
  macs += E * (re * R + G(Se, std::min(H, ne), ne, H));
  macs += D * (rd * R + G(Sd, std::min(H, nd), nd, H));
  macs += 8 * H * H * T + 2 * H * H * T + 5 * H * H * T;
  macs += T * H * d + h * (D + T) * H * d + 2 * h * D * T * d + D * d * H;
  macs += 8 * H * H * D + D * c.n_targets() * c.n_quantiles() * H;
  return macs;
}

}  // namespace nordiq::tft
