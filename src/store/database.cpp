#include "store/database.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <thread>

namespace nordiq {

namespace {

// PRAGMA application_id of NordIQ files ("NRDQ"): tells our database apart from any other
// SQLite file someone points --data-dir at.
constexpr int kApplicationId = 0x4E524451;

constexpr int64_t kInitialCacheBytes = 2 << 20;  // SQLite's default

// SQLite's own error log, forwarded for what an operator must see: WAL recovery after a crash
// (how many frames were recovered), corruption it notices while reading, and its warnings.
// Other codes (a busy retry, a constraint) are routine and would log per request.
void sqlite_log(void*, int code, const char* message) {
  switch (code & 0xff) {
    case SQLITE_NOTICE: spdlog::info("sqlite: {}", message); break;
    case SQLITE_WARNING: spdlog::warn("sqlite: {}", message); break;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB: spdlog::error("sqlite: {}", message); break;
    default: break;
  }
}

// Installs the log before SQLite initialises (sqlite3_config is only allowed then).
void install_sqlite_log() {
  static const bool installed = [] {
    return sqlite3_config(SQLITE_CONFIG_LOG, sqlite_log, nullptr) == SQLITE_OK;
  }();
  (void)installed;
}

}  // namespace

bool StoreError::disk_full() const { return (sqlite_code_ & 0xff) == SQLITE_FULL; }

void Database::fail(std::string_view what, int rc) const {
  throw StoreError(fmt::format("{}: {}: {} ({})", path_.string(), what,
                               db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc), sqlite3_errstr(rc)),
                   rc);
}

std::unique_ptr<Database> Database::connect(const std::filesystem::path& path, int flags) {
  install_sqlite_log();
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc);
    sqlite3_close(raw);
    throw StoreError(fmt::format("{}: cannot open the database: {}", path.string(), msg));
  }
  std::unique_ptr<Database> db(new Database(raw, path));
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, 5000);
  return db;
}

std::unique_ptr<Database> Database::open_read_only(const std::filesystem::path& path) {
  return connect(path, SQLITE_OPEN_READONLY);
}

std::unique_ptr<Database> Database::open(const std::filesystem::path& path, Durability durability) {
  std::unique_ptr<Database> db = connect(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);

  // The first read of the file: a non-SQLite (or badly corrupt) file fails here.
  int app_id = 0, objects = 0;
  try {
    Statement id(*db, "PRAGMA application_id");
    if (id.step()) app_id = static_cast<int>(id.column_int(0));
    Statement count(*db, "SELECT count(*) FROM sqlite_master");
    if (count.step()) objects = static_cast<int>(count.column_int(0));
  } catch (const StoreError& e) {
    throw StoreError(fmt::format(
        "{} is not a usable NordIQ database (not an SQLite file, or corrupt): {}", path.string(),
        e.what()));
  }
  if (app_id != kApplicationId) {
    if (app_id != 0 || objects > 0)
      throw StoreError(fmt::format(
          "{} is an SQLite database of another application (application_id {:#x}, {} schema "
          "objects); refusing to modify it — point --data-dir elsewhere",
          path.string(), static_cast<unsigned>(app_id), objects));
    db->exec(fmt::format("PRAGMA application_id = {}", kApplicationId));
  }

  Statement wal(*db, "PRAGMA journal_mode = WAL");
  if (!wal.step() || wal.column_text(0) != "wal")
    throw StoreError(fmt::format("{}: cannot switch the database to WAL mode", path.string()));
  wal.reset();
  db->exec(durability == Durability::full ? "PRAGMA synchronous = FULL"
                                          : "PRAGMA synchronous = NORMAL");
  // Until the store sizes it for its fleet (FleetStore::size_page_cache).
  db->set_cache_bytes(kInitialCacheBytes);
  // After a checkpoint the WAL is reused from its start; cap what it keeps on disk.
  db->exec("PRAGMA journal_size_limit = 67108864");
  db->exec(
      "CREATE TABLE IF NOT EXISTS schema_versions ("
      " component TEXT PRIMARY KEY, version INTEGER NOT NULL, updated_at INTEGER NOT NULL)");
  return db;
}

void Database::set_cache_bytes(int64_t bytes) {
  // A negative cache_size is in KiB (whatever the page size).
  exec(fmt::format("PRAGMA cache_size = -{}", std::max<int64_t>(1, bytes / 1024)));
}

