#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Install what hetero-tiering needs to build and run, from Debian's archive only.
# Idempotent: prints nothing and exits quickly when everything is present.
set -euo pipefail

# redis-tools (redis-server is its redis-check-rdb; the redis-server package
# would start a daemon here) and sysbench: the guest programs of make bench
# figure 7 (scripts/bench/programs.py), copied into its own initramfs.
PKGS_BOOKWORM="build-essential bc bison flex cpio xz-utils dpkg-dev pkgconf
  libelf-dev libssl-dev ccache ninja-build python3 python3-venv
  libglib2.0-dev libpixman-1-dev libfdt-dev zlib1g-dev libnuma-dev liburing-dev
  busybox-static seabios qemu-system-data ipxe-qemu linux-source-6.12
  gnuplot-nox python3-matplotlib jq codespell numactl python3-ply
  redis-tools sysbench"
PKGS_BPO="meson python3-pycotap"

SUDO=
[ "$(id -u)" = 0 ] || SUDO=sudo

missing=()
for p in $PKGS_BOOKWORM $PKGS_BPO; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed' ||
		missing+=("$p")
done
# QEMU 10 needs meson >= 1.5 (bookworm has 1.0).
if ! dpkg --compare-versions "$(dpkg-query -W -f='${Version}' meson 2>/dev/null || echo 0)" ge 1.5; then
	missing+=(meson)
fi

src=/etc/apt/sources.list.d
need_update=0
if ! grep -qs bookworm-backports "$src"/hetero-tiering-*.sources; then
	$SUDO tee "$src/hetero-tiering-bpo.sources" >/dev/null <<SRC
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
	need_update=1
fi
if ! grep -qs trixie "$src"/hetero-tiering-*.sources; then
	$SUDO tee "$src/hetero-tiering-trixie-src.sources" >/dev/null <<SRC
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
	need_update=1
fi

[ ${#missing[@]} -eq 0 ] && [ $need_update = 0 ] && exit 0

echo "deps: installing ${missing[*]:-(apt sources only)}"
$SUDO apt-get update -qq
[ ${#missing[@]} -eq 0 ] && exit 0
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
	$PKGS_BOOKWORM >/dev/null
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
	-t bookworm-backports $PKGS_BPO >/dev/null
echo "deps: done"
