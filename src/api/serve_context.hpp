// What `nordiq serve` wires together, handed to every service that plugs into the daemon
// (the forecast service adds its routes, status fields and a shutdown hook through it).
#pragma once

#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "api/api_server.hpp"
#include "api/auth.hpp"
#include "ingest/remote_write_assembler.hpp"
#include "store/fleet_store.hpp"

namespace nordiq::api {

struct ServeOptions {
  HttpSettings http;
  AuthSettings auth;
  StoreOptions store;
  std::filesystem::path models_dir = "models";
  std::string model;                // model name inside models_dir ("" = the default one)
  std::filesystem::path alerts_config;  // thresholds and alert rules ("" = the built-in defaults)
  std::string log_format = "text";  // text | json
  int forecast_threads = 0;         // threads of the forecast cycle (TFT engine, served layer); 0 = one per core
  int forecast_nice = 10;           // their nice value (core/thread_priority.hpp); 0 = as the HTTP threads
  int training_threads = 1;         // threads of a retraining job (POST /admin/trigger-training)
  std::string training_priority = "idle";  // its CPU priority: idle | nice | normal
  RemoteWriteOptions remote_write;  // POST /api/v1/write
  std::string alertmanager_url;     // "" = alerts are not pushed (else http://host:port of Alertmanager)
  std::string external_url;         // the dashboard's address in alerts' links ("" = http://host:port)
};

struct ServeContext {
  const ServeOptions& options;
  FleetStore& store;
  ApiServer& api;
  // Each adds fields to the GET /status body (e.g. "model", "last_forecast"); called per request.
  std::vector<std::function<void(nlohmann::json&)>> status_fields;
  // Run in reverse order after the HTTP server has drained, before the store is flushed.
  std::vector<std::function<void()>> on_shutdown;
};

}  // namespace nordiq::api
