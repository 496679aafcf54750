// The stream-mode control API (SIMULATOR.md §11): POST /scenario/set, GET /scenario/status and
// GET /health on their own port. JSON everywhere; every error is {"error","message"} with a 4xx.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "sim/scenario.hpp"

namespace httplib { class Server; }

namespace nordiq::sim {

class ControlApi {
 public:
  using HealthFn = std::function<ControlReply()>;
  ControlApi(ScenarioControl& control, std::string key, HealthFn health);
  ~ControlApi();
  ControlApi(const ControlApi&) = delete;
  ControlApi& operator=(const ControlApi&) = delete;

  // Binds host:port (port −1: any free port) and serves on a thread. Returns the bound port;
  // throws std::runtime_error when it cannot bind.
  int start(const std::string& host, int port);
  void stop();

 private:
  ScenarioControl& control_;
  std::string key_;
  HealthFn health_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
};

}  // namespace nordiq::sim
