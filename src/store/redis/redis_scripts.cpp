#include "store/redis/redis_scripts.hpp"

#include <openssl/evp.h>

#include <array>
#include <cstdio>

namespace steward::store::redis {
namespace {

// Shared by every script. Keys (README "Redis"): P is the prefix.
constexpr const char* kPrelude = R"lua(
local P = ARGV[1]
local FINISHED, RUNNING = '2', '1'
local function hex(s) return (s:gsub('.', function(c) return string.format('%02x', c:byte()) end)) end
local function out_key(jid, target, stream) return P .. 'out:' .. jid .. ':' .. hex(target) .. ':' .. stream end
local function member(jid, target) return #jid .. ':' .. jid .. target end
local function unfinished_key(target) return P .. 'unfinished:' .. target end
-- An inbox entry (TakenRun), length-prefixed like member(): any bytes in names.
local function inbox_entry(jid, target, from) return #jid .. ':' .. jid .. #target .. ':' .. target .. from end
-- Wakes the server's BLPOP on its news list, which holds one token at most
-- (and goes with a server that never comes back).
local function tell(server)
  local k = P .. 'news:' .. server
  redis.call('RPUSH', k, '1')
  redis.call('LTRIM', k, -1, -1)
  redis.call('EXPIRE', k, 600)
end
local function place_with(server, entry)
  redis.call('RPUSH', P .. 'inbox:' .. server, entry)
  tell(server)
end
local function split_member(m)
  local n, rest = m:match('^(%d+):(.*)$')
  n = tonumber(n)
  return rest:sub(1, n), rest:sub(n + 1)
end
-- Refuses a run write unless (owner, epoch) still owns the run.
local function owns(jid, target, owner, epoch)
  local f = redis.call('HMGET', P .. 'runs:' .. jid, 'o:' .. target, 'e:' .. target)
  return f[1] == owner and f[2] == epoch
end
local function drop_job(jid)
  local existed = redis.call('DEL', P .. 'job:' .. jid)
  local runs = redis.call('HGETALL', P .. 'runs:' .. jid)
  for i = 1, #runs, 2 do
    if runs[i]:sub(1, 2) == 'o:' then
      local t = runs[i]:sub(3)
      redis.call('SREM', P .. 'owned:' .. runs[i + 1], member(jid, t))
      redis.call('ZREM', unfinished_key(t), jid)
      redis.call('DEL', out_key(jid, t, 1), out_key(jid, t, 2))
    end
  end
  redis.call('DEL', P .. 'runs:' .. jid, P .. 'chunks:' .. jid, P .. 'procs:' .. jid)
  redis.call('ZREM', P .. 'jobs', jid)
  redis.call('ZREM', P .. 'finished', jid)
  redis.call('ZREM', P .. 'cancels', jid)
  redis.call('ZREM', P .. 'unended', jid)
  return existed
end
-- The owner and epoch of the target's unfinished runs, nil when it has
-- none; drops entries of runs that have finished or gone.
local function sticky_owner(t)
  local k = unfinished_key(t)
  while true do
    local jid = redis.call('ZRANGE', k, 0, 0)[1]
    if not jid then return nil end
    local f = redis.call('HMGET', P .. 'runs:' .. jid, 'o:' .. t, 'e:' .. t, 'p:' .. t)
    if f[1] and f[3] and f[3] ~= FINISHED then return f[1], f[2] or '0' end
    redis.call('ZREM', k, jid)
  end
end
-- True when the servers live at `at` (lease unexpired; `me` always) are
-- exactly `names`, those the caller computed the slots' owners over
-- (redis_placement.hpp).
local function live_as_read(names, me, at)
  local live, count = {[me] = true}, 1
  local leases = redis.call('HGETALL', P .. 'lease-expires')
  for i = 1, #leases, 2 do
    if leases[i] ~= me and tonumber(leases[i + 1]) >= at then
      live[leases[i]] = true
      count = count + 1
    end
  end
  if count ~= #names then return false end
  for _, name in ipairs(names) do
    if not live[name] then return false end
  end
  return true
end
-- ARGV[first] is a count n, then n names: the names and the next index.
local function read_names(first)
  local names = {}
  for i = 1, tonumber(ARGV[first]) do names[i] = ARGV[first + i] end
  return names, first + #names + 1
end
-- Current epochs of live servers, ours as our lease has it.
local function epochs_with(me, epoch)
  local known = {[me] = epoch}
  return function(server)
    if not known[server] then known[server] = redis.call('HGET', P .. 'lease-epoch', server) or '0' end
    return known[server]
  end
end
)lua";

// ARGV: jid, owner (ours), epoch, state, error, startat, finishat, operate,
// args, targets JSON, mode, live server count n, n names (ours among them),
// then per target: target, slot, the 1-based index in the names of the live
// owner of its slot. Mode 'mine': every run ours, as they come. 'by-target':
// a target with unfinished runs stays with their owner, others go to the
// owner of their slot; each other owner gets one inbox entry. 0 when the job
// exists; -1, writing nothing, when the live servers at startat are no longer
// the names (the caller reads them again); else each run's owner, in order.
constexpr const char* kCreateJob = R"lua(
local jid, me, startat = ARGV[2], ARGV[3], tonumber(ARGV[7])
local jk = P .. 'job:' .. jid
if redis.call('EXISTS', jk) == 1 then return 0 end
local by_target = ARGV[12] == 'by-target'
local names, first = read_names(13)
if by_target and not live_as_read(names, me, startat) then return -1 end
local epoch_of = epochs_with(me, ARGV[4])
local rk = P .. 'runs:' .. jid
local owners, told = {}, {}
for i = first, #ARGV, 3 do
  local t = ARGV[i]
  local owner, epoch
  if by_target then owner, epoch = sticky_owner(t) end
  if not owner then
    owner = names[tonumber(ARGV[i + 2])] or me
    epoch = epoch_of(owner)
  end
  redis.call('HSET', rk, 'p:' .. t, '0', 'o:' .. t, owner, 'e:' .. t, epoch, 's:' .. t, ARGV[i + 1], 'm:' .. t, '')
  redis.call('SADD', P .. 'owned:' .. owner, member(jid, t))
  redis.call('ZADD', unfinished_key(t), 0, jid)
  table.insert(owners, owner)
  if owner ~= me and not told[owner] then
    told[owner] = true
    place_with(owner, inbox_entry(jid, '', ''))
  end
end
redis.call('HSET', jk, 'state', ARGV[5], 'error', ARGV[6], 'startat', ARGV[7], 'finishat', ARGV[8],
           'operate', ARGV[9], 'args', ARGV[10], 'targets', ARGV[11], 'cancel', '', 'left', #owners)
redis.call('ZADD', P .. 'jobs', ARGV[7], jid)
if ARGV[5] ~= RUNNING and tonumber(ARGV[8]) > 0 then redis.call('ZADD', P .. 'finished', ARGV[8], jid) end
return owners
)lua";

// ARGV: jid, target, owner, epoch, phase, meta, stdout, stderr
constexpr const char* kWriteRun = R"lua(
local jid, t, owner = ARGV[2], ARGV[3], ARGV[4]
if not owns(jid, t, owner, ARGV[5]) then return 0 end
local was = redis.call('HGET', P .. 'runs:' .. jid, 'p:' .. t)
redis.call('HSET', P .. 'runs:' .. jid, 'p:' .. t, ARGV[6], 'm:' .. t, ARGV[7])
for s = 1, 2 do
  local data = ARGV[7 + s]
  if data == '' then redis.call('DEL', out_key(jid, t, s)) else redis.call('SET', out_key(jid, t, s), data) end
end
if ARGV[6] == FINISHED then
  redis.call('SREM', P .. 'owned:' .. owner, member(jid, t))
  redis.call('ZREM', unfinished_key(t), jid)
  -- The job's last run: until the job ends it is listed with the time.
  if was ~= FINISHED and redis.call('HINCRBY', P .. 'job:' .. jid, 'left', -1) == 0 then
    redis.call('ZADD', P .. 'unended', redis.call('TIME')[1], jid)
  end
else
  redis.call('SADD', P .. 'owned:' .. owner, member(jid, t))
end
return 1
)lua";

