#!/usr/bin/env bash
# steward's libFuzzer harnesses (tests/fuzz), built by `make fuzz-build`.
#   fuzz.sh run BUILD_DIR SECONDS   fuzzes each harness for SECONDS (FUZZ_JOBS at a time, default 2),
#                                   starting from tests/fuzz/corpus/NAME; a crashing input is kept
#                                   as tests/fuzz/regressions/NAME/crash-* (commit it with the fix)
#   fuzz.sh replay BINARY NAME      runs every seed and kept crash input of NAME once (ctest fuzz_replay_NAME)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
corpus=$repo/tests/fuzz/corpus
regressions=$repo/tests/fuzz/regressions

replay() {
  local bin=$1 name=$2
  local inputs=()
  while IFS= read -r -d '' file; do inputs+=("$file"); done < <(
    find "$corpus/$name" "$regressions/$name" -type f -print0 2>/dev/null)
  if [ ${#inputs[@]} -eq 0 ]; then
    echo "fuzz.sh: no inputs for $name under $corpus/$name" >&2
    exit 1
  fi
  exec "$bin" "${inputs[@]}"
}

# One harness for $seconds: new coverage goes to a scratch corpus in the build dir.
fuzz_one() {
  local build=$1 seconds=$2 name=$3
  local scratch=$build/corpus/$name log=$build/fuzz_$name.log
  mkdir -p "$scratch" "$regressions/$name"
  local rc=0
  "$build/fuzz_$name" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$regressions/$name/" "$scratch" "$corpus/$name" >"$log" 2>&1 || rc=$?
  local runs
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rmdir "$regressions/$name" 2>/dev/null || true  # nothing kept: leave no empty folder behind
  if [ "$rc" -eq 0 ]; then
    echo "fuzz $name: ${runs:-?} inputs in ${seconds} s, no crash"
  else
    echo "fuzz $name: FAILED (exit $rc) after ${runs:-?} inputs; input kept under tests/fuzz/regressions/$name/"
    grep -m1 -A30 -E '==ERROR|runtime error|deadly signal|Timeout|out-of-memory' "$log" || tail -30 "$log"
    return 1
  fi
}

run() {
  local build=$1 seconds=$2
  build=$(cd "$build" && pwd)
  export -f fuzz_one
  export regressions corpus
  local names failed=0 total=0
  names=$(cat "$build/fuzzers.txt")
  for name in $names; do total=$((total + 1)); done
  printf '%s\n' $names | xargs -P "${FUZZ_JOBS:-2}" -I{} bash -c 'fuzz_one "$0" "$1" "$2"' "$build" "$seconds" {} \
    || failed=1
  local crashed=0
  for name in $names; do
    grep -q -E '^stat::number_of_executed_units' "$build/fuzz_$name.log" &&
      ! grep -q -E '^==[0-9]+== ?ERROR|runtime error:|ERROR: libFuzzer' "$build/fuzz_$name.log" ||
      crashed=$((crashed + 1))
  done
  echo "fuzz: $((total - crashed)) passed, $crashed failed"
  [ "$failed" -eq 0 ] && [ "$crashed" -eq 0 ]
}

case "${1:-}" in
  replay) replay "$2" "$3" ;;
  run) run "$2" "$3" ;;
  *) echo "usage: fuzz.sh run BUILD_DIR SECONDS | replay BINARY NAME" >&2; exit 2 ;;
esac
