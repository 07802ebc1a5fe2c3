#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# On a machine with a PMU: boot the guest with KVM (the PMU passed through
# by -cpu max), let HPlacement pick its source (auto: PEBS, then IBS, then
# accessed bits), run gups and report whether real PMU samples flow.
#   scripts/check-pebs.sh [--seconds S] [--json FILE]
# Exit status: 0 PMU samples flow; 1 the PMU is there but no sample
# arrived (a bug); 77 nothing to check here: no PMU on the host or no
# usable KVM (the report says which).  Needs `make all` first.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
exec "$HT_PY" "$HT_TOP/scripts/check_pebs.py" "$@"
