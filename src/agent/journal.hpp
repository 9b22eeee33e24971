#pragma once
// The agent's record of the operations it was given (issue 13, exactly-once
// start). An op id is written (and fsynced) before the agent acknowledges it
// and starts the command, and its Exit is written when it ends, so an agent
// that restarts still knows every id it accepted and every result the server
// has not acknowledged. Files in DIR: ID.start, ID.exit (serialized Exit).
#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "agent.pb.h"
#include "core/result.hpp"

namespace steward::agent {

namespace v1 = ::steward::agent::v1;

// Op ids become file names: [A-Za-z0-9_-]{1,64} only.
bool valid_op_id(const std::string& id);

class Journal {
 public:
  using Clock = std::chrono::system_clock;

  // Creates DIR (0700) if needed and reads what it holds. An op that was
  // started but has no Exit (the agent stopped while it ran) gets one saying
  // its result is lost, so it is reported and never started again.
  static Result<Journal> open(std::string dir, std::chrono::seconds keep_results);

  bool knows(const std::string& id) const { return entries_.count(id) > 0; }
  bool finished(const std::string& id) const;
  // Durable before it returns (file and directory fsynced).
  Status record_start(const std::string& id);
  Status record_exit(const v1::Exit& exit);
  // The server has the result: both files go.
  void forget(const std::string& id);
  // Results older than keep_results go; returns how many.
  std::size_t expire(Clock::time_point now);

  std::vector<v1::KnownOperation> known() const;
  // Finished and not yet acknowledged, oldest first.
  std::vector<const v1::Exit*> unacknowledged() const;

 private:
  struct Entry {
    std::optional<v1::Exit> exit;
    Clock::time_point finished_at{};
  };
  Journal(std::string dir, std::chrono::seconds keep) : dir_(std::move(dir)), keep_(keep) {}
  std::string path(const std::string& id, const char* suffix) const { return dir_ + "/" + id + suffix; }
  Status write_durably(const std::string& path, const std::string& bytes);

  std::string dir_;
  std::chrono::seconds keep_;
  std::map<std::string, Entry> entries_;
};

}  // namespace steward::agent