// ARGV: jid, target, owner, epoch, seq, chunk (which starts with its seq).
// Seq 0: numbered after the job's last chunk, whichever server wrote it.
constexpr const char* kAppendOutput = R"lua(
if not owns(ARGV[2], ARGV[3], ARGV[4], ARGV[5]) then return 0 end
local k = P .. 'chunks:' .. ARGV[2]
local seq, chunk = ARGV[6], ARGV[7]
if seq == '0' then
  local last = redis.call('ZREVRANGE', k, 0, 0, 'WITHSCORES')
  seq = string.format('%d', (tonumber(last[2]) or 0) + 1)
  chunk = seq .. chunk:sub(2)
end
redis.call('ZREMRANGEBYSCORE', k, seq, seq)
redis.call('ZADD', k, seq, chunk)
return 1
)lua";

// ARGV: jid, target, owner, epoch, field, value
constexpr const char* kRecordProcess = R"lua(
if not owns(ARGV[2], ARGV[3], ARGV[4], ARGV[5]) then return 0 end
local seq = redis.call('INCR', P .. 'seq:procs')
redis.call('HSET', P .. 'procs:' .. ARGV[2], ARGV[6], seq .. '\n' .. ARGV[7])
return 1
)lua";

// ARGV: jid, field prefix of the target
constexpr const char* kForgetProcesses = R"lua(
local k, pre = P .. 'procs:' .. ARGV[2], ARGV[3]
for _, f in ipairs(redis.call('HKEYS', k)) do
  if f:sub(1, #pre) == pre then redis.call('HDEL', k, f) end
end
return 1
)lua";

