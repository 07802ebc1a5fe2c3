#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Build the guest kernel (bzImage) out of tree with ccache.
#   HT_KCONFIG=default|debug build-kernel.sh
# The .config is regenerated only when the config fragments change, so that
# code edits rebuild incrementally.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# One build at a time: the machine has two cores.
mkdir -p "$HT_CACHE"
exec 9>"$HT_CACHE/build.lock"
flock 9
"$HT_TOP/scripts/prepare-tree.sh" linux
src=$(ht_tree linux)
b=$(ht_kbuild)
mkdir -p "$b"
export CCACHE_DIR=$HT_CACHE/ccache CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-8G}
export CCACHE_BASEDIR=$HT_CACHE KBUILD_BUILD_TIMESTAMP='hetero-tiering'
export KBUILD_BUILD_USER=ht KBUILD_BUILD_HOST=ht
mk() { make -C "$src" O="$b" ARCH=x86_64 CC="ccache gcc" -j"$(nproc)" "$@"; }

frags=("$src/kernel/configs/hetero_tiering.config")
case $HT_KCONFIG in
default) ;;
debug) frags+=("$src/kernel/configs/hetero_tiering_debug.config") ;;
*) ht_die "HT_KCONFIG must be default or debug, not '$HT_KCONFIG'" ;;
esac
cat "${frags[@]}" >"$b/ht.config.new"
if ! cmp -s "$b/ht.config.new" "$b/ht.config" || [ ! -f "$b/.config" ]; then
	ht_log "kernel: configuring ($HT_KCONFIG)"
	ht_quiet "$b/config.log" mk KCONFIG_ALLCONFIG="$b/ht.config.new" allnoconfig
	bad=0
	while IFS='=' read -r sym val; do
		case $sym in CONFIG_*) ;; *) continue ;; esac
		if [ "$val" = n ]; then
			grep -q "^$sym=" "$b/.config" || continue
		else
			grep -qx "$sym=$val" "$b/.config" && continue
		fi
		echo "kernel config: $sym=$val requested, final .config has:" \
			"$(grep -E "^(# )?$sym[= ]" "$b/.config" || echo nothing)" >&2
		bad=1
	done <"$b/ht.config.new"
	[ $bad = 0 ] || { rm -f "$b/.config"; ht_die "kernel config: requested symbols missing"; }
	mv "$b/ht.config.new" "$b/ht.config"
fi
ht_log "kernel: building bzImage ($HT_KCONFIG) in $b"
start=$(date +%s)
ht_quiet "$b/build.log" mk bzImage
ht_log "kernel: done in $(($(date +%s) - start)) s"
mkdir -p "$(ht_out)"
cp "$b/arch/x86/boot/bzImage" "$(ht_out)/bzImage-$HT_KCONFIG"
