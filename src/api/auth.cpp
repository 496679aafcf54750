#include "api/auth.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <system_error>

#include <fmt/format.h>

namespace nordiq::api {

std::string_view role_name(Role role) {
  switch (role) {
    case Role::open: return "open";
    case Role::ingest: return "ingest";
    case Role::read: return "read";
    case Role::admin: return "admin";
  }
  return "?";
}

std::string basic_auth_password(std::string_view base64_credentials) {
  std::string decoded;
  uint32_t bits = 0;
  int nbits = 0;
  for (char c : base64_credentials) {
    int v;
    if (c >= 'A' && c <= 'Z') v = c - 'A';
    else if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
    else if (c >= '0' && c <= '9') v = c - '0' + 52;
    else if (c == '+') v = 62;
    else if (c == '/') v = 63;
    else if (c == '=') break;
    else return {};
    bits = (bits << 6) | static_cast<uint32_t>(v);
    nbits += 6;
    if (nbits >= 8) {
      nbits -= 8;
      decoded += static_cast<char>((bits >> nbits) & 0xFF);
    }
  }
  const size_t colon = decoded.find(':');
  return colon == std::string::npos ? std::string() : decoded.substr(colon + 1);
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  // Touch every byte of the presented key whatever the lengths, so the time taken says nothing
  // about how much of it matched.
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  const size_t n = a.size();
  for (size_t i = 0; i < n; ++i) {
    const unsigned char bc = b.empty() ? 0 : static_cast<unsigned char>(b[i % b.size()]);
    diff |= static_cast<unsigned char>(static_cast<unsigned char>(a[i]) ^ bc);
  }
  return diff == 0;
}

namespace {

std::string trim(std::string s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return {};
  const auto last = s.find_last_not_of(" \t\r\n");
  return s.substr(first, last - first + 1);
}

std::string read_key_file(const std::filesystem::path& path, std::string_view what) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(fmt::format("cannot read the {} file {}", what, path.string()));
  std::stringstream ss;
  ss << in.rdbuf();
  std::string key = trim(ss.str());
  if (key.empty()) throw std::runtime_error(fmt::format("the {} file {} is empty", what, path.string()));
  return key;
}

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? trim(v) : std::string();
}

std::string random_key() {
  std::random_device rd;  // getrandom(2) on Linux
  std::string key = "nq_";
  static constexpr char kHex[] = "0123456789abcdef";
  for (int i = 0; i < 16; ++i) {
    const unsigned v = rd();
    for (int b = 0; b < 4; ++b) key += kHex[(v >> (b * 4)) & 0xF];
  }
  return key;
}

// Reads <data_dir>/api_key, or creates it (mode 0600, O_EXCL so two daemons cannot race).
std::string generated_key(const std::filesystem::path& path) {
  std::error_code ec;
  if (std::filesystem::exists(path, ec)) {
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && (st.st_mode & 077) != 0)
      spdlog::warn("auth: key file {} is readable by group/others (mode {:o}); chmod 600 it",
                   path.string(), st.st_mode & 0777);
    return read_key_file(path, "generated API key");
  }
  std::filesystem::create_directories(path.parent_path(), ec);
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0)
    throw std::runtime_error(fmt::format("cannot create the API key file {}: {}", path.string(),
                                         std::strerror(errno)));
  const std::string key = random_key();
  const std::string line = key + "\n";
  const bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) throw std::runtime_error(fmt::format("cannot write the API key file {}", path.string()));
  return key;
}

}  // namespace

Authenticator Authenticator::configure(const AuthSettings& settings) {
  Authenticator a;
  a.enabled_ = settings.enabled;
  if (!settings.enabled) return a;

  if (settings.api_key_file) {
    a.api_key_ = read_key_file(*settings.api_key_file, "API key");
    spdlog::info("auth: ingest/read key from {}", settings.api_key_file->string());
  } else if (auto k = env("NORDIQ_API_KEY"); !k.empty()) {
    a.api_key_ = k;
    spdlog::info("auth: ingest/read key from NORDIQ_API_KEY");
  } else {
    const auto path = settings.data_dir / "api_key";
    const bool existed = std::filesystem::exists(path);
    a.api_key_ = generated_key(path);
    a.generated_ = path;
    spdlog::info("auth: no API key configured; {} the ingest/read key in {} (mode 0600): send it "
                 "as X-API-Key", existed ? "using" : "generated", path.string());
  }
  if (settings.admin_key_file) {
    a.admin_key_ = read_key_file(*settings.admin_key_file, "admin key");
    spdlog::info("auth: admin key from {}", settings.admin_key_file->string());
  } else if (auto k = env("NORDIQ_ADMIN_KEY"); !k.empty()) {
    a.admin_key_ = k;
    spdlog::info("auth: admin key from NORDIQ_ADMIN_KEY");
  } else {
    spdlog::info("auth: no admin key configured: admin endpoints are disabled");
  }
  if (!a.admin_key_.empty() && a.admin_key_ == a.api_key_)
    throw std::runtime_error("the admin key must differ from the ingest/read key");
  return a;
}

KeyKind Authenticator::identify(std::string_view presented) const {
  if (presented.empty()) return KeyKind::none;
  // Both comparisons always run, so timing does not reveal which key (if any) matched.
  const bool api = !api_key_.empty() && constant_time_equal(presented, api_key_);
  const bool admin = !admin_key_.empty() && constant_time_equal(presented, admin_key_);
  if (admin) return KeyKind::admin;
  if (api) return KeyKind::api;
  return KeyKind::none;
}

bool Authenticator::allows(KeyKind kind, Role role) {
  switch (role) {
    case Role::open: return true;
    case Role::ingest:
    case Role::read: return kind == KeyKind::api || kind == KeyKind::admin;
    case Role::admin: return kind == KeyKind::admin;
  }
  return false;
}

}  // namespace nordiq::api