// ARGV: jid, state, error, finishat. Only once every run is stored finished.
constexpr const char* kFinishJob = R"lua(
local jid = ARGV[2]
local jk = P .. 'job:' .. jid
if redis.call('EXISTS', jk) == 0 then return 0 end
local runs = redis.call('HGETALL', P .. 'runs:' .. jid)
for i = 1, #runs, 2 do
  if runs[i]:sub(1, 2) == 'p:' and runs[i + 1] ~= FINISHED then return 0 end
end
redis.call('HSET', jk, 'state', ARGV[3], 'error', ARGV[4], 'finishat', ARGV[5])
redis.call('ZREM', P .. 'cancels', jid)
redis.call('ZREM', P .. 'unended', jid)
if ARGV[3] ~= RUNNING and tonumber(ARGV[5]) > 0 then
  redis.call('ZADD', P .. 'finished', ARGV[5], jid)
else
  redis.call('ZREM', P .. 'finished', jid)
end
return 1
)lua";

// ARGV: jid, tail ('all' or a byte count). {} when unknown, else
// {job fields, run fields, {target, stdout, stdout size, stderr, stderr size, ...}}.
constexpr const char* kLoadJob = R"lua(
local jid, tail = ARGV[2], ARGV[3]
local job = redis.call('HGETALL', P .. 'job:' .. jid)
if #job == 0 then return {} end
local runs = redis.call('HGETALL', P .. 'runs:' .. jid)
local outs = {}
for i = 1, #runs, 2 do
  if runs[i]:sub(1, 2) == 'p:' then
    local t = runs[i]:sub(3)
    table.insert(outs, t)
    for s = 1, 2 do
      local k = out_key(jid, t, s)
      local data = ''
      if tail == 'all' then
        data = redis.call('GET', k) or ''
      elseif tonumber(tail) > 0 then
        data = redis.call('GETRANGE', k, -tonumber(tail), -1)
      end
      table.insert(outs, data)
      table.insert(outs, redis.call('STRLEN', k))
    end
  end
end
return {job, runs, outs}
)lua";

