#!/usr/bin/env bash
# Run every libFuzzer harness in DIR for SECONDS each, over a scratch copy of
# its seed corpus (fuzz/corpus/<name>/, generated seeds via
# fuzz/seeds.sh if present) and its regression inputs
# (tests/data/fuzz-regressions/<name>/). A crash leaves its input in
# build-fuzz/findings/<name>/ and fails the run.
set -euo pipefail
dir=${1:-build-fuzz/fuzz}
secs=${2:-60}
root=$(cd "$(dirname "$0")/.." && pwd)
fail=0
for h in "$dir"/fuzz_*; do
  [[ -x "$h" ]] || continue
  name=$(basename "$h"); short=${name#fuzz_}
  work=$(mktemp -d); findings="$root/build-fuzz/findings/$short"; mkdir -p "$findings"
  [[ -d "$root/fuzz/corpus/$short" ]] && cp -r "$root/fuzz/corpus/$short/." "$work/" 2>/dev/null || true
  [[ -x "$root/fuzz/seeds.sh" ]] && "$root/fuzz/seeds.sh" "$short" "$work" || true
  regs="$root/tests/data/fuzz-regressions/$short"
  args=("$work"); [[ -d "$regs" ]] && args+=("$regs")
  echo "fuzz-smoke: $short for ${secs}s"
  if ! "$h" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -artifact_prefix="$findings/" \
        -print_final_stats=1 "${args[@]}" > "$findings/log.txt" 2>&1; then
    echo "fuzz-smoke: $short FAILED, see $findings/"; tail -20 "$findings/log.txt"; fail=1
  else
    grep -E "stat::number_of_executed_units|cov:" "$findings/log.txt" | tail -2 || true
  fi
  rm -rf "$work"
done
exit $fail
