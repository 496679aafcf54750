#include "api/body_cache.hpp"

#include <httplib.h>

#include <algorithm>
#include <cctype>
#include <stdexcept>

#include "api/gzip_pieces.hpp"

namespace nordiq::api {

std::string gzip_compress(std::string_view in, int level) {
  GzipAssembler gz(in.size() / 2);  // one piece: the same member, through the one deflate path
  gz.add_text(in, level);
  return gz.finish();
}

bool accepts_gzip(const httplib::Request& req) {
  const std::string value = req.get_header_value("Accept-Encoding");
  std::string_view header = value;
  while (!header.empty()) {
    const size_t comma = header.find(',');
    std::string_view item = header.substr(0, comma);
    header = comma == std::string_view::npos ? std::string_view{} : header.substr(comma + 1);
    const size_t semi = item.find(';');
    std::string_view coding = item.substr(0, semi);
    while (!coding.empty() && coding.front() == ' ') coding.remove_prefix(1);
    while (!coding.empty() && coding.back() == ' ') coding.remove_suffix(1);
    std::string lower(coding);
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
    if (lower != "gzip" && lower != "*") continue;
    if (semi == std::string_view::npos) return true;
    std::string_view params = item.substr(semi + 1);
    const size_t q = params.find("q=");
    if (q == std::string_view::npos) return true;
    return std::strtod(std::string(params.substr(q + 2)).c_str(), nullptr) > 0;
  }
  return false;
}

bool if_none_match(const httplib::Request& req, std::string_view etag) {
  const std::string value = req.get_header_value("If-None-Match");
  auto opaque = [](std::string_view tag) {  // W/"x" and "x" compare equal (weak comparison)
    if (tag.substr(0, 2) == "W/") tag.remove_prefix(2);
    return tag;
  };
  std::string_view header = value;
  while (!header.empty()) {
    const size_t comma = header.find(',');
    std::string_view item = header.substr(0, comma);
    header = comma == std::string_view::npos ? std::string_view{} : header.substr(comma + 1);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (item == "*" || (!item.empty() && opaque(item) == opaque(etag))) return true;
  }
  return false;
}

void send_shared_body(httplib::Response& res, std::shared_ptr<const std::string> body, bool gzipped) {
  res.status = 200;
  const size_t size = body->size();
  if (gzipped) res.set_header("Content-Encoding", "gzip");
  res.set_header("Vary", "Accept-Encoding");
  res.set_content_provider(size, "application/json",
                           [body = std::move(body)](size_t offset, size_t length, httplib::DataSink& sink) {
                             return sink.write(body->data() + offset, std::min(length, body->size() - offset));
                           });
}

}  // namespace nordiq::api
