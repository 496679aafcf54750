// §11: scenario ramps, escalation, ramp-down, picks, and every control API error.
#include <gtest/gtest.h>
#include <httplib.h>

#include "sim/control_api.hpp"
#include "sim/scenario.hpp"
#include "sim_test_util.hpp"

namespace nordiq::sim {
namespace {

using nlohmann::json;

struct Rig {
  FleetEngine engine{test::config(42), split_fleet(20)};
  ScenarioControl control{engine};
  std::vector<ExternalOverlay> ext;
  std::vector<SimRecord> recs;
  int64_t k = 0;
  // Generates one step with the overlays; returns step index generated.
  int64_t step() {
    control.overlays(k, ext);
    engine.step_all(k, recs, &ext);
    size_t online = 0;
    for (const auto& r : recs) online += r.online;
    control.advance(k, online);
    return k++;
  }
  size_t index(const std::string& name) { return static_cast<size_t>(*engine.fleet().find(name)); }
};

TEST(Scenario, DegradingRampsLinearlyAndReportsHeavyLoadFromHalfIntensity) {
  Rig rig;
  for (int i = 0; i < 3; ++i) rig.step();
  const auto r = rig.control.set(json{{"scenario", "degrading"}, {"servers", {"ppdb002"}}, {"ramp_steps", 4}});
  ASSERT_EQ(r.status, 200) << r.body.dump();
  EXPECT_EQ(r.body["mode"], "fresh");
  EXPECT_EQ(r.body["previous"], "healthy");
  EXPECT_EQ(r.body["affected_servers"], json({"ppdb002"}));
  EXPECT_EQ(r.body["effective_step"], 3);
  EXPECT_EQ(r.body["effective_time"], "2025-01-06T00:15:00Z");
  const size_t db = rig.index("ppdb002");
  for (int j = 1; j <= 6; ++j) {
    const int64_t k = rig.step();
    EXPECT_DOUBLE_EQ(rig.control.intensity(db, k), std::min(1.0, j / 4.0)) << "step " << j;
    EXPECT_DOUBLE_EQ(rig.ext[db].s[static_cast<int>(Family::cpu)], std::min(1.0, j / 4.0));
    EXPECT_DOUBLE_EQ(rig.ext[db].s[static_cast<int>(Family::iowait)], std::min(1.0, j / 4.0)) << "database: iowait too";
    if (j / 4.0 >= 0.5 && rig.recs[db].online) {
      EXPECT_TRUE(rig.recs[db].status == Status::heavy_load || rig.recs[db].status == Status::critical_issue)
          << "step " << j;
    }
    if (j == 1) {
      EXPECT_EQ(rig.ext[db].status, Status::healthy);
    }
  }
  // Nobody else is overlaid.
  for (size_t i = 0; i < rig.engine.size(); ++i)
    if (i != db) {
      EXPECT_EQ(rig.control.intensity(i, rig.k - 1), 0.0);
    }
  auto st = rig.control.status().body;
  EXPECT_EQ(st["scenario"], "degrading");
  EXPECT_EQ(st["progress"], 1.0);
  EXPECT_EQ(st["fleet_size"], 20);

  // critical escalates from s = 1 with no dip, reaching 2 after its ramp.
  const auto c = rig.control.set(json{{"scenario", "critical"}, {"ramp_steps", 4}});
  ASSERT_EQ(c.status, 200) << c.body.dump();
  EXPECT_EQ(c.body["mode"], "escalate");
  EXPECT_EQ(c.body["affected_servers"], json({"ppdb002"}));
  double prev = 1.0;
  for (int j = 1; j <= 4; ++j) {
    const int64_t k = rig.step();
    const double s = rig.control.intensity(db, k);
    EXPECT_DOUBLE_EQ(s, 1.0 + j / 4.0);
    EXPECT_GT(s, prev);
    prev = s;
    EXPECT_EQ(rig.ext[db].status, j * 2 >= 4 ? Status::critical_issue : Status::heavy_load);
  }
  // The cpu family is driven to the critical peak: busy settles near 99.
  for (int j = 0; j < 8; ++j) rig.step();
  if (rig.recs[db].online) {
    EXPECT_GT(10000 - rig.recs[db].v[3], 9000);
  }

  // healthy ramps back to baseline and removes the overlay.
  const auto h = rig.control.set(json{{"scenario", "healthy"}, {"ramp_steps", 2}});
  ASSERT_EQ(h.status, 200);
  EXPECT_EQ(h.body["mode"], "ramp_down");
  int64_t k = rig.step();
  EXPECT_DOUBLE_EQ(rig.control.intensity(db, k), 1.0);
  EXPECT_EQ(rig.ext[db].status, Status::recovery);
  k = rig.step();
  EXPECT_DOUBLE_EQ(rig.control.intensity(db, k), 0.0);
  rig.step();
  EXPECT_EQ(rig.ext[db].s[static_cast<int>(Family::cpu)], 0.0);
  EXPECT_FALSE(rig.ext[db].status.has_value());

  std::vector<IncidentRow> rows;
  rig.control.incident_rows(rows);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].kind, "degrading");
  EXPECT_EQ(rows[1].kind, "critical");
  EXPECT_EQ(rows[0].end, rows[1].start);
  EXPECT_TRUE(rows[1].end.has_value());
  EXPECT_EQ(rows[1].peak_target, 99.0);
}

