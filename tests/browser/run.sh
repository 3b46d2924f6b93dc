#!/usr/bin/env bash
# Runs both browser tests (compare.mjs, then sanitize-check.mjs) after making sure
# playwright-core is installed from package-lock.json (npm ci; never a browser).
#
# Usage: tests/browser/run.sh [--bulwark PATH] [--corpus DIR] [--limit N]
#                             [--profiles all|quick] [--concurrency N]
# Only these shared options are accepted; they go to both tools. Prints each
# tool's output, then one closing line "browser: N passed, N failed" summing both.
set -u
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here" || exit 2

args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --bulwark|--corpus|--limit|--profiles|--concurrency)
      [ $# -ge 2 ] || { echo "run.sh: $1 needs a value" >&2; exit 2; }
      args+=("$1" "$2"); shift 2 ;;
    --bulwark=*|--corpus=*|--limit=*|--profiles=*|--concurrency=*)
      args+=("$1"); shift ;;
    *) echo "run.sh: unknown option $1" >&2; exit 2 ;;
  esac
done

export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
if [ ! -f node_modules/playwright-core/package.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error || { echo "run.sh: npm ci failed"; echo "browser: 0 passed, 5 failed"; exit 2; }
fi

passed=0
failed=0
tally() { # reads a tool's output on stdin, echoes it, adds its closing line
  local line p f last=""
  while IFS= read -r line; do printf '%s\n' "$line"; last="$line"
    if [[ "$line" =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then p=${BASH_REMATCH[1]}; f=${BASH_REMATCH[2]}; echo "$p $f" > "$tmp"; fi
  done
}
tmp="$(mktemp)"
trap 'rm -f "$tmp"' EXIT

for tool in compare.mjs sanitize-check.mjs; do
  echo "== $tool"
  echo "0 $([ "$tool" = compare.mjs ] && echo 2 || echo 3)" > "$tmp"
  node "$tool" "${args[@]}" 2>&1 | tally
  read -r p f < "$tmp"
  passed=$((passed + p)); failed=$((failed + f))
  echo
done
echo "browser: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
