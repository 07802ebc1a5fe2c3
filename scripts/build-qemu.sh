#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Build qemu-system-x86_64 (TCG + KVM, libnuma, io_uring, a minimal device
# set) out of tree; meson uses ccache when it is installed.
#   build-qemu.sh [extra ninja targets...]
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# One build at a time: the machine has two cores.
mkdir -p "$HT_CACHE"
exec 9>"$HT_CACHE/build.lock"
flock 9
"$HT_TOP/scripts/prepare-tree.sh" qemu
src=$(ht_tree qemu)
b=$(ht_qbuild)
export CCACHE_DIR=$HT_CACHE/ccache CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-8G}
export CCACHE_BASEDIR=$HT_CACHE

args=(--target-list=x86_64-softmmu --python="$HT_PY"
	--without-default-features --without-default-devices
	--with-devices-x86_64=hetero-tiering
	--enable-tcg --enable-kvm --enable-numa --enable-linux-io-uring
	--disable-docs --disable-install-blobs --disable-werror
	--firmwarepath=/usr/share/qemu:/usr/share/seabios:/usr/lib/ipxe/qemu)
mkdir -p "$b"
if [ "$(cat "$b/ht-configure" 2>/dev/null)" != "${args[*]}" ] ||
	[ ! -f "$b/build.ninja" ]; then
	ht_log "qemu: configuring"
	rm -f "$b/ht-configure"
	(cd "$b" && ht_quiet "$b/configure.log" "$src/configure" "${args[@]}")
	echo "${args[*]}" >"$b/ht-configure"
fi
ht_log "qemu: building qemu-system-x86_64 $*"
start=$(date +%s)
# The qtests make check runs: ours and the generic ones every device must pass.
qtests=(virtio-hballoon-test tier-emulation-test device-introspect-test qom-test test-hmp numa-test)
ht_quiet "$b/ninja.log" ninja -C "$b" qemu-system-x86_64 "${qtests[@]/#/tests/qtest/}" "$@"
# The +ds source ships no firmware: point the build tree's data directory
# (where an uninstalled QEMU and the qtests look) at Debian's.
data=$b/qemu-bundle/usr/local/share/qemu
mkdir -p "$data"
for f in /usr/share/seabios/*.bin /usr/share/qemu/*.bin /usr/share/qemu/*.rom \
	/usr/lib/ipxe/qemu/*.rom; do
	[ -e "$f" ] && [ ! -e "$data/${f##*/}" ] && ln -sf "$f" "$data/${f##*/}"
done
ht_log "qemu: done in $(($(date +%s) - start)) s"
