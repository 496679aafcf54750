// POST /feed/data (SPEC §1.2): parse + validate (ingest/), store durably (store/), answer
// {"status","accepted","duplicates","rejected","servers_tracked","servers_ready","warmup_complete"}.
#pragma once

#include "api/api_server.hpp"
#include "ingest/feed_parser.hpp"
#include "store/fleet_store.hpp"

namespace nordiq::api {

void add_feed_routes(ApiServer& api, FleetStore& store, const FeedLimits& limits);

}  // namespace nordiq::api