Database::CacheStats Database::cache_stats(bool reset) {
  CacheStats s;
  int current = 0, high = 0;
  sqlite3_db_status(db_, SQLITE_DBSTATUS_CACHE_USED, &current, &high, 0);
  s.used_bytes = current;
  sqlite3_db_status(db_, SQLITE_DBSTATUS_CACHE_HIT, &current, &high, reset ? 1 : 0);
  s.hits = current;
  sqlite3_db_status(db_, SQLITE_DBSTATUS_CACHE_MISS, &current, &high, reset ? 1 : 0);
  s.misses = current;
  return s;
}

std::vector<std::string> Database::quick_check(int max_findings) {
  std::vector<std::string> findings;
  Statement check(*this, fmt::format("PRAGMA quick_check({})", max_findings));
  while (check.step()) {
    std::string row(check.column_text(0));
    if (row != "ok") findings.push_back(std::move(row));
  }
  return findings;
}

struct Database::Checkpointer {
  sqlite3* conn = nullptr;
  int wal_pages = 1000;
  std::mutex mutex;
  std::condition_variable wake;
  bool due = false;
  bool stop = false;
  std::thread thread;
};

Database::Database(sqlite3* db, std::filesystem::path path) : db_(db), path_(std::move(path)) {}

Database::~Database() {
  stop_background_checkpoints();
  sqlite3_close_v2(db_);
}

int Database::on_wal_commit(void* self, sqlite3*, const char*, int pages) {
  // Runs inside COMMIT on the writer: only signal, never checkpoint here.
  auto* cp = static_cast<Checkpointer*>(self);
  if (pages >= cp->wal_pages) {
    {
      std::lock_guard lock(cp->mutex);
      cp->due = true;
    }
    cp->wake.notify_one();
  }
  return SQLITE_OK;
}

void Database::start_background_checkpoints(int wal_pages) {
  if (checkpointer_) return;
  auto cp = std::make_unique<Checkpointer>();
  cp->wal_pages = wal_pages;
  if (int rc = sqlite3_open_v2(path_.c_str(), &cp->conn, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
      rc != SQLITE_OK) {
    sqlite3_close(cp->conn);
    fail("cannot open the checkpoint connection", rc);
  }
  sqlite3_busy_timeout(cp->conn, 1000);
  exec("PRAGMA wal_autocheckpoint = 0");
  sqlite3_wal_hook(db_, &Database::on_wal_commit, cp.get());
  Checkpointer* raw = cp.get();
  cp->thread = std::thread([raw, path = path_] {
    std::unique_lock lock(raw->mutex);
    while (!raw->stop) {
      raw->wake.wait_for(lock, std::chrono::seconds(5), [raw] { return raw->due || raw->stop; });
      if (raw->stop) break;
      raw->due = false;
      lock.unlock();
      const int rc = sqlite3_wal_checkpoint_v2(raw->conn, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
      if (rc != SQLITE_OK && rc != SQLITE_BUSY && rc != SQLITE_LOCKED)
        spdlog::warn("store: background WAL checkpoint of {} failed: {}", path.string(), sqlite3_errstr(rc));
      lock.lock();
    }
  });
  checkpointer_ = std::move(cp);
}

void Database::stop_background_checkpoints() {
  if (!checkpointer_) return;
  {
    std::lock_guard lock(checkpointer_->mutex);
    checkpointer_->stop = true;
  }
  checkpointer_->wake.notify_one();
  checkpointer_->thread.join();
  sqlite3_wal_hook(db_, nullptr, nullptr);
  sqlite3_close_v2(checkpointer_->conn);
  checkpointer_.reset();
}

void Database::exec(std::string_view sql) {
  const std::string text(sql);
  char* err = nullptr;
  const int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    throw StoreError(fmt::format("{}: {}", path_.string(), msg), rc);
  }
}

int Database::changes() const { return sqlite3_changes(db_); }

int Database::schema_version(std::string_view component) {
  Statement q(*this, "SELECT version FROM schema_versions WHERE component = ?");
  q.bind(1, component);
  return q.step() ? static_cast<int>(q.column_int(0)) : 0;
}

void Database::migrate(std::string_view component, std::span<const Migration> migrations) {
  const int current = schema_version(component);
  const int latest = migrations.empty() ? 0 : migrations.back().version;
  if (current > latest)
    throw StoreError(fmt::format(
        "{}: schema '{}' is at version {}, newer than this nordiq understands ({}); upgrade nordiq",
        path_.string(), component, current, latest));
  for (const Migration& m : migrations) {
    if (m.version <= current) continue;
    Transaction tx(*this);
    exec(m.sql);
    Statement set(*this,
                  "INSERT INTO schema_versions(component, version, updated_at) VALUES(?, ?, "
                  "CAST(strftime('%s','now') AS INTEGER)) ON CONFLICT(component) DO UPDATE SET "
                  "version = excluded.version, updated_at = excluded.updated_at");
    set.bind(1, component).bind(2, int64_t{m.version});
    set.run();
    tx.commit();
    spdlog::info("store: schema '{}' migrated to version {}", component, m.version);
  }
}

void Database::checkpoint() {
  const int rc = sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_TRUNCATE, nullptr, nullptr);
  if (rc != SQLITE_OK && rc != SQLITE_BUSY) fail("WAL checkpoint failed", rc);
}

