#!/usr/bin/env bash
# Installs what Bulwark needs to build, test and benchmark on Debian 12, as
# root. Safe to run again: apt-get skips what is already installed.
set -euo pipefail

need_root() {
	if [ "$(id -u)" -ne 0 ]; then
		echo "install-deps: run as root (apt-get install needs it)" >&2
		exit 2
	fi
}

PACKAGES=(
	# build
	build-essential meson ninja-build pkg-config
	# libraries
	libgmime-3.0-dev libglib2.0-dev libgumbo-dev libpsl-dev libidn2-dev
	libjansson-dev libhyperscan-dev zlib1g-dev libcmocka-dev libmagic-dev libicu-dev
	# intel database, scan store, sender history (SQLite); sqlite3 to inspect them
	libsqlite3-dev sqlite3
	# attachments: archive extraction, YARA; test fixtures (7z, zip -P)
	libarchive-dev libyara-dev p7zip-full zip
	# sender authentication: SPF, DKIM, DMARC (+ its Public Suffix List); the auth
	# test suite's DNS server, signer and resolver
	libspf2-dev libopendkim-dev libopendmarc-dev publicsuffix unbound openssl python3-dkim python3-dnspython
	# bulwark-milter (src/milter) and its sandbox, and its tests and benchmark
	# (tests/milter, bench/milter): a real Postfix, swaks to send, miltertest
	# for protocol cases
	libmilter-dev libseccomp-dev postfix swaks miltertest
	# attachment SHA-256 with the CPU's SHA instructions (src/util/sha256.c)
	nettle-dev
	# tests: real browser for the on-open comparison, node to drive it; STIX
	# schema validation of exports
	chromium-headless-shell nodejs python3 time python3-jsonschema
	# benchmarks: the tools we compare against
	rspamd
	# fuzzing
	clang libclang-rt-14-dev
)

need_root
export DEBIAN_FRONTEND=noninteractive
missing=()
for p in "${PACKAGES[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# npm comes with Debian's nodejs only as a separate package; some machines
# have a nodejs build that bundles it. Install Debian's only when absent.
if ! command -v npm >/dev/null 2>&1; then
	apt-get install -y -qq --no-install-recommends npm
fi
# rspamd's package starts a system daemon; the benchmark runs its own.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet rspamd 2>/dev/null; then
	systemctl stop rspamd || true
fi
