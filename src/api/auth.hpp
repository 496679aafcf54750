// API keys and roles (SPEC §4.1). The ingest/read key comes from NORDIQ_API_KEY or a key file;
// the admin key from NORDIQ_ADMIN_KEY or a key file (none = admin endpoints disabled). With no
// ingest key configured a random one is generated into <data-dir>/api_key (mode 0600) and its
// path — never the key — is logged. Comparison is constant-time; keys are never logged.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace nordiq::api {

enum class Role : uint8_t {
  open,    // no key needed (/health, /status, /)
  ingest,  // POST /feed/data
  read,    // GET /predictions..., /alerts..., /metrics
  admin    // /admin/...
};
std::string_view role_name(Role role);

struct AuthSettings {
  bool enabled = true;  // false with --no-auth
  std::optional<std::filesystem::path> api_key_file;
  std::optional<std::filesystem::path> admin_key_file;
  std::filesystem::path data_dir = "data";
};

enum class KeyKind : uint8_t { none, api, admin };

class Authenticator {
 public:
  // Resolves keys from env/files, generating the key file if needed. Throws std::runtime_error
  // with a clear message (unreadable/empty key file, ...).
  static Authenticator configure(const AuthSettings& settings);
  static Authenticator disabled() { return Authenticator(); }

  bool enabled() const { return enabled_; }
  bool admin_enabled() const { return !admin_key_.empty(); }
  // Which key `presented` is (constant-time against both keys); none = unknown.
  KeyKind identify(std::string_view presented) const;
  static bool allows(KeyKind kind, Role role);  // api: ingest+read, admin: everything
  const std::optional<std::filesystem::path>& generated_key_file() const { return generated_; }

 private:
  bool enabled_ = false;
  std::string api_key_;
  std::string admin_key_;
  std::optional<std::filesystem::path> generated_;
};

// The password of an HTTP Basic credential (base64 of "user:password"); "" when it is not valid
// base64 or has no colon.
std::string basic_auth_password(std::string_view base64_credentials);

// Constant-time (in the presented key's content) equality.
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace nordiq::api
