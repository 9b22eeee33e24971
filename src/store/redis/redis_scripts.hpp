#pragma once
// The store's Lua scripts: every check-and-write that must be atomic (fenced
// run writes, leases, take-over, finishing a job) and the reads that gather
// one job or list in one round trip. Loaded on every new connection (SCRIPT
// LOAD), called with EVALSHA, and with EVAL when Redis has lost them
// (NOSCRIPT after SCRIPT FLUSH). ARGV[1] is always the key prefix; the
// scripts build their keys from it (one Redis, not Redis Cluster).
#include <boost/asio/awaitable.hpp>

#include <string>
#include <vector>

#include "store/redis/redis_connection.hpp"

namespace steward::store::redis {

enum class Script {
  CreateJob, WriteRun, AppendOutput, RecordProcess, ForgetProcesses, FinishJob, LoadJob, ReadOutput,
  UnfinishedJobs, UnendedJobs, DeleteJob, Prune,
  AcquireLease, RenewLease, ReleaseLease, TakeOver, TakeInbox, RequestCancel, CancelRequests,
  PutRecord, ListRecords, DeleteRecord, AppendValue, PruneValues,
  AddToken, ListTokens, DeleteToken, NoteTokenUsed,
  Count_
};

class Scripts {
 public:
  Scripts(RedisConnection& connection, std::string prefix);

  // SCRIPT LOAD of every script, for RedisConnection::set_greeting.
  std::vector<Command> load_commands() const;
  // `args` are ARGV[2...].
  boost::asio::awaitable<Result<Reply>> eval(Script script, std::vector<std::string> args);
  // The EVALSHA command, for a pipeline (RedisConnection::run_all); a
  // NOSCRIPT reply to it is retried with eval().
  Command evalsha(Script script, const std::vector<std::string>& args) const { return call(script, args, true); }
  // Fire-and-forget; `done` gets the outcome (after a NOSCRIPT retry).
  void eval_detached(Script script, std::vector<std::string> args, RedisConnection::Done done);

 private:
  Command call(Script script, const std::vector<std::string>& args, bool by_sha) const;

  RedisConnection& connection_;
  std::string prefix_;
};

bool is_noscript(const Error& error);

}  // namespace steward::store::redis
