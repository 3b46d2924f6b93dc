#!/usr/bin/env bash
# Builds Bulwark twice (plain, and with AddressSanitizer + UBSan) and runs
# every test: unit (cmocka), CLI, hostile-input limits, all shared corpora
# and the headless-Chromium comparisons (300 phishing_pot messages), then every
# libFuzzer harness for BULWARK_FUZZ_SECONDS (default 60) each, each harness
# counting as one test. Ends with one line "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -eq 0 ]; then
	bash scripts/install-deps.sh || exit 2
fi

meson setup build --buildtype=debugoptimized >/dev/null 2>&1 || meson setup --reconfigure build >/dev/null || exit 2
meson setup build-asan -Db_sanitize=address,undefined -Db_lundef=false >/dev/null 2>&1 ||
	meson setup --reconfigure build-asan >/dev/null || exit 2
ninja -C build || exit 2
ninja -C build-asan || exit 2

if [ -f tests/browser/package.json ]; then
	(cd tests/browser && npm ci --no-audit --no-fund --loglevel=error) || exit 2
fi

# Unit and CLI tests on both builds; the corpora under the sanitizers; the
# browser comparisons on the plain build (the browser dominates their time).
meson test -C build --suite unit --suite cli --suite auth --suite milter --suite limits --suite browser --print-errorlogs
meson test -C build-asan --suite unit --suite cli --suite auth --suite milter --suite corpus --suite limits --print-errorlogs

# libFuzzer harnesses (clang, ASan + UBSan), seeded from ../shared/corpora.
bash tests/fuzz/run "${BULWARK_FUZZ_SECONDS:-60}" | tee build/fuzz-summary.txt

python3 - <<'PY'
import json
passed = failed = 0
for d in ("build", "build-asan"):
    try:
        lines = open(f"{d}/meson-logs/testlog.json").read().splitlines()
    except OSError:
        failed += 1
        continue
    for line in lines:
        r = json.loads(line)
        if r["result"] in ("OK", "EXPECTEDFAIL"):
            passed += 1
        elif r["result"] != "SKIP":
            failed += 1
            print(f"FAILED: {d}: {r['name']} ({r['result']})")
try:
    last = open("build/fuzz-summary.txt").read().splitlines()[-1].split()
    passed += int(last[0])
    failed += int(last[2])
    if int(last[2]):
        print("FAILED: fuzz harnesses (see above)")
except (OSError, IndexError, ValueError):
    failed += 1
    print("FAILED: tests/fuzz/run did not finish")
print(f"{passed} passed, {failed} failed")
raise SystemExit(1 if failed else 0)
PY
