#include "tft/check.hpp"
#include "tft/grad_check.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <stdexcept>

#include "tft/engine.hpp"
#include "tft/layers.hpp"
#include "tft/model.hpp"
#include "tft/safetensors.hpp"

namespace nordiq::tft {
namespace {

using nlohmann::json;

// Element-wise tolerance: tol(i) = abs + rel·|ref[i]| + per_elem(i)
struct Tolerance {
  double abs = 0, rel = 0;
  std::function<double(size_t)> extra;  // e.g. 5e-5·scale[b,k] for prediction
  std::string text;
};

TensorCheck compare(const std::string& name, const std::vector<float>& got, const std::vector<float>& ref,
                    const Tolerance& tol, const std::function<bool(size_t)>& valid) {
  TensorCheck c;
  c.name = name;
  c.tolerance = tol.text;
  if (got.size() != ref.size()) {
    c.pass = false;
    c.tolerance = fmt::format("size mismatch: engine {} vs file {}", got.size(), ref.size());
    return c;
  }
  for (size_t i = 0; i < ref.size(); ++i) {
    if (valid && !valid(i)) continue;
    ++c.compared;
    const double r = ref[i], g = got[i];
    const double diff = std::fabs(g - r);
    const double t = tol.abs + tol.rel * std::fabs(r) + (tol.extra ? tol.extra(i) : 0.0);
    if (!std::isfinite(g) || !(diff <= t)) c.pass = false;
    const double d = std::isfinite(diff) ? diff : INFINITY;
    c.max_abs = std::max(c.max_abs, d);
    c.max_rel = std::max(c.max_rel, d / std::max(std::fabs(r), 1e-3));
    c.worst_excess = std::max(c.worst_excess, t > 0 ? d / t : (d > 0 ? INFINITY : 0.0));
  }
  return c;
}

Tolerance override_or(const CheckOptions& o, Tolerance def) {
  if (!o.atol && !o.rtol) return def;
  Tolerance t;
  t.abs = o.atol.value_or(0.0);
  t.rel = o.rtol.value_or(0.0);
  t.text = fmt::format("{:g} + {:g}·|ref|", t.abs, t.rel);
  return t;
}

std::vector<int32_t> to_i32(const std::vector<int64_t>& v) { return std::vector<int32_t>(v.begin(), v.end()); }

// Which axis of a golden tensor is time, and which part of the padded time axis it spans.
std::pair<int, char> time_axis(const std::string& n) {
  auto starts = [&](const char* p) { return n.rfind(p, 0) == 0; };
  if (starts("t.attn.q")) return {2, 'D'};
  if (starts("t.attn.k")) return {2, 'T'};
  if (starts("t.encoder_vsn.") || starts("t.lstm_encoder.out") || starts("out.encoder_variable_weights")) return {1, 'E'};
  if (starts("t.decoder_vsn.") || starts("t.lstm_decoder.out") || starts("out.prediction") || starts("out.attention") ||
      starts("out.decoder_variable_weights") || starts("t.attn.mask") || starts("t.attn.heads") || starts("t.attn.output") ||
      starts("t.post_attn") || starts("t.pos_wise_ff") || starts("t.pre_output"))
    return {1, 'D'};
  if (starts("t.emb.") || starts("t.post_lstm") || starts("t.enriched") || starts("t.attn.v")) return {1, 'T'};
  return {-1, 0};
}

CheckReport check_tft(const SafeTensors& f, const json& manifest, const CheckOptions& opt) {
  CheckReport rep;
  rep.file = f.source();
  auto model = load_model(f);
  const ModelConfig& c = model->config();
  const auto& xs = f.info("in.x_cont").shape;
  if (xs.size() != 3 || xs[2] != c.n_real()) throw std::runtime_error(fmt::format("in.x_cont: expected shape [B, T, {}], got {}", c.n_real(), shape_str(xs)));
  const int B = int(xs[0]), T = int(xs[1]);
  auto enc = to_i32(f.i64("in.encoder_lengths"));
  auto dec = to_i32(f.i64("in.decoder_lengths"));
  if (int(enc.size()) != B || int(dec.size()) != B) throw std::runtime_error("in.encoder_lengths / in.decoder_lengths: expected shape [B]");
  int E = manifest.value("max_encoder_length", 0);
  if (E <= 0) E = *std::max_element(enc.begin(), enc.end());
  const int D = T - E;
  if (D < 1) throw std::runtime_error(fmt::format("max_encoder_length {} leaves no decoder steps in T = {}", E, T));
  auto x_cat = to_i32(f.i64("in.x_cat"));
  if (x_cat.size() != size_t(B) * T * c.n_cat()) throw std::runtime_error(fmt::format("in.x_cat: expected shape [{}, {}, {}]", B, T, c.n_cat()));
  auto x_cont = f.f32("in.x_cont");
  const int K = c.n_targets(), Q = c.n_quantiles();
  std::vector<float> ts = f.has("in.target_scale") ? f.f32("in.target_scale") : std::vector<float>(size_t(B) * K * 2, 0.0f);
  if (ts.size() != size_t(B) * K * 2) throw std::runtime_error(fmt::format("in.target_scale: expected shape [{}, {}, 2]", B, K));

  const bool medium = c.hidden >= 64 || E >= 96;
  rep.summary = fmt::format("H={} heads={} c={} B={} E={} D={} ({} tolerances{})", c.hidden, c.heads, c.cont_hidden, B, E, D,
                            medium ? "medium" : "tiny/ragged", opt.atol || opt.rtol ? ", overridden" : "");
  ForwardInputs in{B, E, D, x_cat.data(), x_cont.data(), enc.data(), dec.data(), ts.data()};
  std::map<std::string, std::vector<float>> got;
  auto& pn = got["out.prediction_normalized"];
  auto& pr = got["out.prediction"];
  auto& at = got["out.attention"];
  auto& sw = got["out.static_variable_weights"];
  auto& ew = got["out.encoder_variable_weights"];
  auto& dw = got["out.decoder_variable_weights"];
  const TftWeights& w = model->weights();
  pn.resize(size_t(B) * D * K * Q);
  pr.resize(pn.size());
  at.resize(size_t(B) * D * c.heads * T);
  sw.resize(size_t(B) * w.static_vsn.n());
  ew.resize(size_t(B) * E * w.encoder_vsn.n());
  dw.resize(size_t(B) * D * w.decoder_vsn.n());
  ForwardOutputs out{pn.data(), pr.data(), at.data(), sw.data(), ew.data(), dw.data()};
  Engine engine(*model, opt.threads);
  engine.forward(in, out);
  bool any_trace = false;
  for (const auto& [name, info] : f.tensors()) any_trace |= name.rfind("t.", 0) == 0;
  if (any_trace) {
    std::vector<float> scratch_out[6];
    ForwardOutputs o2{};  // traced run: outputs were already produced by the real path above
    engine.forward_traced(in, o2, [&](const std::string& name, const std::vector<int64_t>&, std::span<const float> data) {
      got[name].assign(data.begin(), data.end());
    });
  }

  const double tp = medium ? 2e-4 : 5e-5, ta = medium ? 5e-5 : 2e-5;
  for (const auto& [name, info] : f.tensors()) {
    const bool is_out = name.rfind("out.", 0) == 0, is_trace = name.rfind("t.", 0) == 0;
    if (!is_out && !is_trace) {
      if (name.rfind("w.", 0) != 0 && name.rfind("in.", 0) != 0) rep.not_checked.push_back(name);
      continue;
    }
    auto it = got.find(name);
    if (it == got.end()) {
      rep.not_checked.push_back(name);
      continue;
    }
    std::vector<float> ref;
    if (info.dtype == DType::I64) {
      auto v = f.i64(name);
      ref.assign(v.begin(), v.end());
    } else {
      ref = f.f32(name);
    }
    // validity of each element: padded encoder / decoder steps are not compared
    const auto [axis, kind] = time_axis(name);
    std::function<bool(size_t)> valid;
    if (axis >= 0 && info.shape.size() > size_t(axis)) {
      size_t inner = 1;
      for (size_t k = size_t(axis) + 1; k < info.shape.size(); ++k) inner *= size_t(info.shape[k]);
      const size_t steps = size_t(info.shape[size_t(axis)]);
      size_t mid = 1;
      for (size_t k = 1; k < size_t(axis); ++k) mid *= size_t(info.shape[k]);
      valid = [=, &enc, &dec, kind = kind](size_t i) {  // init-capture: clang 14 cannot capture a binding
        const size_t t = (i / inner) % steps;
        const size_t b = i / (inner * steps * mid);
        if (kind == 'E') return int(t) < enc[b];
        if (kind == 'D') return int(t) < dec[b];
        return int(t) < enc[b] || (int(t) >= E && int(t) - E < dec[b]);
      };
    }
    Tolerance tol;
    if (name == "out.prediction_normalized") {
      tol.abs = tp;
      tol.text = fmt::format("{:g}", tp);
    } else if (name == "out.prediction") {
      tol.rel = 1e-6;
      tol.extra = [&ts, tp, K, Q, D](size_t i) {
        const size_t k = (i / size_t(Q)) % size_t(K), b = i / (size_t(Q) * K * D);
        return tp * std::fabs(ts[(b * K + k) * 2 + 1]);
      };
      tol.text = fmt::format("{:g}·scale + 1e-6·|ref|", tp);
    } else if (is_out) {
      tol.abs = ta;
      tol.text = fmt::format("{:g}", ta);
    } else {
      tol.abs = 1e-4;
      tol.text = "1e-4";
    }
    rep.checks.push_back(compare(name, it->second, ref, override_or(opt, tol), valid));
  }
  return rep;
}

// ---- modules.safetensors --------------------------------------------------------------------

struct CaseParams {
  ParamTable table;
  std::vector<float> P, kappa;
  std::map<std::pair<int, int>, nn::InterpTable> interp;
  nn::Prepared prep;
  void load(const SafeTensors& f, const std::string& prefix) {
    P.assign(table.total(), 0.0f);
    kappa.assign(table.total(), 0.0f);
    load_params(table, f, prefix, true, P.data());
    nn::prepare_kappa(table, P.data(), kappa.data());
    prep.P = P.data();
    prep.kappa = kappa.data();
    prep.interp = &interp;
  }
};

size_t rows_of(const TensorInfo& info) {  // all axes but the last
  size_t r = 1;
  for (size_t k = 0; k + 1 < info.shape.size(); ++k) r *= size_t(info.shape[k]);
  return r;
}

using CaseOutputs = std::map<std::string, std::vector<float>>;  // by output name; "__in.X": an input
using CaseRunner = CaseOutputs (*)(const SafeTensors& f, const json& cs, const std::string& pre, CaseParams& cp);

// Interpolation (resampling) of a width.
CaseOutputs run_interp(const SafeTensors& f, const json& cs, const std::string& pre, CaseParams&) {
  CaseOutputs outs;
  const int n = cs.at("n_in"), m = cs.at("n_out");
  auto x = f.f32(pre + "in.x");
  const int rows = int(x.size() / size_t(n));
  auto& y = outs["y"];
  y.resize(size_t(rows) * m);
  nn::interp_forward(y.data(), x.data(), n, rows, nn::InterpTable::make(n, m));
  return outs;
}

// LayerNorm.
CaseOutputs run_layer_norm(const SafeTensors& f, const json& cs, const std::string& pre, CaseParams& cp) {
  CaseOutputs outs;
  const int n = cs.at("size");
  const LayerNormW ln = add_layer_norm(cp.table, "", n);
  cp.load(f, pre + "w.");
  auto x = f.f32(pre + "in.x");
  auto& y = outs["y"];
  y.resize(x.size());
  nn::layer_norm_forward(y.data(), x.data(), int(x.size() / size_t(n)), n, cp.P.data() + ln.w, cp.P.data() + ln.b, cs.value("eps", 1e-5f));
  return outs;
}

// GateAddNorm: GLU, skip, LayerNorm.
CaseOutputs run_gate_add_norm(const SafeTensors& f, const json& cs, const std::string& pre, CaseParams& cp) {
  CaseOutputs outs;
  const int a = cs.at("input_size"), o = cs.at("hidden_size");
  const GateAddNormW g = add_gate_add_norm(cp.table, "", a, o);
  cp.load(f, pre + "w.");
  auto x = f.f32(pre + "in.x");
  auto skip = f.f32(pre + "in.skip");
  const int rows = int(x.size() / size_t(a));
  std::vector<float> u(size_t(rows) * 2 * o);
  nn::linear_forward(u.data(), 2 * o, x.data(), a, rows, g.glu, cp.P.data());
  auto& y = outs["y"];
  y.resize(size_t(rows) * o);
  nn::gate_add_norm_forward(y.data(), u.data(), skip.data(), o, rows, o, cp.P.data() + g.norm.w, cp.P.data() + g.norm.b, 1e-5f);
  return outs;
}

// GatedResidualNetwork.
CaseOutputs run_grn(const SafeTensors& f, const json& cs, const std::string& pre, CaseParams& cp) {
  CaseOutputs outs;
  const int a = cs.at("input_size"), hdn = cs.at("hidden_size"), o = cs.at("output_size");
  const int ctx = cs.at("context_size").is_null() ? 0 : cs.at("context_size").get<int>();
  const GrnW g = add_grn(cp.table, "", a, hdn, o, ctx);
  nn::add_interp_tables(cp.interp, g);
  cp.load(f, pre + "w.");
  auto x = f.f32(pre + "in.x");
  std::vector<float> context = ctx ? f.f32(pre + "in.context") : std::vector<float>{};
  const int rows = int(x.size() / size_t(a));
  std::vector<float> mem(nn::grn_acts_floats(g, rows, rows) + 64);
  float* cur = mem.data();
  const nn::GrnActs acts = nn::grn_acts_take(g, rows, rows, cur);
  nn::grn_forward(acts, x.data(), a, rows, ctx ? context.data() : nullptr, 1, g, cp.prep);
  outs["y"].assign(acts.out, acts.out + size_t(rows) * o);
  return outs;
}

// VariableSelectionNetwork: prescalers, per-variable GRNs, weights.
CaseOutputs run_vsn(const SafeTensors& f, const json& cs, const std::string& pre, CaseParams& cp) {
  CaseOutputs outs;
  const int H = cs.at("hidden_size");
  const int ctx = cs.at("context_size").is_null() ? 0 : cs.at("context_size").get<int>();
  const json& flags = cs.at("input_embedding_flags");
  VsnW v;
  std::vector<std::vector<float>> inputs;
  size_t rows = 0;
  for (const auto& vn : cs.at("variable_order")) {
    const std::string var = vn.get<std::string>();
    VsnVarW vw;
    vw.name = var;
    vw.width = cs.at("input_sizes").at(var);
    vw.flat_offset = v.flat_width;
    vw.categorical = flags.contains(var) && flags.at(var).get<bool>();
    if (vw.categorical) {
      vw.cat_norm = add_resample_norm(cp.table, "single_variable_grns." + var + ".", vw.width, H);
      if (vw.width != H) cp.interp[{vw.width, H}] = nn::InterpTable::make(vw.width, H);
    } else {
      vw.prescaler = add_linear(cp.table, "prescalers." + var + ".", 1, vw.width);
      vw.grn = add_grn(cp.table, "single_variable_grns." + var + ".", vw.width, std::min(vw.width, H), H, 0);
      nn::add_interp_tables(cp.interp, vw.grn);
    }
    inputs.push_back(f.f32(pre + "in." + var));
    rows = rows_of(f.info(pre + "in." + var));
    v.flat_width += vw.width;
    v.vars.push_back(vw);
  }
  v.flat = add_grn(cp.table, "flattened_grn.", v.flat_width, std::min(H, v.n()), v.n(), ctx);
  nn::add_interp_tables(cp.interp, v.flat);
  cp.load(f, pre + "w.");
  std::vector<float> flat(rows * size_t(v.flat_width));
  for (size_t r = 0; r < rows; ++r)
    for (size_t i = 0; i < v.vars.size(); ++i) {
      const auto& vw = v.vars[i];
      float* dst = &flat[r * size_t(v.flat_width) + size_t(vw.flat_offset)];
      if (vw.categorical) {
        for (int j = 0; j < vw.width; ++j) dst[j] = inputs[i][r * size_t(vw.width) + size_t(j)];
      } else {
        const float x = inputs[i][r];
        for (int j = 0; j < vw.width; ++j) dst[j] = x * cp.P[vw.prescaler.w + size_t(j)] + cp.P[vw.prescaler.b + size_t(j)];
      }
    }
  std::vector<float> context = ctx ? f.f32(pre + "in.context") : std::vector<float>{};
  std::vector<float> mem(nn::vsn_acts_floats(v, int(rows), int(rows), true) + 64);
  float* cur = mem.data();
  nn::VsnActs acts;
  nn::vsn_acts_take(acts, v, int(rows), int(rows), true, cur);
  nn::vsn_forward(acts, flat.data(), int(rows), ctx ? context.data() : nullptr, 1, v, H, cp.prep);
  outs["y"].assign(acts.out, acts.out + rows * size_t(H));
  outs["weights"].assign(acts.weights, acts.weights + rows * size_t(v.n()));
  return outs;
}

// InterpretableMultiHeadAttention, and its mask rule against the file's mask.
CaseOutputs run_attention(const SafeTensors& f, const json& cs, const std::string& pre, CaseParams& cp) {
  CaseOutputs outs;
  const int nh = cs.at("n_head"), dm = cs.at("d_model"), d = cs.at("head_dim"), E = cs.at("E"), D = cs.at("D");
  AttentionW aw;
  aw.heads = nh;
  aw.d = d;
  for (int i = 0; i < nh; ++i) aw.k.push_back(add_linear(cp.table, fmt::format("k_layers.{}.", i), dm, d));
  for (int i = 0; i < nh; ++i) aw.q.push_back(add_linear(cp.table, fmt::format("q_layers.{}.", i), dm, d));
  aw.v = add_linear(cp.table, "v_layer.", dm, d);
  aw.w_h = add_linear(cp.table, "w_h.", d, dm, false);
  cp.load(f, pre + "w.");
  auto q = f.f32(pre + "in.q");
  auto kv = f.f32(pre + "in.kv");
  std::vector<int32_t> lens;
  for (const auto& l : cs.at("encoder_lengths")) lens.push_back(l.get<int>());
  const int B = int(lens.size()), T = E + D;
  std::vector<float> Q(size_t(B) * D * nh * d), K(size_t(B) * T * nh * d), V(size_t(B) * T * d);
  for (int i = 0; i < nh; ++i) {
    nn::linear_forward(Q.data() + i * d, nh * d, q.data(), dm, B * D, aw.q[size_t(i)], cp.P.data());
    nn::linear_forward(K.data() + i * d, nh * d, kv.data(), dm, B * T, aw.k[size_t(i)], cp.P.data());
  }
  nn::linear_forward(V.data(), d, kv.data(), dm, B * T, aw.v, cp.P.data());
  auto& probs = outs["attention"];
  probs.resize(size_t(B) * D * nh * T);
  std::vector<float> heads(size_t(B) * D * nh * d), mean(size_t(B) * D * d), scratch(size_t(T) * (d + 1));
  nn::attention_forward(probs.data(), heads.data(), mean.data(), Q.data(), K.data(), V.data(), lens.data(), B, E, D, nh, d, scratch.data());
  auto& y = outs["y"];
  y.resize(size_t(B) * D * dm);
  nn::linear_forward(y.data(), dm, mean.data(), d, B * D, aw.w_h, cp.P.data());
  // the mask rule itself against the file's mask
  auto& mask = outs["__in.mask"];
  for (int b = 0; b < B; ++b)
    for (int i = 0; i < D; ++i)
      for (int j = 0; j < T; ++j) mask.push_back((j < E ? j >= lens[size_t(b)] : j - E >= i) ? 1.0f : 0.0f);
  return outs;
}

// LSTM layer (one direction, one layer).
CaseOutputs run_lstm(const SafeTensors& f, const json& cs, const std::string& pre, CaseParams& cp) {
  CaseOutputs outs;
  const int in_sz = cs.at("input_size"), H = cs.at("hidden_size");
  LstmW lw;
  lw.ih.w = cp.table.add("weight_ih_l0", {4 * H, in_sz});
  lw.hh.w = cp.table.add("weight_hh_l0", {4 * H, H});
  lw.ih.b = cp.table.add("bias_ih_l0", {4 * H});
  lw.hh.b = cp.table.add("bias_hh_l0", {4 * H});
  cp.load(f, pre + "w.");
  auto x = f.f32(pre + "in.x");
  auto lens = to_i32(f.i64(pre + "in.lengths"));
  auto h = f.f32(pre + "in.h0");
  auto c0 = f.f32(pre + "in.c0");
  const int B = int(lens.size()), steps = int(x.size() / size_t(B * in_sz));
  std::vector<float> bias(size_t(4 * H)), wt(size_t(H) * 4 * H), gates(size_t(B) * steps * 4 * H), scratch(size_t(B) * 4 * H);
  for (int n = 0; n < 4 * H; ++n) {
    bias[size_t(n)] = cp.P[lw.ih.b + size_t(n)] + cp.P[lw.hh.b + size_t(n)];
    for (int k = 0; k < H; ++k) wt[size_t(k) * 4 * H + n] = cp.P[lw.hh.w + size_t(n) * H + k];
  }
  LinearW ih{lw.ih.w, kNoParam, in_sz, 4 * H};
  nn::linear_forward(gates.data(), 4 * H, x.data(), in_sz, B * steps, ih, cp.P.data());
  for (size_t r = 0; r < size_t(B) * steps; ++r)
    for (int n = 0; n < 4 * H; ++n) gates[r * 4 * H + size_t(n)] += bias[size_t(n)];
  auto& o = outs["out"];
  o.resize(size_t(B) * steps * H);
  nn::lstm_forward(o.data(), size_t(steps) * H, h.data(), c0.data(), gates.data(), nullptr, lens.data(), B, steps, H, wt.data(), scratch.data());
  outs["h_n"] = h;
  outs["c_n"] = c0;
  return outs;
}

// Which of our forward functions runs a module case (nullptr: not a forward module, e.g. a loss).
CaseRunner runner_for(const std::string& name, const std::string& cls) {
  if (name.rfind("interp_", 0) == 0) return run_interp;
  if (cls == "LayerNorm") return run_layer_norm;
  if (cls == "GateAddNorm") return run_gate_add_norm;
  if (cls == "GatedResidualNetwork") return run_grn;
  if (cls == "VariableSelectionNetwork") return run_vsn;
  if (cls == "InterpretableMultiHeadAttention") return run_attention;
  if (cls.rfind("LSTM", 0) == 0) return run_lstm;
  return nullptr;
}

// Each output against its reference tensor ("__in.X": an input the case recomputes, exactly).
void compare_outputs(const SafeTensors& f, const std::string& pre, const CaseOutputs& outs, double def_tol,
                     const CheckOptions& opt, CheckReport& rep) {
  for (const auto& [oname, data] : outs) {
    const bool input_check = oname.rfind("__in.", 0) == 0;
    const std::string tname = input_check ? pre + "in." + oname.substr(5) : pre + "out." + oname;
    std::vector<float> ref;
    if (f.info(tname).dtype == DType::I64) {
      auto v = f.i64(tname);
      ref.assign(v.begin(), v.end());
    } else {
      ref = f.f32(tname);
    }
    Tolerance tol;
    tol.abs = input_check ? 0.0 : def_tol;
    tol.text = fmt::format("{:g}", tol.abs);
    rep.checks.push_back(compare(tname, data, ref, input_check ? tol : override_or(opt, tol), nullptr));
  }
}

CheckReport check_modules(const SafeTensors& f, const json& manifest, const CheckOptions& opt) {
  CheckReport rep;
  rep.file = f.source();
  const json& cases = manifest.at("cases");
  rep.summary = fmt::format("{} module cases (forward outputs)", cases.size());
  std::vector<std::string> done_prefixes;
  for (auto it = cases.begin(); it != cases.end(); ++it) {
    const std::string name = it.key();
    const json& cs = it.value();
    const std::string cls = cs.value("cls", "");
    const CaseRunner run = runner_for(name, cls);
    if (!run) {
      rep.not_checked.push_back(name + " (" + (cls.empty() ? std::string("loss") : cls) + ": not a forward module)");
      continue;
    }
    const std::string pre = name + ".";
    CaseParams cp;
    const CaseOutputs outs = run(f, cs, pre, cp);
    done_prefixes.push_back(pre);
    compare_outputs(f, pre, outs, name.rfind("interp_", 0) == 0 ? 1e-6 : 1e-5, opt, rep);
  }
  for (const auto& [tname, info] : f.tensors()) {
    const bool covered = std::any_of(done_prefixes.begin(), done_prefixes.end(),
                                     [&, &tname = tname](const std::string& p) { return tname.rfind(p, 0) == 0; });
    const bool forward_part = tname.find(".out.") != std::string::npos;
    if (!covered || !forward_part) {
      if (tname.find(".g.") != std::string::npos || tname.find(".gin.") != std::string::npos) continue;  // gradients: checked by grad_check.cpp
      if (!covered) rep.not_checked.push_back(tname);
    }
  }
  return rep;
}

}  // namespace

bool CheckReport::pass() const {
  return !checks.empty() && std::all_of(checks.begin(), checks.end(), [](const TensorCheck& c) { return c.pass; });
}

CheckReport check_golden_file(const std::string& path, const CheckOptions& options) {
  const SafeTensors f = SafeTensors::load(path);
  const json manifest = read_manifest(f);
  try {
    if (manifest.contains("cases")) return check_modules(f, manifest, options);
    CheckReport r = check_tft(f, manifest, options);
    // Loss, gradients (g.*, g.x_cont, gt.*) and the Adam step (adam1.*): tft/grad_check.hpp.
    if (has_gradient_checks(f)) {
      check_gradients(f, options, r);
      std::erase_if(r.not_checked, [](const std::string& n) {
        return n.rfind("loss", 0) == 0 || n.rfind("g.", 0) == 0 || n.rfind("gt.", 0) == 0 || n.rfind("adam1.", 0) == 0 ||
               n == "in.y";
      });
    }
    return r;
  } catch (const std::exception& e) {
    throw std::runtime_error(fmt::format("{}: {}", path, e.what()));
  }
}

void print_report(const CheckReport& r) {
  fmt::print("{}: {}\n", r.file, r.summary);
  for (const auto& c : r.checks)
    fmt::print("  {:<44} max abs {:9.3e}  max rel {:9.3e}  n={:<7} tol {:<22} {}\n", c.name, c.max_abs, c.max_rel, c.compared,
               c.tolerance, c.pass ? "ok" : "FAIL");
  if (!r.not_checked.empty())
    fmt::print("  ({} tensors not checked: gradients/loss/optimizer state and others outside the forward pass, e.g. {})\n",
               r.not_checked.size(), r.not_checked.front());
  const size_t failed = size_t(std::count_if(r.checks.begin(), r.checks.end(), [](const TensorCheck& c) { return !c.pass; }));
  fmt::print("{}: {} tensors compared, {} failed\n", r.pass() ? "PASS" : "FAIL", r.checks.size(), failed);
}

}  // namespace nordiq::tft
