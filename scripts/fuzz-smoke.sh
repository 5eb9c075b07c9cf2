#!/usr/bin/env bash
# scripts/fuzz-smoke.sh [DIR [SECONDS]] — run every libFuzzer harness in DIR
# (default build-fuzz/fuzz) for SECONDS each (default 60) over a scratch
# corpus: the seeds fuzz/seeds.sh generates, fuzz/corpus/<name>/ if present,
# and the regression inputs tests/data/fuzz-regressions/<name>/. A crash,
# sanitizer report, leak, timeout (-timeout=30 s per input, generous for a
# loaded machine) or out-of-memory (2 GiB) leaves its input in
# build-fuzz/findings/<name>/ and fails the run. Every fuzz/fuzz_*.c must have
# a harness binary. Ends with "fuzz-smoke: N passed, M failed".
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-$root/build-fuzz/fuzz}
secs=${2:-60}
pass=0; fail=0
for src in "$root"/fuzz/fuzz_*.c; do
  name=$(basename "$src" .c); short=${name#fuzz_}
  h=$dir/$name
  if [[ ! -x $h ]]; then
    echo "fuzz-smoke: $short: no harness binary $h"; fail=$((fail + 1)); continue
  fi
  work=$(mktemp -d); findings=$root/build-fuzz/findings/$short; mkdir -p "$findings"
  [[ -d $root/fuzz/corpus/$short ]] && cp -r "$root/fuzz/corpus/$short/." "$work/" 2>/dev/null
  "$root/fuzz/seeds.sh" "$short" "$work" || echo "fuzz-smoke: $short: seed generation failed (fuzzing without)"
  regs=$root/tests/data/fuzz-regressions/$short
  args=("$work"); [[ -d $regs ]] && args+=("$regs")
  log=$findings/smoke.log
  if "$h" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=30 -artifact_prefix="$findings/" \
        -print_final_stats=1 "${args[@]}" > "$log" 2>&1; then
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    last=$(grep -E '^#[0-9]+' "$log" | tail -1)
    cov=$(sed -n 's/.*cov: \([0-9]*\).*/\1/p' <<<"$last"); ft=$(sed -n 's/.*ft: \([0-9]*\).*/\1/p' <<<"$last")
    echo "fuzz-smoke: $short ok: ${secs}s, ${execs:-?} executions, cov ${cov:-?}, ft ${ft:-?}"
    pass=$((pass + 1))
  else
    echo "fuzz-smoke: $short FAILED (input and log in $findings/):"
    grep -E "ERROR|SUMMARY|ALARM|Test unit written" "$log" | head -5
    tail -40 "$log"
    fail=$((fail + 1))
  fi
  rm -rf "$work"
done
echo "fuzz-smoke: $pass passed, $fail failed"
(( fail == 0 && pass > 0 ))