std::unique_lock<std::mutex> Database::lock_urgent() {
  urgent_waiting_.fetch_add(1, std::memory_order_acq_rel);
  std::unique_lock<std::mutex> lock(mutex_);
  urgent_waiting_.fetch_sub(1, std::memory_order_acq_rel);
  return lock;
}

void Database::yield_to_urgent(std::unique_lock<std::mutex>& lock) {
  lock.unlock();
  // A waiter counted here is queued on the mutex (or about to be): it takes it within a wake-up.
  while (urgent_waiting()) std::this_thread::yield();
  lock.lock();
}

// ---- Statement --------------------------------------------------------------------------------

Statement::Statement(Database& db, std::string_view sql) : db_(db) {
  const int rc = sqlite3_prepare_v3(db.handle(), sql.data(), static_cast<int>(sql.size()),
                                    SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr);
  if (rc != SQLITE_OK) db_.fail(fmt::format("cannot prepare `{}`", sql.substr(0, 80)), rc);
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

Statement& Statement::bind(int index, int64_t value) {
  if (int rc = sqlite3_bind_int64(stmt_, index, value); rc != SQLITE_OK) db_.fail("bind", rc);
  return *this;
}
Statement& Statement::bind(int index, double value) {
  if (int rc = sqlite3_bind_double(stmt_, index, value); rc != SQLITE_OK) db_.fail("bind", rc);
  return *this;
}
Statement& Statement::bind(int index, std::string_view text) {
  if (int rc = sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()),
                                 SQLITE_TRANSIENT);
      rc != SQLITE_OK)
    db_.fail("bind", rc);
  return *this;
}
Statement& Statement::bind_static(int index, std::string_view text) {
  if (int rc = sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()), SQLITE_STATIC);
      rc != SQLITE_OK)
    db_.fail("bind", rc);
  return *this;
}
Statement& Statement::bind_null(int index) {
  if (int rc = sqlite3_bind_null(stmt_, index); rc != SQLITE_OK) db_.fail("bind", rc);
  return *this;
}

bool Statement::step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  sqlite3_reset(stmt_);
  db_.fail(fmt::format("`{}`", std::string_view(sqlite3_sql(stmt_)).substr(0, 80)), rc);
}

void Statement::reset() { sqlite3_reset(stmt_); }

void Statement::run() {
  while (step()) {
  }
  reset();
}

int64_t Statement::column_int(int col) const { return sqlite3_column_int64(stmt_, col); }
double Statement::column_double(int col) const { return sqlite3_column_double(stmt_, col); }
std::string_view Statement::column_text(int col) const {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
  return p ? std::string_view(p, static_cast<size_t>(sqlite3_column_bytes(stmt_, col)))
           : std::string_view();
}
bool Statement::column_is_null(int col) const {
  return sqlite3_column_type(stmt_, col) == SQLITE_NULL;
}

// ---- Transaction ------------------------------------------------------------------------------

Transaction::Transaction(Database& db) : db_(db) { begin(); }

void Transaction::begin() {
  db_.exec("BEGIN IMMEDIATE");
  done_ = false;
}

bool Transaction::let_urgent_in(std::unique_lock<std::mutex>& lock) {
  if (!db_.urgent_waiting()) return false;
  commit();
  db_.yield_to_urgent(lock);
  begin();
  return true;
}

Transaction::~Transaction() {
  if (!done_) sqlite3_exec(db_.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
}

void Transaction::commit() {
  db_.exec("COMMIT");
  done_ = true;
}

}  // namespace nordiq
