#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Turn patches/<tree>/*.patch plus our new files (kernel/ or qemu/) into a
# series of commits on top of the pristine Debian tree, tag the tip
# "patched" and check it out.  Git rewrites only the files whose content
# changed, so incremental builds stay incremental, and `make series` exports
# exactly the commits that were built.
#
# Each patch is a mail as git format-patch writes it.  Header lines
#   X-Hetero-Overlay: <path under kernel/ or qemu/>
# assign new files (or whole directories) to that patch; its diff part holds
# the edits to upstream files and is applied with fuzz, so that it keeps
# applying across Debian point releases.  Every new file must be assigned.
#   prepare-tree.sh linux|qemu
set -euo pipefail
. "$(dirname "$0")/lib.sh"

t=${1:?usage: prepare-tree.sh linux|qemu}
case $t in
linux) overlay=$HT_TOP/kernel ;;
qemu) overlay=$HT_TOP/qemu ;;
*) ht_die "unknown tree $t" ;;
esac
"$HT_TOP/scripts/fetch-sources.sh" "$t"
repo=$(ht_tree "$t")
scratch=$HT_CACHE/tmp/apply-$t.$$
trap 'rm -rf "$scratch"' EXIT
rm -rf "$scratch" && mkdir -p "$scratch"
export GIT_DIR=$repo/.git GIT_INDEX_FILE=$scratch/index
# Fixed dates: the same inputs give the same commits.
export GIT_COMMITTER_NAME=hetero-tiering GIT_COMMITTER_EMAIL=hetero-tiering@localhost
export GIT_COMMITTER_DATE='2026-01-01T00:00:00Z'

find_overlay() { [ -d "$overlay" ] && (cd "$overlay" && find . -type f -printf '%P\n' | sort); }
find_overlay >"$scratch/unclaimed" || :
: >"$scratch/claimed"

add_file() { # add_file <path in tree> <source file>
	local mode=100644
	[ -x "$2" ] && mode=100755
	printf '%s %s\t%s\n' "$mode" "$(git hash-object -w "$2")" "$1" |
		git update-index --add --index-info
}

parent=$(git rev-parse pristine)
shopt -s nullglob
for p in "$HT_TOP/patches/$t"/*.patch; do
	name=$(basename "$p")
	git read-tree "$parent"
	git mailinfo "$scratch/msg" "$scratch/diff" <"$p" >"$scratch/info" ||
		ht_die "$name: not a patch mail"
	subject=$(sed -n 's/^Subject: //p' "$scratch/info")
	[ -n "$subject" ] || ht_die "$name: no Subject"

	# New files this patch adds.
	sed -n '/^$/q; s/^X-Hetero-Overlay:[[:space:]]*//p' "$p" | while read -r claim; do
		claim=${claim%/}
		grep -E "^$(printf '%s' "$claim" | sed 's/[.[\*^$]/\\&/g')(/|$)" \
			"$scratch/unclaimed" >"$scratch/files" ||
			ht_die "$name: X-Hetero-Overlay $claim matches no unassigned file"
		while read -r f; do add_file "$f" "$overlay/$f"; done <"$scratch/files"
		cat "$scratch/files" >>"$scratch/claimed"
		grep -vxF -f "$scratch/files" "$scratch/unclaimed" >"$scratch/rest" || :
		mv "$scratch/rest" "$scratch/unclaimed"
	done

	# Edits to upstream files, applied with fuzz to a scratch copy.
	if grep -q '^--- ' "$scratch/diff"; then
		rm -rf "$scratch/w" && mkdir -p "$scratch/w"
		sed -n 's|^--- a/\([^[:space:]]*\).*|\1|p' "$scratch/diff" | sort -u |
			while read -r f; do
				mkdir -p "$scratch/w/$(dirname "$f")"
				git show ":$f" >"$scratch/w/$f" 2>/dev/null ||
					ht_die "$name: $f is not in the $t tree"
			done
		if ! out=$(patch -d "$scratch/w" -p1 -F2 -s --no-backup-if-mismatch \
			-r - <"$scratch/diff" 2>&1); then
			printf '%s\n' "$out" >&2
			ht_die "$name does not apply to $t $(cat "$repo/.git/ht-version")"
		fi
		[ -n "$out" ] && printf '%s: %s\n' "$name" "$out" >&2
		(cd "$scratch/w" && find . -type f -printf '%P\n') | while read -r f; do
			add_file "$f" "$scratch/w/$f"
		done
	fi

	tree=$(git write-tree)
	parent=$(GIT_AUTHOR_NAME=$(sed -n 's/^Author: //p' "$scratch/info") \
		GIT_AUTHOR_EMAIL=$(sed -n 's/^Email: //p' "$scratch/info") \
		GIT_AUTHOR_DATE=$GIT_COMMITTER_DATE \
		git commit-tree "$tree" -p "$parent" \
		-F <(printf '%s\n\n' "$subject"; cat "$scratch/msg"))
done
if [ -s "$scratch/unclaimed" ]; then
	sed 's/^/  /' "$scratch/unclaimed" >&2
	ht_die "files under ${overlay#"$HT_TOP"/} that no patches/$t/*.patch claims (X-Hetero-Overlay)"
fi
git tag -f patched "$parent" >/dev/null
unset GIT_INDEX_FILE
# Only files that differ from the current checkout are written.
git --work-tree="$repo" checkout -q -f --detach patched