// ARGV: jid, target, stream, first byte, last byte. {} when unknown, else {phase, data, size}.
constexpr const char* kReadOutput = R"lua(
local phase = redis.call('HGET', P .. 'runs:' .. ARGV[2], 'p:' .. ARGV[3])
if not phase then return {} end
local k = out_key(ARGV[2], ARGV[3], ARGV[4])
local data = ''
if tonumber(ARGV[6]) >= tonumber(ARGV[5]) then data = redis.call('GETRANGE', k, ARGV[5], ARGV[6]) end
return {phase, data, redis.call('STRLEN', k)}
)lua";

// ARGV: owner, epoch. Running jobs with an unfinished run of this lease.
constexpr const char* kUnfinishedJobs = R"lua(
local seen, jids = {}, {}
for _, m in ipairs(redis.call('SMEMBERS', P .. 'owned:' .. ARGV[2])) do
  local jid, t = split_member(m)
  if not seen[jid] then
    local f = redis.call('HMGET', P .. 'runs:' .. jid, 'o:' .. t, 'e:' .. t, 'p:' .. t)
    if f[1] == ARGV[2] and f[2] == ARGV[3] and f[3] ~= FINISHED
       and redis.call('HGET', P .. 'job:' .. jid, 'state') == RUNNING then
      seen[jid] = true
      table.insert(jids, jid)
    end
  end
end
return jids
)lua";

// ARGV: before. Running jobs whose last run finished before `before`.
constexpr const char* kUnendedJobs = R"lua(
local jids = {}
for _, jid in ipairs(redis.call('ZRANGEBYSCORE', P .. 'unended', '-inf', '(' .. ARGV[2])) do
  if redis.call('HGET', P .. 'job:' .. jid, 'state') == RUNNING then
    table.insert(jids, jid)
  else
    redis.call('ZREM', P .. 'unended', jid)
  end
end
return jids
)lua";

constexpr const char* kDeleteJob = R"lua(
return drop_job(ARGV[2])
)lua";

// ARGV: before, batch. {deleted, looked at}: the caller repeats while a whole batch was looked at.
constexpr const char* kPrune = R"lua(
local doomed = redis.call('ZRANGEBYSCORE', P .. 'finished', '(0', '(' .. ARGV[2], 'LIMIT', 0, tonumber(ARGV[3]))
local n = 0
for _, jid in ipairs(doomed) do
  if redis.call('HGET', P .. 'job:' .. jid, 'state') ~= RUNNING then
    drop_job(jid)
    n = n + 1
  else
    redis.call('ZREM', P .. 'finished', jid)
  end
end
return {n, #doomed}
)lua";

// ARGV: server, expires. The new epoch.
constexpr const char* kAcquireLease = R"lua(
local epoch = redis.call('HINCRBY', P .. 'lease-epoch', ARGV[2], 1)
redis.call('HSET', P .. 'lease-expires', ARGV[2], ARGV[3])
return epoch
)lua";

// ARGV: server, epoch, expires ('0' releases). 0 when the epoch moved on.
constexpr const char* kRenewLease = R"lua(
if redis.call('HGET', P .. 'lease-epoch', ARGV[2]) ~= ARGV[3] then return 0 end
redis.call('HSET', P .. 'lease-expires', ARGV[2], ARGV[4])
return 1
)lua";

constexpr const char* kReleaseLease = R"lua(
if redis.call('HGET', P .. 'lease-epoch', ARGV[2]) == ARGV[3] then
  redis.call('HSET', P .. 'lease-expires', ARGV[2], '0')
end
return 1
)lua";

