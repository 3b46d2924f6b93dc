#!/usr/bin/env bash
# Installs dependencies, builds, and scans the bundled sample mail with the
# shared tracker lists. Exit status 1 from the scan means "something
# suspicious was found", which is the point of the samples.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
meson setup build --buildtype=debugoptimized >/dev/null 2>&1 || meson setup --reconfigure build >/dev/null
ninja -C build
status=0
./build/bulwark scan --trackers ../shared/intel/trackers samples/ || status=$?
echo "bulwark scan exit status: $status (0 clean, 1 suspicious found, 2 error)"
[ "$status" -le 1 ]
