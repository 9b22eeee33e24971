#!/usr/bin/env bash
# `make bench`: REST API throughput and latency against the raw cost of a
# process spawn, measured in the same run. Raw outputs go to bench/out/, a
# markdown summary to bench/out/summary.md (copied into bench/RESULTS.md).
# BENCH_DURATION (seconds per wrk run, default 10) shortens or lengthens it;
# SSH_SIZES and SSH_REPEAT shape the SSH fan-out part (bench/ssh_fanout.py);
# CONDITIONS_DURATION (seconds per pacing, default 300) the condition part
# (bench/conditions_bench.py); AGENT_SIZES the agent part (bench/agent_fleet.py);
# CALLBACK_TARGETS the SSH callback part (bench/callback_fleet.py); CLUSTER_JOBS the
# servers-on-Redis part (bench/cluster_bench.py); METRICS_SCRAPES the /metrics part
# (bench/metrics_bench.py); DASHBOARD_TARGETS the dashboard part (bench/dashboard_bench.py).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh bench
cmake --build build -j2 --target steward spawn_bench ssh_blocking_pool >/dev/null

BIN=build/steward
OUT=bench/out
DURATION=${BENCH_DURATION:-10}
mkdir -p "$OUT"
data=$(mktemp -d)
server_pid=""
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$data"; }
trap cleanup EXIT

# Run with one inventory: the built-in localhost (max one operation at a
# time, the default) and a localhost that allows 64 at once.
cat > "$data/inventory.ini" <<'INV'
localhost ansible_connection=local
wide ansible_connection=local steward_max_sessions=64
INV

start_server() {
  rm -f "$data/http.addr"
  STEWARD_TOKEN=bench "$BIN" serve --http 127.0.0.1:0 --data-dir "$data" --inventory "$data/inventory.ini" \
    --max-connections 64 --log-level warn &
  server_pid=$!
  for _ in $(seq 100); do [ -s "$data/http.addr" ] && break; sleep 0.1; done
  URL="http://$(cat "$data/http.addr")"
}

metric() { curl -s -H "Authorization: Bearer bench" "$URL/metrics" | awk -v m="$1" '$1 == m {print $2}'; }

# wrk's "Requests/sec", 50% and 99% latency lines.
summarise_wrk() {
  awk '/Requests\/sec/ {rps=$2} /^ +50%/ {p50=$2} /^ +99%/ {p99=$2} END {printf "%s | %s | %s", rps, p50, p99}' "$1"
}

echo "== raw spawn of /bin/true"
build/bench/spawn_bench 1 3000 | tee "$OUT/spawn_1.json"
build/bench/spawn_bench 2 1500 | tee "$OUT/spawn_2.json"
build/bench/spawn_bench 8 400 | tee "$OUT/spawn_8.json"
echo "== raw spawn of /bin/sh -c true (what GET /execute?cmd=true runs)"
build/bench/spawn_bench 1 3000 /bin/sh -c true | tee "$OUT/spawn_sh_1.json"
build/bench/spawn_bench 8 400 /bin/sh -c true | tee "$OUT/spawn_sh_8.json"

start_server
{
  echo "| test | clients | requests/s | p50 | p99 |"
  echo "|---|---|---|---|---|"
} > "$OUT/summary.md"
for host in localhost wide; do
  for clients in 1 8 64; do
    threads=$(( clients < 2 ? 1 : 2 ))
    echo "== sync GET /execute?cmd=true on $host, $clients clients"
    wrk -t$threads -c$clients -d"${DURATION}s" --latency -H "Authorization: Bearer bench" \
      "$URL/execute?target=$host&cmd=true" > "$OUT/sync_${host}_$clients.txt"
    echo "| sync GET /execute ($host) | $clients | $(summarise_wrk "$OUT/sync_${host}_$clients.txt") |" | tee -a "$OUT/summary.md"
  done
done

echo "== async POST /execute, 8 clients: accepted (durable) and completed per second"
before=$(metric steward_jobs_finished_total)
start=$(date +%s.%N)
wrk -t2 -c8 -d"${DURATION}s" --latency -s bench/post_execute.lua -H "Authorization: Bearer bench" \
  "$URL/execute" > "$OUT/async_post.txt"
accepted=$(metric steward_jobs_accepted_total)
while :; do
  finished=$(metric steward_jobs_finished_total)
  [ "${finished%.*}" -ge "${accepted%.*}" ] && break
  sleep 0.2
