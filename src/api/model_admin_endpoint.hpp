// The model registry and lifecycle over HTTP (SPEC §2.4, §4 admin rows; admin key only):
//   GET  /admin/models            every model dir with its manifest summary, the served one marked
//   GET  /admin/model-info        the served model, its provenance and held-out scores
//   POST /admin/reload-model      {"model": name}: load + validate off the forecast path, swap
//                                 between cycles, keep the old model on any error
//   POST /admin/trigger-training  {"epochs", "days", ...}: a background retraining job (409 if one runs)
//   GET  /admin/training-status   its phase, epoch, loss, ETA, and its result
//   POST /admin/cancel-training   stops it within one optimiser step
// The served model's name is kept in the data dir, so a restart serves what was last promoted.
#pragma once

#include <memory>

#include "serve/forecast_service.hpp"
#include "api/serve_context.hpp"

namespace nordiq::api {

void add_model_admin_routes(ServeContext& ctx, const std::shared_ptr<serve::ForecastService>& service);

}  // namespace nordiq::api
