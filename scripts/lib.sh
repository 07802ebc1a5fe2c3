# SPDX-License-Identifier: GPL-2.0
# Common settings for hetero-tiering scripts; sourced, not run.
# Everything big lives in HT_CACHE, outside the work tree, so that a fresh
# checkout rebuilds incrementally.

HT_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HT_CACHE=${HT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hetero-tiering}
HT_KCONFIG=${HT_KCONFIG:-default}
HT_PY=${HT_PY:-/usr/bin/python3}

ht_linux_version() { dpkg-query -W -f='${Version}' linux-source-6.12; }
# Debian version of the QEMU source we use, from the trixie deb-src index.
ht_qemu_version() {
	apt-cache showsrc qemu 2>/dev/null |
		awk '/^Version: 1:10\.0\./ { sub("^1:", "", $2); print $2 }' |
		sort -V | tail -1
}

# Trees: $HT_CACHE/git/<tree> is a git repository whose commit "pristine"
# is the unpacked Debian source and whose work tree is the patched source.
ht_tree() { echo "$HT_CACHE/git/$1"; }
ht_kbuild() { echo "$HT_CACHE/build/linux-$HT_KCONFIG"; }
ht_qbuild() { echo "$HT_CACHE/build/qemu"; }
ht_out() { echo "$HT_CACHE/out"; }

ht_log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }
ht_die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Run a command quietly, showing its log tail on failure.
ht_quiet() {
	local log=$1; shift
	if ! "$@" >"$log" 2>&1; then
		tail -40 "$log" >&2
		ht_die "failed: $* (full log: $log)"
	fi
}