done
end=$(date +%s.%N)
completed_rate=$(awk -v f="$finished" -v b="$before" -v s="$start" -v e="$end" 'BEGIN {printf "%.1f", (f - b) / (e - s)}')
echo "| async POST /execute accepted | 8 | $(summarise_wrk "$OUT/async_post.txt") |" | tee -a "$OUT/summary.md"
echo "| async POST /execute completed (localhost, serialized) | 8 | $completed_rate | - | - |" | tee -a "$OUT/summary.md"
echo "server RSS after the run: $(ps -o rss= -p "$server_pid") KiB" | tee -a "$OUT/summary.md"

# Overhead ratio: time per job through the service over time per raw spawn
# of the same command, at the same concurrency.
per_second() { sed -E 's/.*"per_second": ([0-9.]+).*/\1/' "$1"; }
wrk_rps() { awk '/Requests\/sec/ {print $2}' "$1"; }
{
  echo
  echo "| raw spawn | threads | spawns/s |"
  echo "|---|---|---|"
  for f in spawn_1 spawn_8 spawn_sh_1 spawn_sh_8; do
    echo "| $f | $(sed -E 's/.*"threads": ([0-9]+).*/\1/' "$OUT/$f.json") | $(per_second "$OUT/$f.json") |"
  done
  echo
  awk -v raw="$(per_second "$OUT/spawn_sh_1.json")" -v svc="$(wrk_rps "$OUT/sync_localhost_1.txt")" \
    'BEGIN {printf "overhead, 1 client (localhost) vs 1 thread of sh -c true: %.2fx\n", raw / svc}'
  awk -v raw="$(per_second "$OUT/spawn_sh_8.json")" -v svc="$(wrk_rps "$OUT/sync_wide_8.txt")" \
    'BEGIN {printf "overhead, 8 clients (wide) vs 8 threads of sh -c true: %.2fx\n", raw / svc}'
} | tee -a "$OUT/summary.md"

echo "== hostname on 10, 50, 100 SSH targets: steward against pdsh, parallel-ssh, clush, ansible, ssh loops"
kill "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null || true; server_pid=""
/usr/bin/python3 bench/ssh_fanout.py --sizes "${SSH_SIZES:-10,50,100}" --repeat "${SSH_REPEAT:-3}" --out "$OUT"
{ echo; cat "$OUT/ssh_summary.md"; } >> "$OUT/summary.md"

echo "== 1,000 conditions at 1 s over gRPC: time grid against sleep-after-run, Feature create under load"
/usr/bin/python3 bench/conditions_bench.py --duration "${CONDITIONS_DURATION:-300}" --out "$OUT"
{ echo; cat "$OUT/conditions_summary.md"; } >> "$OUT/summary.md"
echo "== agents: 1,000 and 10,000 simulated agents; the same server's warm SSH fan-out on 100 beside them"
/usr/bin/python3 bench/agent_fleet.py --sizes "${AGENT_SIZES:-1000,10000}" --out "$OUT"
{ echo; cat "$OUT/agent_summary.md"; } >> "$OUT/summary.md"
echo "== SSH callback targets: 100 ssh -N -R clients, first command and warm fan-out against direct SSH"
/usr/bin/python3 bench/callback_fleet.py --targets "${CALLBACK_TARGETS:-100}" --out "$OUT"
{ echo; cat "$OUT/callback_summary.md"; } >> "$OUT/summary.md"
echo "== servers on one Redis: 1, 2, 3 servers against one on SQLite and against Celery; failover time"
/usr/bin/python3 bench/cluster_bench.py --jobs "${CLUSTER_JOBS:-2000}" --out "$OUT"
{ echo; cat "$OUT/cluster_summary.md"; } >> "$OUT/summary.md"
echo "== GET /metrics under load (jobs, follow streams, conditions): scrape time against GET /healthz"
/usr/bin/python3 bench/metrics_bench.py --scrapes "${METRICS_SCRAPES:-1000}" --out "$OUT"
{ echo; cat "$OUT/metrics_summary.md"; } >> "$OUT/summary.md"
echo "== the dashboard open on a job of 1,000 targets printing: server CPU and the page's frame rate"
/usr/bin/python3 bench/dashboard_bench.py --targets "${DASHBOARD_TARGETS:-1000}" --out "$OUT"
{ echo; cat "$OUT/dashboard_summary.md"; } >> "$OUT/summary.md"
echo
cat "$OUT/summary.md"
