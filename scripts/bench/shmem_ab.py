#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""A/B of guest kernels with a tmpfs hot set and FMEM full of tmpfs: a
filler process maps a tmpfs file on node 0 until ~48 MiB of FMEM are
left, then HPlacement is enabled at --budget and gups runs 30 s over a
256 MiB tmpfs file first touched on node 1, 32 MiB of it hot.  Each
kernel is booted fresh per run, kernels interleaved within each run.
Prints each run as it ends and a JSON summary: the hot set's FMEM share
per gups report, the report at which it first reached 90 %, khplacement's
CPU seconds and the counter deltas.  --huge mounts the tmpfs huge=always
(shmem THPs).  --anon-filler fills FMEM with anonymous memory instead (THPs
with --huge): the tmpfs hot set then pairs with anonymous pages.

  scripts/bench/shmem_ab.py --budget 200000 --runs 2 A/bzImage B/bzImage
"""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '../../tests'))
from ht.guest import Guest  # noqa: E402

HPL = '/sys/kernel/mm/hplacement'
COUNTERS = ('hpl_promotions', 'hpl_exchanges', 'hpl_demotions',
            'hpl_migrate_ns', 'exchange_success', 'exchange_fail_type')


def node0_free_mb(g):
    kb = g.out("awk '/MemFree/ {print $4}' "
               '/sys/devices/system/node/node0/meminfo')
    return int(kb) // 1024


def khplacement_s(g):
    f = g.out("for d in /proc/[0-9]*; do read c < $d/comm 2>/dev/null; "
              "[ \"$c\" = khplacement ] && cut -d' ' -f14,15 $d/stat; "
              "done; true").split()
    return (int(f[0]) + int(f[1])) / 100 if f else None


def one_run(kernel, budget, huge, anon_filler=False):
    with Guest(fmem='512M', run_vm_args=['--kernel', kernel],
               qemu_args=['-device', 'virtio-hballoon-pci,id=hb']) as g:
        g.out('mkdir -p /mnt/t && mount -t tmpfs -o size=1G'
              f'{",huge=always" if huge else ""} tmpfs /mnt/t')
        filler = max(node0_free_mb(g) - 48, 64)
        kind = (('--thp ' if huge else '') if anon_filler else
                '--file /mnt/t/cold ')
        g.out(f'gups {kind}--size {filler}M --hot 4K '
              '--hot-frac 1 --membind 0 --duration 90 '
              '> /tmp/filler.json 2>&1 &')
        time.sleep(4)
        v0 = g.vmstat()
        g.out(f'echo {budget} > {HPL}/budget; echo 1 > {HPL}/enabled')
        rc, out = g.sh('gups --file /mnt/t/hot --size 256M --hot 32M '
                       '--membind 1 --hot-at end --duration 30 --json',
                       timeout=300)
        v1 = g.vmstat()
        cpu = khplacement_s(g)
    lines = [json.loads(x) for x in out.splitlines() if x.startswith('{')]
    fmem = [round(x['hot_node_frac_sampled'].get('0', 0.0), 3)
            for x in lines if 'hot_node_frac_sampled' in x]
    return {'kernel': kernel, 'rc': rc, 'fmem': fmem,
            'report_90': next((i + 1 for i, f in enumerate(fmem)
                               if f >= 0.9), None),
            'final': fmem[-1] if fmem else None, 'khplacement_s': cpu,
            'vmstat': {c: v1[c] - v0[c] for c in COUNTERS}}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--budget', type=int, default=10000)
    ap.add_argument('--runs', type=int, default=2)
    ap.add_argument('--huge', action='store_true')
    ap.add_argument('--anon-filler', action='store_true')
    ap.add_argument('kernels', nargs='+')
    a = ap.parse_args()
    runs = []
    for r in range(a.runs):
        for k in a.kernels:
            res = one_run(k, a.budget, a.huge, a.anon_filler)
            print(f'run {r} {k}: 90 % at report {res["report_90"]}, final '
                  f'{res["final"]}, {res["khplacement_s"]} CPU-s, '
                  f'{res["vmstat"]}', flush=True)
            runs.append(res)
    print(json.dumps({'budget': a.budget, 'huge': a.huge,
                      'anon_filler': a.anon_filler, 'runs': runs}))


if __name__ == '__main__':
    main()
