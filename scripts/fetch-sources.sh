#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Unpack pristine Linux 6.12 and QEMU 10.0 from Debian into git repositories
# in the cache.  Re-used while the Debian version is unchanged.
#   fetch-sources.sh [linux|qemu]...
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# Turn a directory into a repository with one commit, tagged "pristine".
make_pristine_repo() {
	local dir=$1 ver=$2
	git -C "$dir" init -q
	git -C "$dir" config user.name hetero-tiering
	git -C "$dir" config user.email hetero-tiering@localhost
	git -C "$dir" config gc.auto 0
	git -C "$dir" config core.autocrlf false
	# The trees ship their own .gitignore files; pristine means everything.
	git -C "$dir" add -A -f .
	git -C "$dir" commit -q -m "pristine $ver"
	git -C "$dir" tag pristine
	echo "$ver" >"$dir/.git/ht-version"
}

fetch_linux() {
	local ver dir tmp
	ver=$(ht_linux_version) || ht_die "linux-source-6.12 not installed (make deps)"
	dir=$(ht_tree linux)
	[ "$(cat "$dir/.git/ht-version" 2>/dev/null)" = "$ver" ] && return 0
	ht_log "unpacking linux-source-6.12 $ver"
	tmp=$HT_CACHE/tmp/linux.$$
	rm -rf "$tmp" && mkdir -p "$tmp"
	tar -C "$tmp" -xf /usr/src/linux-source-6.12.tar.xz
	rm -rf "$dir" && mkdir -p "$(dirname "$dir")"
	mv "$tmp/linux-source-6.12" "$dir" && rm -rf "$tmp"
	ht_log "committing pristine linux tree"
	make_pristine_repo "$dir" "$ver"
}

fetch_qemu() {
	local ver dir dl
	ver=$(ht_qemu_version)
	[ -n "$ver" ] || ht_die "no qemu/trixie source in apt (make deps)"
	dir=$(ht_tree qemu)
	[ "$(cat "$dir/.git/ht-version" 2>/dev/null)" = "$ver" ] && return 0
	dl=$HT_CACHE/dl/qemu-$ver
	if ! ls "$dl"/*.dsc >/dev/null 2>&1; then
		ht_log "downloading qemu $ver source"
		mkdir -p "$dl"
		(cd "$dl" && apt-get source -qq --download-only "qemu=1:$ver") >"$dl/download.log" 2>&1 || { cat "$dl/download.log"; ht_die "apt-get source failed"; }
	fi
	ht_log "unpacking qemu $ver (dpkg-source -x applies Debian's patches)"
	rm -rf "$dir" "$dl/src"
	(cd "$dl" && dpkg-source -q -x ./*.dsc src) >"$dl/unpack.log" 2>&1 || { cat "$dl/unpack.log"; ht_die "dpkg-source failed"; }
	mkdir -p "$(dirname "$dir")"
	mv "$dl/src" "$dir"
	rm -rf "$dir/.pc"
	make_pristine_repo "$dir" "$ver"
}

[ $# -gt 0 ] || set -- linux qemu
for t; do "fetch_$t"; done
