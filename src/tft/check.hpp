// `nordiq tft check`: runs the engine on a file in the golden format (docs: shared/golden/README.md)
// and compares every expected output / trace present with the stated tolerances.
// TFT files: weights `w.*`, inputs `in.*`, outputs `out.*`, optional traces `t.*` — any
// configuration the manifest describes. `modules.safetensors`: every forward module case.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace nordiq::tft {

struct CheckOptions {
  std::optional<double> atol, rtol;  // if either is set: tolerance = atol + rtol·|ref| everywhere
  int threads = 1;
};

struct TensorCheck {
  std::string name;
  size_t compared = 0;     // elements compared (valid positions only)
  double max_abs = 0, max_rel = 0;  // rel = |Δ| / max(|ref|, 1e-3)
  double worst_excess = 0;  // max of |Δ| / tolerance (≤ 1 passes)
  std::string tolerance;    // human-readable rule
  bool pass = true;
};

struct CheckReport {
  std::string file, summary;            // summary: configuration line
  std::vector<TensorCheck> checks;
  std::vector<std::string> not_checked;  // tensors present but out of scope (gradients, …)
  bool pass() const;
};

// Throws std::runtime_error for files it cannot interpret (no manifest, missing inputs, …).
CheckReport check_golden_file(const std::string& path, const CheckOptions& options);

// Prints the report (one line per tensor) to stdout.
void print_report(const CheckReport& report);

}  // namespace nordiq::tft
