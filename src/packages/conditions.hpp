#pragma once
// Condition runners: one per condition that has subscribers, shared by all
// of them. A runner runs the condition's command on the fair scheduler once
// per slot of a fixed time grid and hands each value to every subscriber and
// to the store. It outlives target outages (those ticks are skipped and
// counted) and stops within one interval after its last subscriber leaves.
// Loop-thread only.
#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/model.hpp"
#include "core/result.hpp"
#include "store/store.hpp"

namespace steward {
class Clock;
namespace sched { class Scheduler; }
namespace transport { class TransportRegistry; }
}  // namespace steward

namespace steward::packages {

// Grid: run k is due at start + phase + k * interval, the phase (less than
// one interval) spread by the condition's id. SleepAfterRun: wait one interval
// after each run ends, the way other executors pace conditions (kept to
// measure the difference; see bench/).
enum class Pacing { Grid, SleepAfterRun };

struct ConditionSpec {
  std::string id;
  Target target;  // with any per-request account applied
  std::string command;
  std::map<std::string, std::string> environment;
  std::chrono::milliseconds interval{1000};
};

struct ConditionCounters {
  std::uint64_t runs = 0;
  std::uint64_t values = 0;
  std::uint64_t skipped_busy = 0;         // the previous run had not finished when the slot came
  std::uint64_t skipped_unreachable = 0;  // the target could not be reached
  std::uint64_t failed = 0;               // the command exited non-zero, timed out or could not run
  std::uint64_t unparsable = 0;           // the output was not a number
  std::uint64_t out_of_range = 0;         // the value was outside [0, 1] (and passed on unchanged)
  std::optional<store::ConditionValue> last;
};

class ConditionHub {
 public:
  using Listener = std::function<void(const store::ConditionValue&)>;
  // Called once when the runner ends while the subscriber is still there (delete, shutdown).
  using Closer = std::function<void(const Error& why)>;

  ConditionHub(boost::asio::any_io_executor executor, sched::Scheduler& scheduler,
               const transport::TransportRegistry& transports, store::Store& store, Pacing pacing);
  ~ConditionHub();

  // Joins the runner of spec.id, starting it if none runs. Returns the subscription's number.
  std::uint64_t subscribe(const ConditionSpec& spec, Listener listener, Closer closer);
  // Joins the values of spec.id that another server runs (it owns the
  // target): read back from the store, nothing runs here. As subscribe().
  std::uint64_t follow(const ConditionSpec& spec, Listener listener, Closer closer);
  // The last subscriber out stops the runner.
  void unsubscribe(const std::string& id, std::uint64_t subscription);
  // Ends the runner and every subscription (their closers get `why`).
  void stop(const std::string& id, const Error& why);
  void stop_all(const Error& why);

  std::size_t subscribers(const std::string& id) const;
  // What the runners time themselves on (the scheduler's clock).
  const Clock& clock() const;
  // The conditions followed here (see follow()).
  std::vector<ConditionSpec> followed() const;
  // Since the server started; nullopt if the condition never ran here.
  std::optional<ConditionCounters> counters(const std::string& id) const;
  // Summed over every condition since the server started (for /metrics; `last` unset).
  ConditionCounters totals() const;
  std::size_t runners() const { return runners_.size(); }

  struct Runner;

 private:
  enum class Role { Run, Follow };
  using RunnerKey = std::pair<std::string, Role>;
  std::uint64_t join(Role role, const ConditionSpec& spec, Listener listener, Closer closer);

  boost::asio::any_io_executor executor_;
  sched::Scheduler& scheduler_;
  const transport::TransportRegistry& transports_;
  store::Store& store_;
  Pacing pacing_;
  std::map<RunnerKey, std::shared_ptr<Runner>> runners_;
  std::map<std::string, std::shared_ptr<ConditionCounters>> counters_;
  std::uint64_t next_subscription_ = 1;
};

// The number a condition printed: its last non-empty line, as a decimal.
std::optional<double> parse_condition_output(std::string_view output);

}  // namespace steward::packages
