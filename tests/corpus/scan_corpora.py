#!/usr/bin/env python3
"""Scans every file under ../shared/corpora with the bulwark binary given
(the sanitizer build in CI) and checks that nothing crashed, nothing hung,
no sanitizer spoke, and every message got a report.

Usage: scan_corpora.py BULWARK CORPORA_DIR TRACKER_LISTS_DIR
Each corpus directory is scanned in one bulwark run (so per-message cost
dominates, not process start-up); a run that exceeds its time limit fails.
"""
import json
import os
import subprocess
import sys

TIME_LIMIT_S = 900


def expected_sources(root):
    """Every regular file under root, as bulwark names it (mbox files may
    yield FILE:N sources, which are matched by prefix)."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for f in sorted(filenames):
            if not f.startswith("."):
                out.append(os.path.join(dirpath, f))
    return out


def main():
    bulwark, corpora, trackers = sys.argv[1], sys.argv[2], sys.argv[3]
    passed = failed = 0
    for name in sorted(os.listdir(corpora)):
        root = os.path.join(corpora, name)
        if not os.path.isdir(root):
            continue
        files = expected_sources(root)
        try:
            proc = subprocess.run([bulwark, "scan", "--json", "--no-progress", "--trackers", trackers, root],
                                  capture_output=True, timeout=TIME_LIMIT_S)
        except subprocess.TimeoutExpired:
            print(f"FAIL {name}: no result within {TIME_LIMIT_S} s (hang?)")
            failed += 1
            continue
        problems = []
        stderr = proc.stderr.decode("utf-8", "replace")
        if proc.returncode not in (0, 1):
            problems.append(f"exit status {proc.returncode}")
        for marker in ("AddressSanitizer", "runtime error:", "LeakSanitizer", "UndefinedBehavior"):
            if marker in stderr:
                problems.append(f"sanitizer report ({marker})")
        reports = []
        for n, line in enumerate(proc.stdout.splitlines(), 1):
            try:
                reports.append(json.loads(line))
            except ValueError as e:
                problems.append(f"report line {n} is not JSON: {e}")
                break
        seen = {}
        for r in reports:
            src = r.get("source", "")
            base = src
            if ":" in src and not os.path.exists(src):
                base = src.rsplit(":", 1)[0]
            seen[base] = seen.get(base, 0) + 1
            for field in ("verdict", "score", "findings", "remote_resources", "links",
                          "attachments", "errors", "from", "subject", "message_id"):
                if field not in r:
                    problems.append(f"{src}: report lacks '{field}'")
                    break
        missing = [f for f in files if f not in seen]
        if missing:
            problems.append(f"{len(missing)} files got no report, e.g. {missing[:3]}")
        errors = sum(1 for r in reports if r.get("errors"))
        if problems:
            print(f"FAIL {name}: " + "; ".join(problems[:5]))
            print(stderr[-3000:])
            failed += 1
        else:
            print(f"ok   {name}: {len(files)} files, {len(reports)} reports, "
                  f"{errors} with errors entries")
            passed += 1
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
