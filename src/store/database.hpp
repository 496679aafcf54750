// The SQLite connection of the daemon's data dir, with the few helpers every table owner needs:
// RAII statements, transactions, and versioned schema migrations per component.
//
// Schema versioning: table `schema_versions(component, version)`. Each component (the store's
// "history" tables, later "alerts", "fleet", ...) registers its ordered migrations through
// `migrate(component, migrations)` at start; migrations newer than the file are applied in one
// transaction each, a file newer than the binary is refused. Other modules add their tables the
// same way, in their own files, without touching the store's schema.
//
// Threading: one connection; use it from one thread at a time. Hold `lock()` around any
// statement or transaction when several threads share the Database (the ingest path does).
// A writer whose latency matters (a collector's post) takes it with `lock_urgent()`; a long
// write made of independent parts (a forecast cycle's record) lets such a writer in between
// its parts (`Transaction::let_urgent_in`) instead of making it wait for the whole.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

struct sqlite3;
struct sqlite3_stmt;

namespace nordiq {

// Any storage failure: a clear message naming the file and what went wrong.
class StoreError : public std::runtime_error {
 public:
  explicit StoreError(const std::string& message, int sqlite_code = 0)
      : std::runtime_error(message), sqlite_code_(sqlite_code) {}
  bool disk_full() const;  // SQLite failed with SQLITE_FULL

 private:
  int sqlite_code_;  // SQLite's result code; 0 when SQLite did not fail
};

struct Migration {
  int version;      // 1, 2, 3, ... in order
  const char* sql;  // one or more statements
};

enum class Durability {
  normal,  // WAL + synchronous=NORMAL: a commit survives a process crash (kill -9); an OS crash
           // or power loss may lose the last transactions (the WAL is fsynced at checkpoints)
  full     // WAL + synchronous=FULL: every commit is fsynced (survives power loss; slower)
};

class Database {
 public:
  // Opens (creating if missing) a NordIQ database. Throws StoreError for a file that is not a
  // SQLite database, a SQLite database of another application, or an unreadable/corrupt file.
  static std::unique_ptr<Database> open(const std::filesystem::path& path,
                                        Durability durability = Durability::normal);
  // Opens an existing database read-only, as it is: no pragma set, nothing migrated (a reader
  // beside a daemon that keeps writing, in WAL mode). Throws StoreError when it cannot be opened.
  static std::unique_ptr<Database> open_read_only(const std::filesystem::path& path);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // Applies the migrations of `component` newer than the stored version. Throws if the file's
  // version is newer than the last migration given (a newer nordiq wrote it).
  void migrate(std::string_view component, std::span<const Migration> migrations);
  int schema_version(std::string_view component);  // 0 = component absent

  void exec(std::string_view sql);  // one or more statements, no results
  // PRAGMA quick_check: an empty list when the file is sound, else SQLite's first findings (at
  // most `max_findings`). Reads the whole file: seconds per GB.
  std::vector<std::string> quick_check(int max_findings = 5);
  int changes() const;              // rows changed by the last INSERT/UPDATE/DELETE
  std::unique_lock<std::mutex> lock() { return std::unique_lock<std::mutex>(mutex_); }
  // lock(), counted as urgent while it waits: long writers yield to it between their parts.
  std::unique_lock<std::mutex> lock_urgent();
  bool urgent_waiting() const { return urgent_waiting_.load(std::memory_order_acquire) > 0; }
  // Releases `lock` (this Database's) until the urgent writers waiting now hold the mutex, then
  // takes it back, behind them. std::mutex is not fair: unlocking and locking again would
  // usually win the mutex back before a woken waiter runs.
  void yield_to_urgent(std::unique_lock<std::mutex>& lock);
  void checkpoint();  // WAL checkpoint (TRUNCATE): called on clean shutdown
  // SQLite's page cache for this connection, in bytes (PRAGMA cache_size). The file is also in
  // the kernel's page cache, so a page SQLite does not hold costs a read() from memory, not disk.
  void set_cache_bytes(int64_t bytes);
  struct CacheStats {
    int64_t used_bytes = 0;     // heap the page cache holds now
    int64_t hits = 0, misses = 0;  // page lookups since the last reset (misses read the file or WAL)
  };
  CacheStats cache_stats(bool reset = false);
  // Moves WAL checkpoints off the committing thread: SQLite's automatic checkpoint would copy
  // ~1000 pages and fsync inside every ~20th request's COMMIT. Instead a thread with its own
  // connection runs PASSIVE checkpoints (which never block the writer) once the WAL holds
  // `wal_pages` pages, and at least every few seconds. Stopped by the destructor.
  void start_background_checkpoints(int wal_pages = 1000);

  sqlite3* handle() const { return db_; }
  const std::filesystem::path& path() const { return path_; }
  [[noreturn]] void fail(std::string_view what, int rc) const;  // throws StoreError

 private:
  Database(sqlite3* db, std::filesystem::path path);
  // The connection with `flags` (SQLITE_OPEN_*), extended result codes and a busy timeout.
  static std::unique_ptr<Database> connect(const std::filesystem::path& path, int flags);
  static int on_wal_commit(void* self, sqlite3*, const char*, int pages);
  void stop_background_checkpoints();
  sqlite3* db_;
  std::filesystem::path path_;
  std::mutex mutex_;
  std::atomic<int> urgent_waiting_{0};
  struct Checkpointer;
  std::unique_ptr<Checkpointer> checkpointer_;
};

// A prepared statement, reset (bindings kept until rebound) and reused; finalized on destruction.
class Statement {
 public:
  Statement(Database& db, std::string_view sql);
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // Parameters are 1-based like SQLite's.
  Statement& bind(int index, int64_t value);
  Statement& bind(int index, double value);
  Statement& bind(int index, std::string_view text);  // copied by SQLite (SQLITE_TRANSIENT)
  // Text with static storage (a string literal, a name table's entry): SQLite reads it in place
  // (SQLITE_STATIC) instead of copying it into a fresh allocation at every bind.
  Statement& bind_static(int index, std::string_view text);
  Statement& bind_null(int index);

  bool step();   // true: a row is available; false: done. Throws on error.
  void reset();  // ready to step again (call before rebinding a used statement)
  void run();    // step to completion (ignoring rows), then reset

  int64_t column_int(int col) const;
  double column_double(int col) const;
  std::string_view column_text(int col) const;
  bool column_is_null(int col) const;

  sqlite3_stmt* handle() const { return stmt_; }

 private:
  Database& db_;
  sqlite3_stmt* stmt_ = nullptr;
};

// BEGIN IMMEDIATE on construction, ROLLBACK on destruction unless commit() was called.
class Transaction {
 public:
  explicit Transaction(Database& db);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  void commit();
  // Between independent parts of a long write, under `lock` (the Database's): when an urgent
  // writer waits (Database::lock_urgent), commits what is written, lets it in, and begins a new
  // transaction. Returns whether it did. Each part must leave the tables consistent on its own.
  bool let_urgent_in(std::unique_lock<std::mutex>& lock);

 private:
  void begin();  // BEGIN IMMEDIATE: the write lock at once, not at the first write
  Database& db_;
  bool done_ = false;
};

}  // namespace nordiq
