#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Export the Linux and QEMU series as upstream-style mails with a cover
# letter: git format-patch of the commits prepare-tree.sh built.
#   series.sh [output dir] [linux|qemu]...
set -euo pipefail
. "$(dirname "$0")/lib.sh"

out=${1:-$(ht_out)/series}
shift || :
[ $# -gt 0 ] || set -- linux qemu
for t; do
	"$HT_TOP/scripts/prepare-tree.sh" "$t"
	repo=$(ht_tree "$t")
	cover=$HT_TOP/patches/$t/cover-letter
	[ -f "$cover" ] || ht_die "missing $cover"
	git -C "$repo" branch -f ht-series patched >/dev/null
	git -C "$repo" config branch.ht-series.description \
		"$(cat "$cover"; printf '\nBased on Debian %s %s.\n' \
			"$([ "$t" = linux ] && echo linux-source-6.12 || echo qemu)" \
			"$(cat "$repo/.git/ht-version")")"
	rm -rf "${out:?}/$t" && mkdir -p "$out/$t"
	git -C "$repo" -c user.name=hetero-tiering -c user.email=hetero-tiering@example.org \
		format-patch -q --cover-letter --cover-from-description=subject \
		--subject-prefix="PATCH" -o "$out/$t" pristine..ht-series
	ht_log "series: $(find "$out/$t" -name '*.patch' | wc -l) mails for $t in $out/$t"
done
