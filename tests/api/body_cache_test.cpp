// Bodies rendered once per forecast snapshot: gzip that decompresses to the body, the
// Accept-Encoding reading, and a render per snapshot, not per request.
#include <gtest/gtest.h>
#include <httplib.h>

#include <string>

#include "api/body_cache.hpp"
#include "gunzip.hpp"

namespace nordiq::api {
namespace {

using test_support::gunzip;

httplib::Request with_accept(const std::string& value) {
  httplib::Request r;
  r.set_header("Accept-Encoding", value);
  return r;
}

struct Snap {
  int cycle;
};

TEST(BodyCache, GzipDecompressesToTheBody) {
  std::string body;
  for (int i = 0; i < 5000; ++i) body += "{\"p50\":[" + std::to_string(i) + "]},";
  const std::string gz = gzip_compress(body, 1);
  EXPECT_LT(gz.size(), body.size() / 3);
  EXPECT_EQ(gunzip(gz), body);
  EXPECT_EQ(gunzip(gzip_compress("", 1)), "");
}

TEST(BodyCache, ReadsAcceptEncodingWithItsQualities) {
  EXPECT_TRUE(accepts_gzip(with_accept("gzip")));
  EXPECT_TRUE(accepts_gzip(with_accept("deflate, gzip;q=0.5")));
  EXPECT_TRUE(accepts_gzip(with_accept("br, *")));
  EXPECT_TRUE(accepts_gzip(with_accept("GZIP")));
  EXPECT_FALSE(accepts_gzip(with_accept("gzip;q=0")));
  EXPECT_FALSE(accepts_gzip(with_accept("deflate, br")));
  EXPECT_FALSE(accepts_gzip(with_accept("xgzip")));
  EXPECT_FALSE(accepts_gzip(httplib::Request{}));
}

TEST(BodyCache, IfNoneMatchComparesEntityTagsWeakly) {
  auto with = [](const std::string& value) {
    httplib::Request req;
    req.headers.emplace("If-None-Match", value);
    return req;
  };
  const std::string tag = "\"ab12-7-ff\"";
  EXPECT_TRUE(if_none_match(with(tag), tag));
  EXPECT_TRUE(if_none_match(with("W/" + tag), tag));
  EXPECT_TRUE(if_none_match(with("\"x\",  " + tag + " "), tag));
  EXPECT_TRUE(if_none_match(with("*"), tag));
  EXPECT_FALSE(if_none_match(with("\"ab12-7-ff-gz\""), tag));
  EXPECT_FALSE(if_none_match(with("ab12-7-ff"), tag)) << "an unquoted tag is not the tag";
  EXPECT_FALSE(if_none_match(with(""), tag));
  EXPECT_FALSE(if_none_match(httplib::Request{}, tag));
}

TEST(BodyCache, RendersOncePerSnapshotAndKeyAndCompressesOncePerBody) {
  SnapshotBodyCache<Snap> cache;
  int renders = 0;
  auto render = [&] { return "body " + std::to_string(++renders); };
  const auto one = std::make_shared<const Snap>(Snap{1});
  const auto a = cache.plain(one, "model A", render);
  const auto b = cache.plain(one, "model A", render);
  EXPECT_EQ(renders, 1);
  EXPECT_EQ(a, b);  // the same shared body
  EXPECT_EQ(*a, "body 1");
  const auto gz1 = cache.gzipped(one, "model A", render);
  EXPECT_EQ(cache.gzipped(one, "model A", render), gz1);
  EXPECT_EQ(renders, 1);
  EXPECT_EQ(gunzip(*gz1), "body 1");

  const auto reloaded = cache.plain(one, "model B", render);  // a reload changes the model line
  EXPECT_EQ(*reloaded, "body 2");
  const auto two = std::make_shared<const Snap>(Snap{2});
  const auto next = cache.plain(two, "model B", render);
  EXPECT_EQ(*next, "body 3");
  EXPECT_EQ(gunzip(*cache.gzipped(two, "model B", render)), "body 3");
  EXPECT_EQ(*a, "body 1");  // a reader still sending the old body keeps it
}

}  // namespace
}  // namespace nordiq::api

