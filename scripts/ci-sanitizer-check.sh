#!/usr/bin/env bash
# scripts/ci-sanitizer-check.sh DIR — fail if any sanitizer report was written
# to DIR (ASAN_OPTIONS / UBSAN_OPTIONS log_path, set by `make asan-check`).
# Every process of the sanitizer test run logs there, including CLI runs
# inside script-driven tests that expect a failure exit code, so a report
# cannot hide behind an expected non-zero status. Prints each report.
set -uo pipefail
dir=${1:?usage: ci-sanitizer-check.sh DIR}
shopt -s nullglob
logs=("$dir"/*)
if (( ${#logs[@]} == 0 )); then
  echo "sanitizers: no reports (ASan, UBSan, LeakSanitizer) in $dir"
  exit 0
fi
echo "sanitizers: ${#logs[@]} report file(s) in $dir:"
for f in "${logs[@]}"; do
  echo "===== $f"
  head -c 20000 "$f"
done
exit 1
