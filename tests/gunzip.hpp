// Inflates one gzip member in one call, as a client would: zlib checks the trailer's CRC-32 and
// length. Returns the text; `ok` (when given) says whether the member was whole and valid.
#pragma once

#include <zlib.h>

#include <string>

namespace nordiq::test_support {

inline std::string gunzip(const std::string& in, bool* ok = nullptr) {
  z_stream zs{};
  if (inflateInit2(&zs, 15 + 16) != Z_OK) {
    if (ok) *ok = false;
    return {};
  }
  std::string out(in.size() * 64 + 1024, '\0');  // room for any body the tests compress
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  const int rc = inflate(&zs, Z_FINISH);
  const bool whole = rc == Z_STREAM_END && zs.avail_in == 0;
  out.resize(zs.total_out);
  inflateEnd(&zs);
  if (ok) *ok = whole;
  return whole ? out : std::string();
}

}  // namespace nordiq::test_support
