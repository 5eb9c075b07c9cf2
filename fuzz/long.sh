#!/usr/bin/env bash
# fuzz/long.sh SECONDS NAME... — long fuzzing runs (not part of CI): each
# harness runs for SECONDS with a persistent corpus build-fuzz/corpus/<name>/
# (seeded once from fuzz/seeds.sh) plus its regression inputs. Crashes go to
# build-fuzz/findings/<name>/. One line per run is appended to
# build-fuzz/fuzz-stats.tsv: name, seconds, executions, coverage (edges),
# features, corpus size, exit status. Sum the seconds per harness for the
# totals reported in docs/testing.md.
set -uo pipefail
secs=$1; shift
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$root/build-fuzz/fuzz
for short in "$@"; do
  corpus=$root/build-fuzz/corpus/$short; findings=$root/build-fuzz/findings/$short
  mkdir -p "$corpus" "$findings"
  [[ -n $(ls -A "$corpus") ]] || "$root/fuzz/seeds.sh" "$short" "$corpus"
  regs=$root/tests/data/fuzz-regressions/$short
  args=("$corpus"); [[ -d $regs ]] && args+=("$regs")
  log=$findings/long-$(date +%s).log
  start=$(date +%s)
  "$bin/fuzz_$short" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=60 \
      -artifact_prefix="$findings/" -print_final_stats=1 "${args[@]}" > "$log" 2>&1
  rc=$?
  el=$(( $(date +%s) - start ))
  execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | awk '{print $2}')
  last=$(grep -E '^#[0-9]+' "$log" | tail -1)
  cov=$(sed -n 's/.*cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.*ft: \([0-9]*\).*/\1/p' <<<"$last")
  corp=$(sed -n 's/.*corp: \([0-9]*\).*/\1/p' <<<"$last")
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$short" "$el" "${execs:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$rc" \
    "$(date -u +%FT%TZ)" >> "$root/build-fuzz/fuzz-stats.tsv"
done
