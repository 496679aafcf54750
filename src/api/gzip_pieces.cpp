#include "api/gzip_pieces.hpp"

#include <zlib.h>

#include <limits>
#include <memory>
#include <stdexcept>

#include "core/huge_pages.hpp"

namespace nordiq::api {

namespace {

// One raw-deflate state per thread and level, reset per piece: deflateInit2 allocates ~270 KB.
class ThreadDeflater {
 public:
  explicit ThreadDeflater(int level) {
    constexpr int kRawWindowBits = -15;  // negative: raw deflate, no zlib/gzip wrapper
    if (deflateInit2(&zs_, level, Z_DEFLATED, kRawWindowBits, 8, Z_DEFAULT_STRATEGY) != Z_OK)
      throw std::runtime_error("gzip: deflateInit2 failed");
  }
  ~ThreadDeflater() { deflateEnd(&zs_); }
  ThreadDeflater(const ThreadDeflater&) = delete;
  ThreadDeflater& operator=(const ThreadDeflater&) = delete;

  void deflate_synced(std::string_view text, std::string& out) {
    deflateReset(&zs_);
    // deflateBound covers a finished stream; a sync flush adds at most an empty stored block and
    // the bits of an unfinished one (zlib.h: 6 bytes per flush); the loop below is the safety net.
    out.resize(deflateBound(&zs_, static_cast<uLong>(text.size())) + 16);
    zs_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
    zs_.avail_in = static_cast<uInt>(text.size());
    size_t written = 0;
    for (;;) {
      zs_.next_out = reinterpret_cast<Bytef*>(out.data() + written);
      zs_.avail_out = static_cast<uInt>(out.size() - written);
      const int rc = deflate(&zs_, Z_SYNC_FLUSH);
      written = out.size() - zs_.avail_out;
      if (rc != Z_OK && rc != Z_BUF_ERROR) throw std::runtime_error("gzip: deflate failed");
      if (zs_.avail_in == 0 && zs_.avail_out > 0) break;  // all in, and the flush fitted
      out.append(out.size() + 64, '\0');  // room for the rest
    }
    out.erase(written);  // written <= size: only shrinks
  }

 private:
  z_stream zs_{};
};

void deflate_with_level(std::string_view text, int level, std::string& out) {
  thread_local std::unique_ptr<ThreadDeflater> by_level[10];
  if (level < 0 || level > 9) throw std::invalid_argument("gzip: level must be 0 to 9");
  auto& deflater = by_level[level];
  if (!deflater) deflater = std::make_unique<ThreadDeflater>(level);
  deflater->deflate_synced(text, out);
}

void append_le32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out += static_cast<char>((v >> (8 * i)) & 0xff);
}

}  // namespace

void deflate_piece(std::string_view text, int level, DeflatedPiece& out) {
  if (text.size() > std::numeric_limits<uInt>::max()) throw std::invalid_argument("gzip: piece too large");
  deflate_with_level(text, level, out.bytes);
  out.crc = static_cast<uint32_t>(crc32(0, reinterpret_cast<const Bytef*>(text.data()), static_cast<uInt>(text.size())));
  out.text_bytes = static_cast<uint32_t>(text.size());
}

GzipAssembler::GzipAssembler(size_t reserve_bytes) {
  reserve_with_huge_pages(out_, reserve_bytes + 32);
  // RFC 1952 header: magic, deflate, no flags, no mtime, no extra flags, OS "Unix" (as zlib writes).
  out_.append("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03", 10);
}

void GzipAssembler::add(DeflatedPieceView piece) {
  out_.append(piece.bytes);
  crc_ = static_cast<uint32_t>(crc32_combine(crc_, piece.crc, static_cast<z_off_t>(piece.text_bytes)));
  text_bytes_ += piece.text_bytes;
}

void GzipAssembler::add_text(std::string_view text, int level) {
  if (text.empty()) return;
  deflate_piece(text, level, scratch_);
  add(scratch_);
}

std::string GzipAssembler::finish() {
  out_.append("\x03\x00", 2);  // a final fixed-Huffman block holding only its end code
  append_le32(out_, crc_);
  append_le32(out_, static_cast<uint32_t>(text_bytes_));  // ISIZE: the length modulo 2^32
  return std::move(out_);
}

}  // namespace nordiq::api