TEST(Scenario, RandomPicksAreReproducibleAndSized) {
  Rig a, b;
  a.step();
  b.step();
  const auto ra = a.control.set(json{{"scenario", "degrading"}});
  const auto rb = b.control.set(json{{"scenario", "degrading"}});
  EXPECT_EQ(ra.body["affected_servers"].size(), 4u);  // ⌊0.20·20⌋
  EXPECT_EQ(ra.body["affected_servers"], rb.body["affected_servers"]);
  const auto fresh = a.control.set(json{{"scenario", "healthy"}});
  EXPECT_EQ(fresh.body["affected_servers"], ra.body["affected_servers"]);
  const auto crit = a.control.set(json{{"scenario", "critical"}});
  EXPECT_EQ(crit.body["mode"], "fresh");
  EXPECT_EQ(crit.body["affected_servers"].size(), 5u);  // ⌊0.25·20⌋
  const auto cas = a.control.set(json{{"scenario", "cascade"}});
  ASSERT_EQ(cas.status, 200);
  EXPECT_EQ(cas.body["mode"], "cascade");
  ASSERT_EQ(cas.body["affected_servers"].size(), 2u);
  for (const auto& n : cas.body["affected_servers"]) EXPECT_EQ(n.get<std::string>().rfind("ppdb", 0), 0u);
  EXPECT_GT(cas.body["cascade_dependents"].get<int>(), 0);
}

TEST(Scenario, CascadeSourcesDriveTheirBoundDependants) {
  Rig rig;
  rig.step();
  const auto r = rig.control.set(json{{"scenario", "cascade"}, {"servers", {"ppdb001"}}, {"ramp_steps", 2}});
  ASSERT_EQ(r.status, 200) << r.body.dump();
  rig.step();
  rig.step();
  const auto& fleet = rig.engine.fleet();
  const int src = *fleet.find("ppdb001");
  int bound = 0;
  for (size_t d = 0; d < fleet.size(); ++d)
    for (size_t e = 0; e < kCascadeEdges.size(); ++e) {
      if (fleet[d].upstream[e] == src) {
        EXPECT_DOUBLE_EQ(rig.ext[d].edge_c[e], 1.0) << fleet[d].name;
        ++bound;
      } else {
        EXPECT_EQ(rig.ext[d].edge_c[e], 0.0);
      }
    }
  EXPECT_EQ(r.body["cascade_dependents"].get<int>(), bound);
  EXPECT_DOUBLE_EQ(rig.ext[src].s[static_cast<int>(Family::iowait)], 2.0);
  EXPECT_DOUBLE_EQ(rig.ext[src].s[static_cast<int>(Family::memory)], 2.0);
  const auto st = rig.control.status().body;
  EXPECT_EQ(st["cascade_sources"], json({"ppdb001"}));
  EXPECT_EQ(st["cascade_dependents"].size(), static_cast<size_t>(bound));
}

