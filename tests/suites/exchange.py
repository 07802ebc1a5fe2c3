# SPDX-License-Identifier: GPL-2.0
"""Folio exchange (CONFIG_FOLIO_EXCHANGE) in a booted two-tier guest: the
guest tool xchgtest drives /sys/kernel/debug/exchange/pair and prints TAP,
each of its points becomes one of ours; the kernel log must stay clean.
Then the same with virtio-hballoon's exchange queue, where the host swaps
the contents (the folio copier): every pair the guest counts as swapped by
the copier the host counts too, and exchange_offload=0 turns it off."""
import json
import re

from ht import mmcheck
from ht.guest import Guest

COUNTERS = ['exchange_success', 'exchange_fail_busy', 'exchange_fail_type',
            'exchange_fail_order', 'exchange_tlb_flush', 'copier_swap',
            'copier_copy', 'copier_fail']
PARAMS = '/sys/module/virtio_hballoon/parameters'
HOST = ('requests', 'entries', 'copies', 'bytes')
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


def host_counts(g):
    return g.qmp.cmd('query-hballoon-exchange')


def through_host(t):
    """xchgtest again, every batch swapped by the host."""
    with Guest(qemu_args=['-device', 'virtio-hballoon-pci,id=hb']) as g:
        h = host_counts(g)
        t.ok(h['enabled'] and g.read(f'{PARAMS}/exchange_offload') == 'Y',
             'host: the driver negotiated exchange, offload on by default',
             (h, g.read(f'{PARAMS}/exchange_offload')))
        g.out(f'echo 0 > {PARAMS}/exchange_min_kb')
        v0, h0 = g.vmstat(), host_counts(g)
        rc, out = g.sh('xchgtest', timeout=900)
        v1, h1 = g.vmstat(), host_counts(g)
        d = {k: v1[k] - v0[k] for k in COUNTERS}
        dh = {k: h1[k] - h0[k] for k in HOST}
        t.diag(f'host: vmstat deltas {d}, host counters {dh}')
        points, plan = tap_points(t, re.sub(r'^((?:not )?ok \d+ - )',
                                            r'\1host: ', out, flags=re.M))
        t.ok(rc == 0 and points > 0 and plan == points,
             f'host: xchgtest exits 0, {points} points, plan matches',
             f'rc {rc}\n{out}')
        # shmem THP pairs too, frozen while the guest spins on the request
        # with preemption off; 4 KiB shmem pairs stay on the CPU.
        m = re.search(r'^# shmem: (\d+) pairs of 4 KiB and (\d+) of THPs '
                      'exchanged', out, flags=re.M)
        small, thp = (int(m.group(1)), int(m.group(2))) if m else (-1, -1)
        t.ok(small > 0 and thp > 0 and d['copier_fail'] == 0 and
             d['copier_swap'] == d['exchange_success'] - small,
             f'host: every exchanged pair was swapped by the host, the {thp} '
             f'shmem THP pairs too, the {small} 4 KiB shmem pairs by the CPU '
             '(copier_swap == exchange_success - small shmem, no copier_fail)',
             (d, small, thp))
        t.ok(dh['entries'] == d['copier_swap'] and dh['copies'] == 0 and
             dh['bytes'] >= dh['entries'] * 4096,
             'host: query-hballoon-exchange counts the same pairs', (d, dh))

        # Off: the CPU swaps; on again: 512 pairs in one request.
        bench = 'xchgbench --method exchange --pages 512 --step 512'
        for on in (0, 1):
            g.out(f'echo {on} > {PARAMS}/exchange_offload')
            v0, h0 = g.vmstat(), host_counts(g)
            r = json.loads(g.out(bench, timeout=300).strip().splitlines()[-1])
            v1, h1 = g.vmstat(), host_counts(g)
            dc = v1['copier_swap'] - v0['copier_swap']
            dr = h1['requests'] - h0['requests']
            t.ok(r['pairs_moved'] == 512 and r['corrupt_pages'] == 0 and
                 dc == (512 if on else 0) and dr == on,
                 f'host: exchange_offload={on}: 512 pairs exchanged intact, '
                 f'{dc} by the host in {dr} requests', (r, dc, dr))
        g.out(f'echo 64 > {PARAMS}/exchange_min_kb')
        v0 = g.vmstat()
        g.out('xchgbench --method exchange --pages 64 --step 8', timeout=300)
        dc = g.vmstat()['copier_swap'] - v0['copier_swap']
        t.eq(dc, 0, 'host: batches below exchange_min_kb (8 pairs, 32 KiB) '
             'stay on the CPU')
        mmcheck.sound(t, g, 'host')


def host_off(t):
    """exchange=off: the device offers no exchange queue, the CPU swaps."""
    with Guest(qemu_args=['-device', 'virtio-hballoon-pci,id=hb,exchange=off']) as g:
        v0 = g.vmstat()
        r = json.loads(g.out('xchgbench --method exchange --pages 512 --step 512',
                             timeout=300).strip().splitlines()[-1])
        d = {k: g.vmstat()[k] - v0[k] for k in ('copier_swap', 'exchange_success')}
        h = host_counts(g)
        t.ok(not h['enabled'] and h['requests'] == 0 and d['copier_swap'] == 0 and
             d['exchange_success'] == 512 and r['corrupt_pages'] == 0,
             'exchange=off: not negotiated, 512 pairs swapped by the CPU',
             (h, d, r))


def run(t):
    through_host(t)
    host_off(t)
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
