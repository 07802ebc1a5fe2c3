# SPDX-License-Identifier: GPL-2.0
"""Folio exchange (CONFIG_FOLIO_EXCHANGE) in a booted two-tier guest: the
guest tool xchgtest drives /sys/kernel/debug/exchange/pair and prints TAP,
each of its points becomes one of ours; the kernel log must stay clean."""
import re

from ht import mmcheck
from ht.guest import Guest

COUNTERS = ['exchange_success', 'exchange_fail_busy', 'exchange_fail_type',
            'exchange_fail_order', 'exchange_tlb_flush']
# What the kernel prints when something went wrong underneath a passing test.


def tap_points(t, out):
    """Turn xchgtest's TAP into test points; returns (points, plan)."""
    points = 0
    for line in out.splitlines():
        m = re.match(r'^(not )?ok \d+ - (.*?)(?: # SKIP (.*))?$', line)
        if not m:
            continue
        points += 1
        if m.group(3) is not None:
            t.skip(f'xchgtest: {m.group(2)}', m.group(3))
        else:
            t.ok(m.group(1) is None, f'xchgtest: {m.group(2)}',
                 '\n'.join(l for l in out.splitlines() if l.startswith('#')))
    plan = re.search(r'^1\.\.(\d+)', out, re.M)
    return points, int(plan.group(1)) if plan else None


def run(t):
    with Guest() as g:
        vmstat = g.read('/proc/vmstat')
        names = {line.split()[0] for line in vmstat.splitlines() if line}
        t.ok(all(c in names for c in COUNTERS),
             '/proc/vmstat has the exchange_* counters',
             [c for c in COUNTERS if c not in names])
        t.eq(g.out('stat -c %a /sys/kernel/debug/exchange/pair').strip(), '200',
             'debugfs exchange/pair exists, write-only for root')
        rc, out = g.sh('xchgtest', timeout=900)
        for line in out.splitlines():
            if line.startswith('# '):
                t.diag(f'xchgtest: {line[2:]}')
        points, plan = tap_points(t, out)
        t.ok(rc == 0 and points > 0 and plan == points,
             f'xchgtest exits 0, {points} points, plan matches', f'rc {rc}\n{out}')
        # Every isolated folio was put back, and no counter went negative
        # (stat_refresh folds the per-CPU deltas and warns about those).
        iso = mmcheck.isolated(g)
        t.ok(len(iso) == 2 and not any(iso.values()),
             'nr_isolated_anon and nr_isolated_file back to 0', iso)
        bad = mmcheck.bad_log(g)
        t.ok(not bad, 'kernel log has no BUG, WARNING, KASAN or lockdep report',
             '\n'.join(bad[:40]))
