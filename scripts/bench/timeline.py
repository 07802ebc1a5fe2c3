#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Figure 2: tier sizes over time while the host resizes a running guest
through HBalloon: per node the size the host asked for (target), what the
host counts as usable (actual) and what the guest reports (MemTotal)."""
import re
import time

import common
from common import progress
from ht.guest import Guest

MiB = 1 << 20
FMEM, SMEM = 2048 * MiB, 4096 * MiB
# (seconds from start, node, new size)
SCHEDULE = [(1.0, 0, 1024 * MiB), (2.5, 1, 2048 * MiB), (4.0, 0, 512 * MiB),
            (5.5, 1, 1024 * MiB), (7.0, 0, FMEM), (8.5, 1, SMEM)]
END_S = 10.0
PERIOD_S = 0.05


def guest_memtotal(g):
    out = g.out('cat /sys/devices/system/node/node0/meminfo '
                '/sys/devices/system/node/node1/meminfo')
    return {int(n): int(v) * 1024 for n, v in
            re.findall(r'Node (\d+) MemTotal:\s+(\d+) kB', out)}


def main():
    res = {'figure': 2, 'title': 'Tier sizes while the host resizes them (HBalloon)',
           'env': common.environment(), 'schedule': SCHEDULE, 'samples': []}
    progress('booting the guest')
    with Guest(fmem=f'{FMEM // MiB}M', smem=f'{SMEM // MiB}M',
               qemu_args=['-device', 'virtio-hballoon-pci,id=hb']) as g:
        deadline = time.monotonic() + 60
        while True:
            try:
                g.qmp.cmd('hballoon-set-size', node=0, size=FMEM)
                break
            except Exception:  # pylint: disable=broad-except
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        todo = list(SCHEDULE)
        t0 = time.monotonic()
        while (now := time.monotonic() - t0) < END_S:
            while todo and todo[0][0] <= now:
                _, node, size = todo.pop(0)
                progress(f't={now:.2f} s: node {node} -> {size // MiB} MiB')
                g.qmp.cmd('hballoon-set-size', node=node, size=size)
            q = {n['node']: n for n in g.qmp.cmd('query-hballoon')}
            mt = guest_memtotal(g)
            res['samples'].append({
                't': round(time.monotonic() - t0, 4),
                'target': {n: q[n]['target'] for n in q},
                'actual': {n: q[n]['actual'] for n in q},
                'guest_memtotal': mt})
            time.sleep(PERIOD_S)
    # Time from each command until actual == target on that node.
    lat = []
    for ts, node, size in SCHEDULE:
        done = next((s['t'] for s in res['samples']
                     if s['t'] >= ts and s['actual'][node] == size), None)
        lat.append({'t': ts, 'node': node, 'size': size,
                    'settled_after_s': None if done is None else round(done - ts, 4)})
    res['settle'] = lat
    progress(f'settle times (sample period {PERIOD_S} s): '
             f'{[x["settled_after_s"] for x in lat]}')
    common.write_json('fig2-resize-timeline.json', res)
    plot(res)
    return res


def summary(res):
    return ['Seconds from each hballoon-set-size until the host counted it done '
            f'(sampled every {PERIOD_S} s):', ''] + [
        f'- t={x["t"]} s node {x["node"]} -> {x["size"] // MiB} MiB: '
        f'{x["settled_after_s"]} s' for x in res['settle']]


def plot(res):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    t = [s['t'] for s in res['samples']]
    fig, ax = plt.subplots(figsize=(10, 4.5))
    for node, color in ((0, 'tab:blue'), (1, 'tab:orange')):
        name = 'FMEM (node 0)' if node == 0 else 'SMEM (node 1)'
        ax.step(t, [s['target'][node] / MiB for s in res['samples']], where='post',
                color=color, linestyle='--', alpha=0.6, label=f'{name} target')
        ax.plot(t, [s['actual'][node] / MiB for s in res['samples']], color=color,
                label=f'{name} actual (host)')
        ax.plot(t, [s['guest_memtotal'][node] / MiB for s in res['samples']],
                color=color, linestyle=':', label=f'{name} MemTotal (guest)')
    ax.set_xlabel('seconds (TCG guest)')
    ax.set_ylabel('MiB')
    ax.set_title(res['title'])
    ax.legend(fontsize=7, ncol=2)
    common.save_png(fig, 'fig2-resize-timeline.png')


if __name__ == '__main__':
    main()
