#!/usr/bin/env bash
# Regenerate the "Option reference" part of docs/cli.md from the binary's own
# --help texts, so the help is written once (in src/cmd_*.c) and the docs
# cannot drift. Usage: scripts/gen-cli-docs.sh [path/to/embeval] [--check]
# With --check, exit 1 if docs/cli.md is out of date (used by CTest).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$root/build/embeval}
mode=${2:-write}
doc=$root/docs/cli.md
begin='<!-- BEGIN GENERATED OPTION REFERENCE (scripts/gen-cli-docs.sh) -->'
end='<!-- END GENERATED OPTION REFERENCE -->'

gen() {
  echo "$begin"
  echo
  echo "## Option reference"
  echo
  echo "Generated from \`embeval <command> --help\`; do not edit by hand."
  echo
  echo '```'
  "$bin" --help
  echo '```'
  for cmd in $("$bin" --help | awk '/^Commands:/{f=1;next} f&&/^  [a-z]/{print $1} f&&/^$/{exit}'); do
    echo
    echo "### embeval $cmd"
    echo
    echo '```'
    "$bin" "$cmd" --help
    echo '```'
  done
  echo
  echo "$end"
}

new=$(mktemp)
trap 'rm -f "$new"' EXIT
if grep -qF "$begin" "$doc"; then
  awk -v b="$begin" '$0==b{exit} {print}' "$doc" > "$new"
else
  cat "$doc" > "$new"
  echo >> "$new"
fi
gen >> "$new"
if [[ "$mode" == "--check" ]]; then
  if ! cmp -s "$new" "$doc"; then
    echo "docs/cli.md is out of date: run scripts/gen-cli-docs.sh" >&2
    diff -u "$doc" "$new" | head -40 >&2 || true
    exit 1
  fi
  echo "docs/cli.md: 1 passed, 0 failed"
else
  cp "$new" "$doc"
fi