// ARGV: server, epoch, now, live server count n, n names (ours among them),
// slot map (per slot, comma-separated, the 1-based index in the names of its
// live owner). Takes the unfinished runs of our earlier epochs and of stores
// from before leases (owner ''), and hands those of servers whose lease
// expired (their epoch moves on and their expiry becomes -1, so they are
// taken once) to the live owner of each run's slot: ours are returned, the
// others' pushed into their inbox. Every run of one target goes to one owner.
// -1, changing nothing, when the live servers at `now` are no longer the
// names (the caller reads them again); else {{jid, target, from}...}, ours.
constexpr const char* kTakeOver = R"lua(
local me, epoch, now = ARGV[2], ARGV[3], tonumber(ARGV[4])
local names, map_at = read_names(5)
if not live_as_read(names, me, now) then return -1 end
local slot_owners = {}
for index in ARGV[map_at]:gmatch('%d+') do table.insert(slot_owners, names[tonumber(index)]) end
local epoch_of = epochs_with(me, epoch)
-- The unfinished runs in `server`'s owned set, of epochs before `before`
-- if given; drops entries of runs that are not.
local function unfinished_of(server, from, before, runs)
  local key = P .. 'owned:' .. server
  for _, m in ipairs(redis.call('SMEMBERS', key)) do
    local jid, t = split_member(m)
    local f = redis.call('HMGET', P .. 'runs:' .. jid, 'o:' .. t, 'e:' .. t, 'p:' .. t, 's:' .. t)
    if f[1] ~= server or not f[3] or f[3] == FINISHED then
      redis.call('SREM', key, m)
    elseif not before or tonumber(f[2]) < before then
      table.insert(runs, {m = m, key = key, jid = jid, t = t, from = from, slot = f[4]})
    end
  end
  return runs
end
local function give(run, owner)
  redis.call('HSET', P .. 'runs:' .. run.jid, 'o:' .. run.t, owner, 'e:' .. run.t, epoch_of(owner))
  redis.call('SREM', run.key, run.m)
  redis.call('SADD', P .. 'owned:' .. owner, run.m)
end
local taken = {}
local ours = unfinished_of(me, '', tonumber(epoch), {})
if me ~= '' then unfinished_of('', '', nil, ours) end
for _, run in ipairs(ours) do
  give(run, me)
  table.insert(taken, {run.jid, run.t, ''})
end
local theirs = {}
local leases = redis.call('HGETALL', P .. 'lease-expires')
for i = 1, #leases, 2 do
  local server, expires = leases[i], tonumber(leases[i + 1])
  if server ~= me and expires < now and expires ~= -1 then
    redis.call('HINCRBY', P .. 'lease-epoch', server, 1)
    redis.call('HSET', P .. 'lease-expires', server, '-1')
    -- What was placed with it is among its runs, shared out below.
    redis.call('DEL', P .. 'inbox:' .. server, P .. 'news:' .. server)
    unfinished_of(server, server, nil, theirs)
  end
end
-- A run stored without its slot (before slots) goes where its target's
-- other runs go, else to us.
local target_slot = {}
for _, run in ipairs(theirs) do
  if run.slot then target_slot[run.t] = run.slot end
end
for _, run in ipairs(theirs) do
  local slot = target_slot[run.t]
  local owner = slot and slot_owners[tonumber(slot) + 1] or me
  give(run, owner)
  if owner == me then
    table.insert(taken, {run.jid, run.t, run.from})
  else
    place_with(owner, inbox_entry(run.jid, run.t, run.from))
  end
end
return taken
)lua";

// ARGV: server. Its inbox entries, oldest first; the inbox is emptied.
constexpr const char* kTakeInbox = R"lua(
local k = P .. 'inbox:' .. ARGV[2]
local entries = redis.call('LRANGE', k, 0, -1)
redis.call('DEL', k)
return entries
)lua";

// ARGV: jid, reason
constexpr const char* kRequestCancel = R"lua(
local jk = P .. 'job:' .. ARGV[2]
local f = redis.call('HMGET', jk, 'state', 'startat')
if f[1] ~= RUNNING then return 0 end
redis.call('HSET', jk, 'cancel', ARGV[3])
redis.call('ZADD', P .. 'cancels', f[2], ARGV[2])
-- The job's parts may be on any server holding a lease.
local leases = redis.call('HGETALL', P .. 'lease-expires')
for i = 1, #leases, 2 do
  if tonumber(leases[i + 1]) > 0 then tell(leases[i]) end
