#include <gtest/gtest.h>

#include <prometheus/metric_family.h>

#include <map>
#include <string>

#include "store/store.hpp"
#include "store/store_fixture.hpp"
#include "store/store_metrics.hpp"

namespace steward::store {
namespace {

// open_store with metrics: the store's awaited writes are timed by kind and
// class of write; reads and fire-and-forget writes are not.
class TimedStoreTest : public StoreFixture, public ::testing::WithParamInterface<std::string> {
 protected:
  TimedStoreTest() : StoreFixture(GetParam()) {}
  void SetUp() override {
    prepare("timed-store");
    if (IsSkipped() || HasFatalFailure()) return;
    auto opened = open_store({url(), dir_.string(), io_.get_executor(), &metrics_});
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    store_ = std::move(opened).value();
  }
  void stores_closed() override { store_.reset(); }

  // {operation label: sample count} of the latency histogram, checking every series' store label.
  std::map<std::string, std::uint64_t> write_counts() const {
    std::map<std::string, std::uint64_t> counts;
    for (const auto& family : metrics_.collect()) {
      EXPECT_EQ(family.name, "steward_store_write_duration_seconds");
      for (const auto& metric : family.metric) {
        std::map<std::string, std::string> labels;
        for (const auto& label : metric.label) labels[label.name] = label.value;
        EXPECT_EQ(labels["store"], GetParam());
        EXPECT_EQ(metric.histogram.bucket.back().cumulative_count, metric.histogram.sample_count);
        counts[labels["operation"]] = metric.histogram.sample_count;
      }
    }
    return counts;
  }

  StoreMetrics metrics_;
  std::unique_ptr<Store> store_;
};

TEST_P(TimedStoreTest, TimesAwaitedWritesByClass) {
  Job job;
  job.jid = "20260101000000000001";
  job.operate = "execute";
  job.targets = {"web1"};
  job.startat = 100;
  job.runs["web1"] = TargetRun{};
  ASSERT_TRUE(sync(store_->create_job(job)).ok());
  ASSERT_TRUE(sync(store_->put_record("condition", "c1", {{"command", "echo 1"}})).ok());
  store_->append_output(job.jid, OutputChunk{0, "web1", OutputStream::Stdout, "hi\n", 101});
  ASSERT_TRUE(sync(store_->flush()).ok());
  auto loaded = sync(store_->load_job(job.jid, OutputLimit{}));
  ASSERT_TRUE(loaded.ok() && *loaded);
  EXPECT_EQ((*loaded)->targets, job.targets);
  auto deleted = sync(store_->delete_job(job.jid));
  ASSERT_TRUE(deleted.ok() && *deleted);

  const std::map<std::string, std::uint64_t> expected{{"job", 2}, {"record", 1}, {"flush", 1}};
  EXPECT_EQ(write_counts(), expected);
}

TEST(StoreMetricsTest, NamesEveryWriteClass) {
  for (auto kind : {WriteClass::Job, WriteClass::Process, WriteClass::Lease, WriteClass::Record, WriteClass::Token,
                    WriteClass::Cancel, WriteClass::Prune, WriteClass::Flush})
    EXPECT_NE(std::string(write_class_name(kind)), "other");
}

INSTANTIATE_STORE_CONTRACT(TimedStoreTest);

}  // namespace
}  // namespace steward::store
