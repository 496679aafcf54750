// Every write endpoint answers a store failure the same way (api_server.hpp,
// send_store_unavailable): 503 with Retry-After, and the message says when the disk is full.
// /feed/data's answer is also checked end to end on a full tmpfs (e2e/disk_faults_e2e_test.cpp);
// this covers the wording that /api/v1/write shares with it.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <nlohmann/json.hpp>

#include "api/api_server.hpp"
#include "store/database.hpp"

namespace nordiq::api {
namespace {

nlohmann::json answer(const StoreError& error, std::string_view what, httplib::Response& res) {
  ApiServer::send_store_unavailable(res, error, what);
  return nlohmann::json::parse(res.body);
}

TEST(StoreUnavailable, AFullDiskIsNamedWithWhatWasNotStored) {
  httplib::Response res;
  const auto body = answer(StoreError("data/nordiq.db: database or disk is full", SQLITE_FULL), "samples", res);
  EXPECT_EQ(res.status, 503);
  EXPECT_TRUE(res.has_header("Retry-After"));
  EXPECT_NE(body.dump().find("the disk is full, the samples were not stored"), std::string::npos) << body.dump();
}

TEST(StoreUnavailable, AnyOtherStoreFailureAsksForARetryWithoutBlamingTheDisk) {
  httplib::Response res;
  const auto body = answer(StoreError("data/nordiq.db: database is locked", SQLITE_BUSY), "records", res);
  EXPECT_EQ(res.status, 503);
  EXPECT_EQ(body.dump().find("disk"), std::string::npos) << body.dump();
  EXPECT_NE(body.dump().find("the records could not be stored; retry later"), std::string::npos) << body.dump();
}

}  // namespace
}  // namespace nordiq::api
