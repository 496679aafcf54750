// A writer whose latency matters (a collector's post: Database::lock_urgent) goes in between the
// parts of a long write (a forecast cycle's record: Transaction::let_urgent_in), and finds the
// parts written so far committed, instead of waiting for the whole write.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "store/database.hpp"
#include "temp_dir.hpp"

namespace nordiq {
namespace {

using test_support::TempDir;

int64_t committed_rows(const std::filesystem::path& file) {
  auto reader = Database::open_read_only(file);  // sees committed rows only
  Statement q(*reader, "SELECT COUNT(*) FROM parts");
  EXPECT_TRUE(q.step());
  return q.column_int(0);
}

void insert_rows(Database& db, int from, int to) {
  Statement ins(db, "INSERT INTO parts(x) VALUES (?)");
  for (int i = from; i < to; ++i) {
    ins.bind(1, int64_t{i});
    ins.run();
  }
}

class UrgentWriter : public ::testing::Test {
 protected:
  UrgentWriter() : file(dir.path / "nordiq.db"), db(Database::open(file)) {
    db->exec("CREATE TABLE parts(x INTEGER NOT NULL)");
  }
  TempDir dir;
  std::filesystem::path file;
  std::unique_ptr<Database> db;
};

TEST_F(UrgentWriter, GoesInBetweenTheLongWritesPartsAndFindsThemCommitted) {
  auto lock = db->lock();
  Transaction tx(*db);
  insert_rows(*db, 0, 50);  // the first part
  EXPECT_FALSE(tx.let_urgent_in(lock)) << "nobody waits: the transaction stays open";
  EXPECT_EQ(committed_rows(file), 0);

  std::atomic<int64_t> seen_by_urgent{-1};
  std::thread urgent([&] {
    auto urgent_lock = db->lock_urgent();
    seen_by_urgent = committed_rows(file);
    db->exec("INSERT INTO parts(x) VALUES (-1)");
  });
  while (!db->urgent_waiting()) std::this_thread::yield();  // it is queued on the mutex

  EXPECT_TRUE(tx.let_urgent_in(lock));
  EXPECT_EQ(seen_by_urgent.load(), 50) << "the urgent writer ran while the long write yielded";
  insert_rows(*db, 50, 100);  // the second part, in a transaction begun anew
  EXPECT_EQ(committed_rows(file), 51);
  tx.commit();
  lock.unlock();
  urgent.join();
  EXPECT_EQ(committed_rows(file), 101);
}

TEST_F(UrgentWriter, ALongWriteWithNobodyWaitingIsOneTransaction) {
  {
    auto lock = db->lock();
    Transaction tx(*db);
    for (int part = 0; part < 10; ++part) {
      EXPECT_FALSE(tx.let_urgent_in(lock));
      insert_rows(*db, part * 10, part * 10 + 10);
    }
    EXPECT_EQ(committed_rows(file), 0);
    // Not committed: the destructor rolls the whole write back.
  }
  EXPECT_EQ(committed_rows(file), 0);
}

}  // namespace
}  // namespace nordiq
