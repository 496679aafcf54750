// §2: fleet split, names, problem children, rendezvous bindings.
#include <gtest/gtest.h>

#include <set>

#include "sim/fleet.hpp"
#include "sim/tables.hpp"

namespace nordiq::sim {
namespace {

// ml/db/web/con/etl/risk/gen as in the §2 examples.
std::array<int, 7> in_table_order(const FleetCounts& c) {
  std::array<int, 7> out{};
  for (int i = 0; i < 7; ++i) out[i] = c[idx(kFleetOrder[i].profile)];
  return out;
}

TEST(FleetSplit, MatchesTheSpecifiedCounts) {
  EXPECT_EQ(in_table_order(split_fleet(7)), (std::array<int, 7>{1, 1, 1, 1, 1, 1, 1}));
  EXPECT_EQ(in_table_order(split_fleet(20)), (std::array<int, 7>{4, 3, 8, 1, 2, 1, 1}));
  EXPECT_EQ(in_table_order(split_fleet(90)), (std::array<int, 7>{19, 15, 28, 5, 9, 8, 6}));
  EXPECT_EQ(in_table_order(split_fleet(400)), (std::array<int, 7>{106, 68, 112, 24, 44, 36, 10}));
  for (int n = 7; n < 2000; ++n) {
    int sum = 0;
    for (int v : split_fleet(n)) {
      EXPECT_GE(v, 1) << n;
      sum += v;
    }
    EXPECT_EQ(sum, n);
  }
}

TEST(FleetSplit, RejectsFewerThanSevenServers) {
  EXPECT_THROW(split_fleet(6), std::invalid_argument);
  EXPECT_THROW(split_fleet(0), std::invalid_argument);
}

TEST(FleetNames, FirstAndLastNamePerProfileInFleetOrder) {
  Fleet f(split_fleet(20), 42, 0.1);
  ASSERT_EQ(f.size(), 20u);
  EXPECT_EQ(f[0].name, "ppml0001");
  EXPECT_EQ(f[3].name, "ppml0004");
  EXPECT_EQ(f[4].name, "ppdb001");
  EXPECT_EQ(f[6].name, "ppdb003");
  EXPECT_EQ(f[7].name, "ppweb001");
  EXPECT_EQ(f[14].name, "ppweb008");
  EXPECT_EQ(f[15].name, "ppcon01");
  EXPECT_EQ(f[16].name, "ppetl001");
  EXPECT_EQ(f[17].name, "ppetl002");
  EXPECT_EQ(f[18].name, "pprisk001");
  EXPECT_EQ(f[19].name, "ppgen001");
  EXPECT_EQ(server_name(Profile::conductor_mgmt, 100), "ppcon100");
}

TEST(FleetNames, EveryNameResolvesToItsProfile) {
  Fleet f(split_fleet(400), 7, 0.1);
  std::set<std::string> names;
  for (const auto& s : f.servers()) {
    EXPECT_EQ(profile_from_server_name(s.name), s.profile) << s.name;
    EXPECT_TRUE(valid_server_name(s.name));
    names.insert(s.name);
  }
  EXPECT_EQ(names.size(), f.size());
  // by_name is sorted and find() agrees with it.
  for (size_t i = 1; i < f.by_name().size(); ++i)
    EXPECT_LT(f[f.by_name()[i - 1]].name, f[f.by_name()[i]].name);
  EXPECT_EQ(f.find("ppdb042").value(), static_cast<int>(f.find("ppdb042").value()));
  EXPECT_EQ(f[*f.find("ppdb042")].name, "ppdb042");
  EXPECT_FALSE(f.find("ppdb999").has_value());
}

TEST(FleetSpec, ExplicitCountsWithZeros) {
  const auto c = parse_fleet_spec("database=2,web_api=5,ml_compute=0");
  EXPECT_EQ(c[idx(Profile::database)], 2);
  EXPECT_EQ(c[idx(Profile::web_api)], 5);
  EXPECT_EQ(c[idx(Profile::ml_compute)], 0);
  EXPECT_EQ(c[idx(Profile::generic)], 0);
  Fleet f(c, 1, 0.1);
  ASSERT_EQ(f.size(), 7u);
  EXPECT_EQ(f[0].name, "ppdb001");
  EXPECT_EQ(f[2].name, "ppweb001");
  EXPECT_THROW(parse_fleet_spec("databse=2"), std::invalid_argument);
  EXPECT_THROW(parse_fleet_spec("database=-1"), std::invalid_argument);
  EXPECT_THROW(parse_fleet_spec("database=2,database=3"), std::invalid_argument);
  EXPECT_THROW(parse_fleet_spec("database"), std::invalid_argument);
  EXPECT_THROW(parse_fleet_spec("database=0"), std::invalid_argument);
}

TEST(ProblemChildren, ArePerServerAndStableAsTheFleetGrows) {
  Fleet small(split_fleet(20), 42, 0.1);
  Fleet big(split_fleet(400), 42, 0.1);
  for (const auto& s : small.servers()) {
    const auto j = big.find(s.name);
    ASSERT_TRUE(j) << s.name;
    EXPECT_EQ(big[*j].problem_child, s.problem_child) << s.name;
    EXPECT_EQ(big[*j].key, s.key);
  }
  int pc = 0;
  for (const auto& s : big.servers()) pc += s.problem_child;
  // 10 % of 400 = 40, binomial sd ≈ 6.
  EXPECT_GT(pc, 20);
  EXPECT_LT(pc, 60);
  Fleet none(split_fleet(400), 42, 0.0);
  for (const auto& s : none.servers()) EXPECT_FALSE(s.problem_child);
}

TEST(CascadeBinding, EachDependantBindsOneUpstreamPerEdgeAndNewUpstreamsOnlyStealWhatTheyWin) {
  FleetCounts a{};
  a[idx(Profile::database)] = 3;
  a[idx(Profile::web_api)] = 40;
  a[idx(Profile::ml_compute)] = 5;
  a[idx(Profile::conductor_mgmt)] = 2;
  FleetCounts b = a;
  b[idx(Profile::database)] = 4;  // one more database server
  Fleet fa(a, 42, 0.1), fb(b, 42, 0.1);
  int rebound = 0;
  for (const auto& s : fa.servers()) {
    const auto& t = fb[*fb.find(s.name)];
    for (size_t e = 0; e < kCascadeEdges.size(); ++e) {
      const bool applies = kCascadeEdges[e].downstream == s.profile;
      if (!applies) {
        EXPECT_EQ(s.upstream[e], -1);
        continue;
      }
      if (fa.counts()[idx(kCascadeEdges[e].upstream)] == 0) {
        EXPECT_EQ(s.upstream[e], -1);
        continue;
      }
      ASSERT_GE(s.upstream[e], 0) << s.name;
      EXPECT_EQ(fa[s.upstream[e]].profile, kCascadeEdges[e].upstream);
      const std::string before = fa[s.upstream[e]].name;
      const std::string after = fb[t.upstream[e]].name;
      if (before != after) {
        EXPECT_EQ(after, "ppdb004") << s.name << " moved to an old server";
        ++rebound;
      }
    }
  }
  // About a quarter of the 40+2 database dependants move to the new server; some must.
  EXPECT_GT(rebound, 0);
  EXPECT_LT(rebound, 30);
}

}  // namespace
}  // namespace nordiq::sim