TEST(Scenario, EveryRequestErrorHasItsCode) {
  Rig rig;
  auto code = [&](const json& body) {
    const auto r = rig.control.set(body);
    EXPECT_GE(r.status, 400);
    EXPECT_LT(r.status, 500);
    EXPECT_TRUE(r.body.contains("message"));
    return std::make_pair(r.status, r.body.value("error", std::string()));
  };
  EXPECT_EQ(code(json::array()), std::make_pair(400, std::string("bad_json")));
  EXPECT_EQ(code(json{{"servers", {"ppdb001"}}}), std::make_pair(422, std::string("missing_field")));
  EXPECT_EQ(code(json{{"scenario", "degrading"}, {"extra", 1}}), std::make_pair(422, std::string("unknown_field")));
  EXPECT_EQ(code(json{{"scenario", "panic"}}), std::make_pair(422, std::string("unknown_scenario")));
  EXPECT_EQ(code(json{{"scenario", 3}}), std::make_pair(422, std::string("unknown_scenario")));
  EXPECT_EQ(code(json{{"scenario", "degrading"}, {"servers", json::array()}}), std::make_pair(422, std::string("invalid_servers")));
  EXPECT_EQ(code(json{{"scenario", "degrading"}, {"servers", "ppdb001"}}), std::make_pair(422, std::string("invalid_servers")));
  EXPECT_EQ(code(json{{"scenario", "degrading"}, {"servers", {"ppdb001", "ppdb001"}}}),
            std::make_pair(422, std::string("invalid_servers")));
  EXPECT_EQ(code(json{{"scenario", "degrading"}, {"servers", {1}}}), std::make_pair(422, std::string("invalid_servers")));
  EXPECT_EQ(code(json{{"scenario", "degrading"}, {"servers", {"nope1"}}}), std::make_pair(422, std::string("unknown_server")));
  EXPECT_EQ(code(json{{"scenario", "cascade"}, {"servers", {"ppweb001"}}}),
            std::make_pair(422, std::string("invalid_cascade_source")));
  EXPECT_EQ(code(json{{"scenario", "degrading"}, {"ramp_steps", 0}}), std::make_pair(422, std::string("invalid_ramp_steps")));
  EXPECT_EQ(code(json{{"scenario", "degrading"}, {"ramp_steps", 2017}}), std::make_pair(422, std::string("invalid_ramp_steps")));
  EXPECT_EQ(code(json{{"scenario", "degrading"}, {"ramp_steps", 2.5}}), std::make_pair(422, std::string("invalid_ramp_steps")));
  // The unknown_server message lists at most 10 names.
  json many = json::array();
  for (int i = 0; i < 15; ++i) many.push_back("ghost" + std::to_string(i));
  const auto r = rig.control.set(json{{"scenario", "degrading"}, {"servers", many}});
  EXPECT_NE(r.body["message"].get<std::string>().find("ghost9"), std::string::npos);
  EXPECT_EQ(r.body["message"].get<std::string>().find("ghost10,"), std::string::npos);
  EXPECT_NE(r.body["message"].get<std::string>().find("5 more"), std::string::npos);
}

TEST(ControlApi, HttpErrorsAreJsonWithTheirCodes) {
  Rig rig;
  ControlApi api(rig.control, "sekret", [] { return ControlReply{200, json{{"status", "ok"}}}; });
  const int port = api.start("127.0.0.1", -1);
  httplib::Client cli("127.0.0.1", port);
  httplib::Headers key{{"X-API-Key", "sekret"}};
  auto expect = [](const httplib::Result& r, int status, const std::string& code) {
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, status);
    const auto j = json::parse(r->body, nullptr, false);
    ASSERT_TRUE(j.is_object()) << r->body;
    EXPECT_EQ(j.value("error", ""), code) << r->body;
    EXPECT_TRUE(j.contains("message"));
  };
  expect(cli.Post("/scenario/set", R"({"scenario":"degrading"})", "application/json"), 401, "unauthorized");
  expect(cli.Post("/scenario/set", httplib::Headers{{"X-API-Key", "wrong"}}, R"({"scenario":"degrading"})",
                  "application/json"),
         403, "forbidden");
  expect(cli.Post("/scenario/set", key, "{not json", "application/json"), 400, "bad_json");
  expect(cli.Post("/scenario/set", key, "[1,2]", "application/json"), 400, "bad_json");
  expect(cli.Post("/scenario/set", key, R"({"scenario":"panic"})", "application/json"), 422, "unknown_scenario");
  expect(cli.Post("/scenario/set", key, std::string(70 * 1024, ' '), "application/json"), 413, "body_too_large");
  expect(cli.Get("/nope", key), 404, "not_found");
  auto wrong = cli.Get("/scenario/set", key);
  expect(wrong, 405, "method_not_allowed");
  EXPECT_EQ(wrong->get_header_value("Allow"), "POST");
  auto ok = cli.Post("/scenario/set", key, R"({"scenario":"degrading","servers":["ppweb003"],"ramp_steps":6})",
                     "application/json");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  EXPECT_EQ(json::parse(ok->body)["affected_servers"], json({"ppweb003"}));
  auto st = cli.Get("/scenario/status", key);
  ASSERT_TRUE(st);
  EXPECT_EQ(json::parse(st->body)["scenario"], "degrading");
  auto health = cli.Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  api.stop();
}

}  // namespace
}  // namespace nordiq::sim