end
return 1
)lua";

constexpr const char* kCancelRequests = R"lua(
local out = {}
for _, jid in ipairs(redis.call('ZRANGE', P .. 'cancels', 0, -1)) do
  local f = redis.call('HMGET', P .. 'job:' .. jid, 'state', 'cancel')
  if f[1] == RUNNING and f[2] and f[2] ~= '' then
    table.insert(out, jid)
    table.insert(out, f[2])
  end
end
return out
)lua";

// ARGV: kind, id, body. Keeps the first put's place in the order.
constexpr const char* kPutRecord = R"lua(
local order = P .. 'record-order:' .. ARGV[2]
if not redis.call('ZSCORE', order, ARGV[3]) then
  redis.call('ZADD', order, redis.call('INCR', P .. 'seq:records'), ARGV[3])
end
redis.call('HSET', P .. 'record:' .. ARGV[2], ARGV[3], ARGV[4])
return 1
)lua";

constexpr const char* kListRecords = R"lua(
local out = {}
for _, id in ipairs(redis.call('ZRANGE', P .. 'record-order:' .. ARGV[2], 0, -1)) do
  local body = redis.call('HGET', P .. 'record:' .. ARGV[2], id)
  if body then table.insert(out, body) end
end
return out
)lua";

constexpr const char* kDeleteRecord = R"lua(
redis.call('ZREM', P .. 'record-order:' .. ARGV[2], ARGV[3])
return redis.call('HDEL', P .. 'record:' .. ARGV[2], ARGV[3])
)lua";

// ARGV: condition, at, value. Members are "value seq", unique.
constexpr const char* kAppendValue = R"lua(
local seq = redis.call('INCR', P .. 'seq:values')
redis.call('ZADD', P .. 'values:' .. ARGV[2], ARGV[3], ARGV[4] .. ' ' .. seq)
redis.call('SADD', P .. 'value-conditions', ARGV[2])
return 1
)lua";

// ARGV: before
constexpr const char* kPruneValues = R"lua(
local n = 0
for _, c in ipairs(redis.call('SMEMBERS', P .. 'value-conditions')) do
  local k = P .. 'values:' .. c
  n = n + redis.call('ZREMRANGEBYSCORE', k, '-inf', '(' .. ARGV[2])
  if redis.call('EXISTS', k) == 0 then redis.call('SREM', P .. 'value-conditions', c) end
end
return n
)lua";

// ARGV: name, role, hash, created, last used. 0 when the name or hash is taken.
constexpr const char* kAddToken = R"lua(
if redis.call('SISMEMBER', P .. 'token-names', ARGV[2]) == 1
   or redis.call('HEXISTS', P .. 'token-hashes', ARGV[4]) == 1 then return 0 end
redis.call('HSET', P .. 'token:' .. ARGV[2], 'role', ARGV[3], 'hash', ARGV[4], 'created', ARGV[5],
           'last_used', ARGV[6])
redis.call('SADD', P .. 'token-names', ARGV[2])
redis.call('HSET', P .. 'token-hashes', ARGV[4], ARGV[2])
return 1
)lua";

constexpr const char* kListTokens = R"lua(
local out = {}
for _, name in ipairs(redis.call('SMEMBERS', P .. 'token-names')) do
  local f = redis.call('HMGET', P .. 'token:' .. name, 'role', 'hash', 'created', 'last_used')
  table.insert(out, {name, f[1] or '', f[2] or '', f[3] or '0', f[4] or '0'})
end
return out
)lua";

constexpr const char* kDeleteToken = R"lua(
if redis.call('SREM', P .. 'token-names', ARGV[2]) == 0 then return 0 end
local hash = redis.call('HGET', P .. 'token:' .. ARGV[2], 'hash')
if hash then redis.call('HDEL', P .. 'token-hashes', hash) end
redis.call('DEL', P .. 'token:' .. ARGV[2])
return 1
)lua";

