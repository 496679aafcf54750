// Gradient verification of a golden file (shared/golden/README.md §4.3): the loss and per-target
// losses, dL/dW for every state_dict name (`g.*`), dL/dx_cont, the intermediate gradients `gt.*`
// and one Adam step from the golden gradients (`adam1.*`), with the README's tolerances.
// `nordiq tft check` calls this for files that hold `loss`, `g.*` or `adam1.*`.
#pragma once

#include <string>

#include "tft/check.hpp"
#include "tft/safetensors.hpp"

namespace nordiq::tft {

// True when the file holds anything check_gradients verifies.
bool has_gradient_checks(const SafeTensors& file);

// Appends one TensorCheck per verified tensor to `report` (and nothing for files without
// gradient tensors). Throws std::runtime_error naming what is missing (weights, inputs, `in.y`).
// options.atol/rtol, if set, override the tolerances as in the forward check.
void check_gradients(const SafeTensors& file, const CheckOptions& options, CheckReport& report);

}  // namespace nordiq::tft
