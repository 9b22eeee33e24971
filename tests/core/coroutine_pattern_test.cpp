// Pins the coroutine pattern steward's code must keep to on GCC 12.
//
// GCC 12 miscompiles a coroutine whose `co_await` sits inside a call argument
// or in a full-expression holding temporaries with destructors (PR 99576 and
// its relatives): across the suspension such temporaries can be destroyed
// twice, or a destroyed one read. It bit this code twice, e.g. as
//
//     co_await exchange.reply_error(status, std::string("literal"));  // temporary std::string
//     out.push_back(co_await next_line());                            // co_await in an argument
//
// The safe form, checked here, awaits into a local first and passes named
// values: every object constructed is destroyed exactly once. The unsafe
// form is refused by scripts/check-co-await.py (ctest check_co_await, and the
// build's check_co_await target).
#include <gtest/gtest.h>

#include <boost/asio/awaitable.hpp>

#include <string>
#include <utility>
#include <vector>

#include "support/run_sync.hpp"

namespace steward {
namespace {

struct Tally {
  int constructed = 0;
  int destroyed = 0;
};

// A value with a destructor that counts itself, like the std::string and
// Result<T> temporaries the bug destroyed twice.
class Counted {
 public:
  Counted(Tally& tally, std::string text) : tally_(&tally), text_(std::move(text)) { ++tally_->constructed; }
  Counted(const Counted& other) : tally_(other.tally_), text_(other.text_) { ++tally_->constructed; }
  Counted(Counted&& other) noexcept : tally_(other.tally_), text_(std::move(other.text_)) { ++tally_->constructed; }
  Counted& operator=(const Counted&) = delete;
  ~Counted() { ++tally_->destroyed; }
  const std::string& text() const { return text_; }

 private:
  Tally* tally_;
  std::string text_;
};

boost::asio::awaitable<Counted> echo(Counted value) { co_return value; }

boost::asio::awaitable<std::size_t> length_of(const std::string& text) { co_return text.size(); }

std::string joined(const Counted& a, const Counted& b) { return a.text() + "+" + b.text(); }

// The safe form: each awaited value lands in a named local, and only then is
// it passed to a call.
boost::asio::awaitable<std::string> safe_form(Tally& tally) {
  Counted first(tally, "first");
  auto second = co_await echo(Counted(tally, "second"));  // the co_await is the whole initialiser
  auto third = co_await echo(first);
  std::vector<Counted> kept;
  kept.push_back(std::move(second));  // not push_back(co_await ...)
  const std::string label = "label";  // named, not a temporary inside the co_await
  auto size = co_await length_of(label);
  co_return joined(kept.front(), third) + ":" + std::to_string(size);
}

TEST(CoroutinePattern, SafeFormDestroysEveryObjectExactlyOnce) {
  Tally tally;
  auto result = testing::run_sync(safe_form(tally));
  EXPECT_EQ(result, "second+first:5");
  EXPECT_GT(tally.constructed, 3);
  EXPECT_EQ(tally.destroyed, tally.constructed);
}

// Awaiting in a loop: the local is re-created each round and each one ends once.
boost::asio::awaitable<int> awaits_in_a_loop(Tally& tally, int rounds) {
  int total = 0;
  for (int i = 0; i < rounds; ++i) {
    auto value = co_await echo(Counted(tally, std::string(static_cast<std::size_t>(i), 'x')));
    total += static_cast<int>(value.text().size());
  }
  co_return total;
}

TEST(CoroutinePattern, LocalsAwaitedInALoopAreDestroyedOncePerRound) {
  Tally tally;
  EXPECT_EQ(testing::run_sync(awaits_in_a_loop(tally, 5)), 0 + 1 + 2 + 3 + 4);
  EXPECT_EQ(tally.destroyed, tally.constructed);
}

}  // namespace
}  // namespace steward