namespace nordiq::api {
namespace {

TEST(BodyCache, ANewSnapshotIsRenderedAheadOnlyWhileRequestsAskForIt) {
  SnapshotBodyCache<Snap> cache;
  int renders = 0;
  auto render_of = [&](int cycle) {
    return [&renders, cycle] {
      ++renders;
      return std::string(2000, 'a') + std::to_string(cycle);
    };
  };
  auto a = std::make_shared<const Snap>(Snap{1});
  cache.warm(a, "k", render_of(1));
  EXPECT_EQ(renders, 0) << "nobody asked: nothing rendered ahead";

  const auto plain_a = cache.plain(a, "k", render_of(1));  // a reader polls, without gzip
  EXPECT_EQ(renders, 1);
  auto b = std::make_shared<const Snap>(Snap{2});
  cache.warm(b, "k", render_of(2));
  EXPECT_EQ(renders, 2) << "rendered on the cycle, ahead of the next request";
  const auto plain_b = cache.plain(b, "k", render_of(2));
  EXPECT_EQ(renders, 2) << "the next request found it rendered";
  EXPECT_EQ(plain_b->back(), '2');

  const auto gz_b = cache.gzipped(b, "k", render_of(2));  // now a gzip reader
  auto c = std::make_shared<const Snap>(Snap{3});
  cache.warm(c, "k", render_of(3));
  EXPECT_EQ(renders, 3);
  const auto plain_c = cache.plain(c, "k", render_of(3));
  int compressions = 0;
  const auto gz_c = cache.gzipped(c, "k", render_of(3), [&](const std::string& p) {
    ++compressions;
    return gzip_compress(p, 1);
  });
  EXPECT_EQ(compressions, 0) << "compressed ahead";
  EXPECT_EQ(renders, 3);
  EXPECT_NE(gz_c, gz_b);
  EXPECT_EQ(gunzip(*gz_c), *plain_c) << "compressed ahead, from the new body";

  cache.warm(std::make_shared<const Snap>(Snap{4}), "k", render_of(4));
  cache.warm(std::make_shared<const Snap>(Snap{5}), "k", render_of(5));
  EXPECT_EQ(renders, 4) << "one render ahead per cycle that had requests, then lazy again";
}

}  // namespace
}  // namespace nordiq::api

namespace nordiq::api {
namespace {

// The cycle renders the next snapshot's bodies before publishing it; readers still on the
// previous snapshot meanwhile are served its bodies, not a render of their own (which, with one
// body held, would also have thrown away the one just made ahead).
TEST(BodyCache, ReadersOfThePreviousSnapshotKeepItsBodiesWhileTheNextIsMadeAhead) {
  SnapshotBodyCache<Snap> cache;
  int renders = 0, compressions = 0;
  auto render_of = [&](int cycle) {
    return [&renders, cycle] {
      ++renders;
      return std::string(2000, 'b') + std::to_string(cycle);
    };
  };
  auto compress = [&](const std::string& p) {
    ++compressions;
    return gzip_compress(p, 1);
  };
  auto a = std::make_shared<const Snap>(Snap{1});
  const auto gz_a = cache.gzipped(a, "k", render_of(1), compress);
  EXPECT_EQ(renders + compressions, 2);
  auto b = std::make_shared<const Snap>(Snap{2});
  cache.warm(b, "k", render_of(2), compress);  // before b is published
  EXPECT_EQ(renders + compressions, 4);
  EXPECT_EQ(cache.gzipped(a, "k", render_of(1), compress), gz_a) << "a's reader: a's body, as it was";
  EXPECT_EQ(gunzip(*cache.gzipped(b, "k", render_of(2), compress)).back(), '2');
  EXPECT_EQ(renders + compressions, 4) << "nothing made twice";

  // b is published: a's bodies and a itself are let go, but not by a reader still sending one.
  const std::weak_ptr<const std::string> plain_a = cache.plain(a, "k", render_of(1));
  const std::weak_ptr<const Snap> snapshot_a = a;
  a.reset();
  cache.keep_only(b.get());
  EXPECT_TRUE(plain_a.expired()) << "the previous snapshot's body is dropped once the next is published";
  EXPECT_TRUE(snapshot_a.expired()) << "and the cache no longer keeps that snapshot alive";
  EXPECT_EQ(gunzip(*gz_a).back(), '1') << "a reader still sending a dropped body keeps it";
  EXPECT_EQ(gunzip(*cache.gzipped(b, "k", render_of(2), compress)).back(), '2');
  EXPECT_EQ(renders + compressions, 4) << "the published snapshot's bodies are kept";
}

}  // namespace
}  // namespace nordiq::api
