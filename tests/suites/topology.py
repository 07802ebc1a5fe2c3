# SPDX-License-Identifier: GPL-2.0
"""The default two-tier guest: two nodes, node 1 CPU-less and in a lower
memory tier, the configured HMAT numbers, and memory policy honoured."""
import json
import re

from ht.guest import Guest

FMEM_MIB, SMEM_MIB = 1024, 2048
LAT = {0: 80, 1: 250}
BW_MB = {0: 100 * 1024, 1: 20 * 1024}


def tiers(g):
    """{tier id: [nodes]} from /sys/devices/virtual/memory_tiering."""
    out = g.out('for d in /sys/devices/virtual/memory_tiering/memory_tier*; do '
                'echo "${d##*memory_tier} $(cat $d/nodelist)"; done')
    res = {}
    for line in out.split('\n'):
        if line.strip():
            tier, nodes = line.split()
            res[int(tier)] = nodes
    return res


def run(t):
    with Guest(fmem=f'{FMEM_MIB}M', smem=f'{SMEM_MIB}M') as g:
        t.diag(f'boot to user space: {g.boot_seconds:.2f} s wall (TCG)')
        t.eq(g.read('/sys/devices/system/node/online'), '0-1', 'two nodes online')
        t.eq(g.read('/sys/devices/system/node/has_cpu'), '0', 'only node 0 has CPUs')
        t.eq(g.read('/sys/devices/system/node/node1/cpulist'), '', 'node 1 is CPU-less')
        for n, want in ((0, FMEM_MIB), (1, SMEM_MIB)):
            m = re.search(r'MemTotal:\s+(\d+) kB',
                          g.read(f'/sys/devices/system/node/node{n}/meminfo'))
            mib = int(m.group(1)) // 1024 if m else 0
            t.ok(want * 0.85 <= mib <= want, f'node {n} MemTotal ~{want} MiB',
                 f'got {mib} MiB')
        tr = tiers(g)
        tier_of = {int(n): k for k, v in tr.items() for n in v.split(',') if n.isdigit()}
        t.ok(0 in tier_of and 1 in tier_of and tier_of[1] > tier_of[0],
             'node 1 is in a lower memory tier than node 0', tr)
        for n in (0, 1):
            base = f'/sys/devices/system/node/node{n}/access0/initiators'
            t.eq(int(g.read(f'{base}/read_latency') or -1), LAT[n],
                 f'HMAT read latency of node {n}')
            t.eq(int(g.read(f'{base}/write_latency') or -1), LAT[n],
                 f'HMAT write latency of node {n}')
            t.eq(int(g.read(f'{base}/read_bandwidth') or -1), BW_MB[n],
                 f'HMAT read bandwidth of node {n} (MB/s)')
        for n in (0, 1):
            rc, out = g.sh(f'numactl --membind={n} memplace --json 64M')
            try:
                res = json.loads(out)
            except ValueError:
                res = {}
            t.ok(rc == 0 and res.get('pages') == 16384 and
                 res.get('nodes') == {str(n): 16384},
                 f'numactl --membind={n}: all 64 MiB on node {n} (move_pages)', out)
        t.eq(g.read('/sys/kernel/mm/numa/demotion_enabled'), 'false',
             'demotion is off by default (peers turn it on)')