// ARGV: name, at. Never goes back.
constexpr const char* kNoteTokenUsed = R"lua(
local k = P .. 'token:' .. ARGV[2]
local used = redis.call('HGET', k, 'last_used')
if used and tonumber(used) < tonumber(ARGV[3]) then redis.call('HSET', k, 'last_used', ARGV[3]) end
return 1
)lua";

constexpr std::array<const char*, static_cast<std::size_t>(Script::Count_)> kBodies{
    kCreateJob,     kWriteRun,     kAppendOutput,  kRecordProcess,  kForgetProcesses, kFinishJob,
    kLoadJob,       kReadOutput,   kUnfinishedJobs, kUnendedJobs, kDeleteJob,     kPrune,           kAcquireLease,
    kRenewLease,    kReleaseLease, kTakeOver,      kTakeInbox,      kRequestCancel,   kCancelRequests, kPutRecord,
    kListRecords,   kDeleteRecord, kAppendValue,   kPruneValues,    kAddToken,        kListTokens,
    kDeleteToken,   kNoteTokenUsed};

std::string sha1_hex(const std::string& text) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(text.data(), text.size(), digest, &size, EVP_sha1(), nullptr);
  std::string hex;
  char byte[3];
  for (unsigned int i = 0; i < size; ++i) {
    std::snprintf(byte, sizeof byte, "%02x", digest[i]);
    hex += byte;
  }
  return hex;
}

struct Compiled {
  std::string source;
  std::string sha;
};

const std::array<Compiled, kBodies.size()>& compiled() {
  static const auto scripts = [] {
    std::array<Compiled, kBodies.size()> out;
    for (std::size_t i = 0; i < kBodies.size(); ++i) {
      out[i].source = std::string(kPrelude) + kBodies[i];
      out[i].sha = sha1_hex(out[i].source);
    }
    return out;
  }();
  return scripts;
}

}  // namespace

bool is_noscript(const Error& error) { return error.message.find("NOSCRIPT") != std::string::npos; }

Scripts::Scripts(RedisConnection& connection, std::string prefix)
    : connection_(connection), prefix_(std::move(prefix)) {}

std::vector<Command> Scripts::load_commands() const {
  std::vector<Command> commands;
  for (const auto& script : compiled()) commands.push_back({"SCRIPT", "LOAD", script.source});
  return commands;
}

namespace {
Command script_command(Script script, const std::string& prefix, const std::vector<std::string>& args, bool by_sha) {
  const Compiled& compiled_script = compiled()[static_cast<std::size_t>(script)];
  Command command{by_sha ? "EVALSHA" : "EVAL", by_sha ? compiled_script.sha : compiled_script.source, "0", prefix};
  command.insert(command.end(), args.begin(), args.end());
  return command;
}
}  // namespace

Command Scripts::call(Script script, const std::vector<std::string>& args, bool by_sha) const {
  return script_command(script, prefix_, args, by_sha);
}

boost::asio::awaitable<Result<Reply>> Scripts::eval(Script script, std::vector<std::string> args) {
  auto first = connection_.run(call(script, args, /*by_sha=*/true));
  auto reply = co_await std::move(first);
  if (reply || !is_noscript(reply.error())) co_return reply;
  auto again = connection_.run(call(script, args, /*by_sha=*/false));
  co_return co_await std::move(again);
}

void Scripts::eval_detached(Script script, std::vector<std::string> args, RedisConnection::Done done) {
  // Nothing of this object in the retry: it may run after the store is gone.
  Command first = call(script, args, /*by_sha=*/true);
  auto retry = [send = connection_.sender(), script, prefix = prefix_, args = std::move(args),
                done = std::move(done)](Result<Reply> reply) mutable {
    if (reply || !is_noscript(reply.error())) return done(std::move(reply));
    send(script_command(script, prefix, args, /*by_sha=*/false), std::move(done));
  };
  connection_.send(std::move(first), std::move(retry));
}

}  // namespace steward::store::redis
