#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Build the guest initramfs: static busybox, our init and agent, the guest
# tools, and a few Debian programs with their shared libraries.
#   mkinitramfs.sh [output]
set -euo pipefail
. "$(dirname "$0")/lib.sh"

out=${1:-$(ht_out)/initramfs.cpio.gz}
tools=$(ht_out)/guest-tools
root=$HT_CACHE/tmp/initramfs.$$
trap 'rm -rf "$root"' EXIT

make -s -C "$HT_TOP/guest-tools" O="$tools"
rm -rf "$root"
mkdir -p "$root"/{bin,sbin,proc,sys,dev,tmp,root,etc,opt/ht/bin,lib64,usr/bin}
cp /bin/busybox "$root/bin/busybox"
cp "$HT_TOP/tests/guest/init" "$root/init"
cp "$HT_TOP/tests/guest/agent" "$HT_TOP/tests/guest/demo" "$root/opt/ht/"
find "$tools" -maxdepth 1 -type f -perm -u+x -exec cp {} "$root/opt/ht/bin/" \;
[ -d "$HT_TOP/tests/guest/bin" ] && cp "$HT_TOP"/tests/guest/bin/* "$root/opt/ht/bin/"

# Dynamically linked Debian programs, copied with what ldd says they need.
add_prog() {
	local p lib
	p=$(command -v "$1") || ht_die "initramfs: $1 not installed (make deps)"
	cp "$p" "$root/usr/bin/"
	for lib in $(ldd "$p" | grep -o '/[^ ]*'); do
		mkdir -p "$root$(dirname "$lib")"
		cp -L "$lib" "$root$lib"
	done
}
for p in numactl ${HT_INITRAMFS_PROGS:-}; do add_prog "$p"; done

mkdir -p "$(dirname "$out")"
(cd "$root" && find . | cpio -o -H newc -R 0:0 --quiet | gzip -1) >"$out.tmp"
mv "$out.tmp" "$out"
