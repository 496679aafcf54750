// The web dashboard in a real browser (issue #13): Debian's chromium, headless, loads `/` from a
// daemon fed by the simulator; the heat-map shows every server, a server page draws its forecast
// fans, and screenshots are saved to <build>/screenshots/. Without a key the page asks for one.
#include <gtest/gtest.h>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>

#include "e2e/daemon.hpp"

namespace nordiq::e2e {
namespace {

using nlohmann::json;
const std::string kKey = "e2e-dashboard-key";
const fs::path kScreenshots = fs::path(NORDIQ_BINARY).parent_path().parent_path() / "screenshots";

struct Browser {
  TempDir profile;  // a private profile: tests may run in parallel
  // Runs headless chromium on `url` with `what` (--dump-dom, or --screenshot=FILE); returns stdout.
  std::string run(const std::string& url, const std::string& what) {
    const std::string cmd = "chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1400,2200 "
                            "--virtual-time-budget=15000 --user-data-dir='" + profile.path.string() + "' " + what + " '" + url +
                            "' 2>/dev/null";
    FILE* p = ::popen(cmd.c_str(), "r");
    if (!p) return "";
    std::string out;
    char buf[65536];
    while (size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
    EXPECT_EQ(::pclose(p), 0) << "chromium failed (the set-up installs Debian's chromium): " << cmd;
    return out;
  }
};

std::set<std::string> heatmap_servers(const std::string& dom) {
  std::set<std::string> out;
  const std::regex tile(R"re(class="tile level-(healthy|degraded|warning|critical)" data-server="([^"]+)")re");
  for (std::sregex_iterator it(dom.begin(), dom.end(), tile), end; it != end; ++it) out.insert((*it)[2]);
  return out;
}

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST(Dashboard, AHeadlessBrowserSeesEveryServerAndAServerPageDrawsItsForecastFans) {
  TempDir dir;
  const fs::path data = dir.path / "data";
  const std::string sim = std::string(NORDIQ_BINARY) + " simulate history --days 2 --servers 12 --seed 3 --start 2025-11-01T00:00:00 "
                          "--out store --data-dir '" + data.string() + "' --incidents '" + dir.path.string() + "/incidents.csv' > '" + dir.path.string() + "/sim.log' 2>&1";
  ASSERT_EQ(std::system(sim.c_str()), 0) << read_file(dir.path / "sim.log");
  Daemon d(data, {"--models-dir", (fs::path(NORDIQ_SOURCE_DIR) / "models").string(), "--retention-days", "3650"},
           {{"NORDIQ_API_KEY", kKey}});
  d.start();
  auto res = d.client(kKey).Get("/predictions/current?metrics=mem_used_pct&quantiles=p50");
  ASSERT_TRUE(res && res->status == 200);
  std::set<std::string> expected;
  const json predictions = json::parse(res->body)["predictions"];
  for (const auto& [name, p] : predictions.items()) expected.insert(name);
  ASSERT_EQ(expected.size(), 12u);

  const std::string base = "http://127.0.0.1:" + std::to_string(d.port()) + "/";
  Browser browser;
  const std::string fleet = browser.run(base + "#key=" + kKey, "--dump-dom");
  EXPECT_NE(fleet.find("data-loaded=\"fleet\""), std::string::npos) << fleet.substr(0, 4000);
  EXPECT_EQ(heatmap_servers(fleet), expected);
  EXPECT_NE(fleet.find("Top risks"), std::string::npos);

  const std::string server = browser.run(base + "#/server/ppdb001&key=" + kKey, "--dump-dom");
  EXPECT_NE(server.find("data-loaded=\"server\""), std::string::npos) << server.substr(0, 4000);
  EXPECT_EQ(count(server, "class=\"fan\" points=\""), 14u) << "one forecast fan per metric";
  EXPECT_GE(count(server, "class=\"threshold\""), 6u) << "one alert threshold per signal";
  EXPECT_EQ(count(server, "class=\"fan\" points=\"\""), 0u) << "no empty fan";
  EXPECT_NE(server.find("is driven by"), std::string::npos) << "the explanation is shown";

  fs::create_directories(kScreenshots);
  for (const auto& [file, url] : {std::pair<std::string, std::string>{"fleet.png", base + "#key=" + kKey},
                                  {"server.png", base + "#/server/ppdb001&key=" + kKey}}) {
    const fs::path png = kScreenshots / file;
    fs::remove(png);
    browser.run(url, "--screenshot='" + png.string() + "'");
    ASSERT_TRUE(fs::exists(png)) << png;
    EXPECT_GT(fs::file_size(png), 20'000u) << png << " looks blank";
  }
}

TEST(Dashboard, WithoutAKeyThePageAsksForOneAndShowsNoData) {
  TempDir dir;
  Daemon d(dir.path / "data", {"--models-dir", (dir.path / "models").string()}, {{"NORDIQ_API_KEY", kKey}});
  d.start();
  auto res = d.client().Get("/");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_NE(res->get_header_value("Content-Type").find("text/html"), std::string::npos);
  EXPECT_NE(res->get_header_value("Content-Security-Policy").find("default-src 'self'"), std::string::npos);
  EXPECT_EQ(d.client().Get("/dashboard/app.js")->status, 200);
  EXPECT_EQ(d.client().Get("/predictions/current")->status, 401) << "the page is open, the data is not";
  Browser browser;
  const std::string dom = browser.run("http://127.0.0.1:" + std::to_string(d.port()) + "/", "--dump-dom");
  EXPECT_NE(dom.find("<form id=\"key-form\">"), std::string::npos) << "the key form is shown: " << dom.substr(0, 3000);
  EXPECT_TRUE(heatmap_servers(dom).empty());
}

}  // namespace
}  // namespace nordiq::e2e
