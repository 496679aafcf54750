// A gzip member assembled from independently deflated pieces: standard gunzip (zlib's inflate,
// which checks the CRC-32 and the length in the trailer) gives back the pieces' text in order.
#include <gtest/gtest.h>

#include <string>
#include <thread>

#include "api/gzip_pieces.hpp"
#include "gunzip.hpp"

namespace nordiq::api {
namespace {

// Inflates a gzip member; a failure if it is not one (bad stream, CRC or length).
std::string gunzip_checked(const std::string& in) {
  bool ok = false;
  std::string out = test_support::gunzip(in, &ok);
  EXPECT_TRUE(ok);
  return out;
}

std::string server_entry(int i) {  // repetitive, like a server's forecast paths
  std::string s = "\"srv" + std::to_string(i) + "\":{\"p50\":[";
  for (int t = 0; t < 96 * 14; ++t) s += std::to_string((i * 7 + t) % 97) + ".5,";
  return s + "0]}";
}

TEST(GzipPieces, PiecesDeflatedApartConcatenateIntoOneMemberThatGunzipsToTheirText) {
  std::string expected = "{\"predictions\":{";
  GzipAssembler gz(1 << 20);
  gz.add_text(expected, 1);
  DeflatedPiece comma, piece;
  deflate_piece(",", 1, comma);
  for (int i = 0; i < 40; ++i) {
    if (i) gz.add(comma), expected += ',';
    const std::string entry = server_entry(i);
    deflate_piece(entry, i % 2 ? 1 : 6, piece);  // levels may differ piece by piece
    gz.add(piece);
    expected += entry;
  }
  gz.add_text("},\"alerts\":[]}", 1);
  expected += "},\"alerts\":[]}";
  const std::string member = gz.finish();
  EXPECT_LT(member.size(), expected.size() / 3) << "still compressed";
  EXPECT_EQ(gunzip_checked(member), expected);
}

TEST(GzipPieces, AnEmptyOrTinyOrIncompressiblePieceStillFits) {
  std::string noise(70'000, '\0');
  uint32_t x = 12345;
  for (char& c : noise) c = static_cast<char>((x = x * 1103515245u + 12345u) >> 24);
  DeflatedPiece empty, tiny, random;
  deflate_piece("", 1, empty);
  deflate_piece("x", 9, tiny);
  deflate_piece(noise, 1, random);  // stored blocks, larger than the text
  GzipAssembler gz(0);
  gz.add(empty);
  gz.add(tiny);
  gz.add(random);
  gz.add(empty);
  EXPECT_EQ(gunzip_checked(gz.finish()), "x" + noise);
  EXPECT_EQ(gunzip_checked(GzipAssembler(0).finish()), "");
}

TEST(GzipPieces, AWrongCrcIsCaughtByGunzip) {
  DeflatedPiece piece;
  deflate_piece(server_entry(1), 1, piece);
  piece.crc ^= 1;  // the check that this test's gunzip really reads the trailer
  GzipAssembler gz(0);
  gz.add(piece);
  bool ok = true;
  test_support::gunzip(gz.finish(), &ok);
  EXPECT_FALSE(ok) << "gunzip took a member with a wrong CRC";
}

TEST(GzipPieces, ThreadsDeflateTheirPiecesAtOnce) {
  std::vector<DeflatedPiece> pieces(8);
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) threads.emplace_back([&, i] { deflate_piece(server_entry(i), 1, pieces[size_t(i)]); });
  for (auto& t : threads) t.join();
  GzipAssembler gz(0);
  std::string expected;
  for (int i = 0; i < 8; ++i) gz.add(pieces[size_t(i)]), expected += server_entry(i);
  EXPECT_EQ(gunzip_checked(gz.finish()), expected);
}

}  // namespace
}  // namespace nordiq::api
