#include "tft/grad_check.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <stdexcept>

#include "tft/adam.hpp"
#include "tft/engine.hpp"
#include "tft/model.hpp"
#include "tft/training_graph.hpp"

namespace nordiq::tft {
namespace {

bool starts_with(const std::string& s, const char* p) { return s.rfind(p, 0) == 0; }

// |Δ| ≤ atol + rtol·scale, scale = max|ref| of the tensor (README: "1e-5 + 1e-4 · max abs").
TensorCheck compare(const std::string& name, const float* got, const std::vector<float>& ref, double atol, double rtol_of_max,
                    const std::string& rule) {
  TensorCheck t;
  t.name = name;
  t.tolerance = rule;
  double maxabs = 0;
  for (float r : ref) maxabs = std::max(maxabs, double(std::fabs(r)));
  const double tol = atol + rtol_of_max * maxabs;
  for (size_t i = 0; i < ref.size(); ++i) {
    const double d = std::fabs(double(got[i]) - double(ref[i]));
    if (!std::isfinite(double(got[i]))) {
      t.pass = false;
      t.worst_excess = INFINITY;
      t.max_abs = INFINITY;
      continue;
    }
    t.max_abs = std::max(t.max_abs, d);
    t.max_rel = std::max(t.max_rel, d / std::max(double(std::fabs(ref[i])), 1e-3));
    t.worst_excess = std::max(t.worst_excess, d / tol);
  }
  t.compared = ref.size();
  t.pass = t.pass && t.worst_excess <= 1.0;
  return t;
}

}  // namespace

bool has_gradient_checks(const SafeTensors& file) {
  for (const auto& [name, info] : file.tensors())
    if (name == "loss" || starts_with(name, "g.") || starts_with(name, "adam1.")) return true;
  return false;
}

void check_gradients(const SafeTensors& file, const CheckOptions& options, CheckReport& report) {
  if (!has_gradient_checks(file)) return;
  auto model = load_model(file);
  const ModelConfig& c = model->config();
  const ParamTable& table = model->table();
  const bool custom = options.atol || options.rtol;
  const double atol_g = custom ? options.atol.value_or(0) : 1e-5, rtol_g = custom ? options.rtol.value_or(0) : 1e-4;
  const std::string grad_rule = custom ? fmt::format("{} + {}·max|ref|", atol_g, rtol_g) : "1e-5 + 1e-4·max|ref|";

  // inputs
  for (const char* n : {"in.x_cat", "in.x_cont", "in.encoder_lengths", "in.decoder_lengths", "in.y"})
    if (!file.has(n)) throw std::runtime_error(fmt::format("{}: gradient check needs tensor '{}'", file.source(), n));
  const auto& xs = file.info("in.x_cont").shape;
  if (xs.size() != 3 || xs[2] != c.n_real()) throw std::runtime_error("in.x_cont: expected shape [B, T, n_real]");
  const int B = int(xs[0]), T = int(xs[1]);
  std::vector<int32_t> x_cat, enc, dec;
  for (auto v : file.i64("in.x_cat")) x_cat.push_back(int32_t(v));
  for (auto v : file.i64("in.encoder_lengths")) enc.push_back(int32_t(v));
  for (auto v : file.i64("in.decoder_lengths")) dec.push_back(int32_t(v));
  if (int(enc.size()) != B || int(dec.size()) != B) throw std::runtime_error("in.encoder_lengths/in.decoder_lengths: expected [B]");
  const int E = c.max_encoder_length > 0 ? c.max_encoder_length : *std::max_element(enc.begin(), enc.end());
  const int D = T - E;
  if (D < 1) throw std::runtime_error(fmt::format("in.x_cont: {} steps leave no decoder after E = {}", T, E));
  const std::vector<float> x_cont = file.f32("in.x_cont");
  const std::vector<float> y = file.f32("in.y");
  if (y.size() != size_t(B) * D * c.n_targets()) throw std::runtime_error("in.y: expected shape [B, D, K]");
  ForwardInputs in{B, E, D, x_cat.data(), x_cont.data(), enc.data(), dec.data(), nullptr};

  TrainingGraph graph(*model);
  std::vector<float> G(table.total(), 0.0f), dx(x_cont.size(), 0.0f);
  const double loss = graph.forward(model->params(), in, y.data(), {});
  std::map<std::string, std::vector<float>> traces;
  GradTraceSink sink = [&](const std::string& name, const std::vector<int64_t>&, std::span<const float> data) {
    traces[name].assign(data.begin(), data.end());
  };
  graph.backward(G.data(), dx.data(), &sink);

  if (file.has("loss")) {
    const float ref = file.f32("loss")[0];
    const float got = float(loss);
    report.checks.push_back(compare("loss", &got, {ref}, 0, custom ? options.rtol.value_or(0) + options.atol.value_or(0) : 1e-5, "1e-5 relative"));
  }
  if (file.has("loss_per_target")) {
    const auto ref = file.f32("loss_per_target");
    std::vector<float> got(graph.loss_per_target().begin(), graph.loss_per_target().end());
    if (got.size() != ref.size()) throw std::runtime_error("loss_per_target: expected one value per target");
    // 1e-5 relative to the total loss
    report.checks.push_back(compare("loss_per_target", got.data(), ref, 1e-5 * std::fabs(loss), 0, "1e-5 · loss"));
  }
  for (const auto& s : table.specs()) {
    const std::string key = "g." + s.name;
    if (!file.has(key)) continue;
    const auto ref = file.f32(key);
    if (ref.size() != s.numel) throw std::runtime_error(fmt::format("tensor '{}': expected {} values", key, s.numel));
    report.checks.push_back(compare(key, G.data() + s.offset, ref, atol_g, rtol_g, grad_rule));
  }
  if (file.has("g.x_cont")) report.checks.push_back(compare("g.x_cont", dx.data(), file.f32("g.x_cont"), atol_g, rtol_g, grad_rule));
  for (const auto& [name, info] : file.tensors()) {
    if (!starts_with(name, "gt.")) continue;
    auto it = traces.find(name);
    if (it == traces.end()) {
      report.not_checked.push_back(name);
      continue;
    }
    const auto ref = file.f32(name);
    if (ref.size() != it->second.size()) throw std::runtime_error(fmt::format("tensor '{}': unexpected size", name));
    report.checks.push_back(compare(name, it->second.data(), ref, atol_g, rtol_g, grad_rule));
  }
  // Adam from the golden gradients (the README's recommended optimiser test).
  bool any_adam = false;
  for (const auto& [name, info] : file.tensors()) any_adam = any_adam || starts_with(name, "adam1.");
  if (any_adam) {
    std::vector<float> Gref(table.total(), 0.0f), P(model->params(), model->params() + table.total());
    load_params(table, file, "g.", false, Gref.data());
    Adam adam(table.total());
    adam.step(P.data(), Gref.data());
    const double atol_a = custom ? options.atol.value_or(0) : 1e-7;
    for (const auto& s : table.specs()) {
      const std::string key = "adam1." + s.name;
      if (!file.has(key)) continue;
      report.checks.push_back(compare(key, P.data() + s.offset, file.f32(key), atol_a, 0, fmt::format("{} abs", atol_a)));
    }
  }
}

}  // namespace nordiq::tft
