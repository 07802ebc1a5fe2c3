#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Figure 1: resize one tier by 1 GiB with HBalloon and with upstream
virtio-balloon, same QEMU and guest kernel: throughput, time from the QMP
command until the host counts the target reached, and host transparent huge
pages that survive the inflate."""
import os
import re
import time

import common
from common import progress
from ht.guest import Guest

MiB = 1 << 20
GiB = 1 << 30
FMEM, SMEM = 2 * GiB, 1 * GiB
DELTA = 1 * GiB
RUNS = int(os.environ.get('HT_BENCH_RUNS', '3'))
TIMEOUT = 600


def anon_huge(g):
    with open(f'/proc/{g.proc.pid}/smaps_rollup') as f:
        return int(re.search(r'AnonHugePages:\s+(\d+) kB', f.read()).group(1)) * 1024


def host_thp_splits():
    """Host-wide count of THPs split by a partial unmap or discard."""
    with open('/proc/vmstat') as f:
        return int(re.search(r'^thp_split_pmd (\d+)$', f.read(), re.M).group(1))


def wait_for(pred, timeout=TIMEOUT):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if pred():
            return time.monotonic() - t0
        time.sleep(0.001)
    return None


class HBalloon:
    name = 'virtio-hballoon'
    device = ['-device', 'virtio-hballoon-pci,id=hb']

    def ready(self, g):
        try:
            g.qmp.cmd('hballoon-set-size', node=0, size=FMEM)
            return True
        except Exception:  # pylint: disable=broad-except
            return False

    def resize(self, g, size):
        t0 = time.monotonic()
        g.qmp.cmd('hballoon-set-size', node=0, size=size)
        return wait_for(lambda: next(n for n in g.qmp.cmd('query-hballoon')
                                     if n['node'] == 0)['actual'] == size,
                        TIMEOUT - (time.monotonic() - t0))


class VirtioBalloon:
    """Upstream balloon: one balloon for the VM; asked for a logical VM size."""
    name = 'virtio-balloon'
    device = ['-device', 'virtio-balloon-pci,id=vb']

    def ready(self, g):
        return g.out('ls /sys/bus/virtio/drivers/virtio_balloon 2>/dev/null '
                     '| grep -c virtio || true').strip() not in ('', '0')

    def resize(self, g, size):
        want = size + SMEM      # the logical size of the whole VM
        t0 = time.monotonic()
        g.qmp.cmd('balloon', value=want)
        return wait_for(lambda: g.qmp.cmd('query-balloon')['actual'] == want,
                        TIMEOUT - (time.monotonic() - t0))


def one_run(dev, i):
    progress(f'{dev.name}: run {i + 1}/{RUNS}: booting')
    with Guest(fmem=f'{FMEM // MiB}M', smem=f'{SMEM // MiB}M',
               qemu_args=dev.device, boot_timeout=120) as g:
        if wait_for(lambda: dev.ready(g), 60) is None:
            raise RuntimeError(f'{dev.name}: guest driver not ready')
        # Make node 0 resident (THP-backed where the host allows) first.
        g.out(f'numactl --membind=0 memplace {(FMEM - 300 * MiB) // MiB}M',
              timeout=300)
        thp0 = anon_huge(g)
        split0 = host_thp_splits()
        progress(f'{dev.name}: inflating 1 GiB')
        t_in = dev.resize(g, FMEM - DELTA)
        thp1 = anon_huge(g)
        splits = host_thp_splits() - split0
        progress(f'{dev.name}: deflating 1 GiB')
        t_out = dev.resize(g, FMEM)
        return {'inflate_s': t_in, 'deflate_s': t_out,
                'thp_before': thp0, 'thp_after_inflate': thp1,
                'host_thp_splits_during_inflate': splits}


def main():
    res = {'figure': 1, 'title': 'Resize 1 GiB of FMEM: HBalloon vs virtio-balloon',
           'env': common.environment(), 'fmem': FMEM, 'smem': SMEM,
           'delta': DELTA, 'devices': {}}
    for dev in (HBalloon(), VirtioBalloon()):
        runs = [one_run(dev, i) for i in range(RUNS)]
        d = {}
        for k in ('inflate_s', 'deflate_s'):
            d[k] = common.summary([r[k] for r in runs])
            d[k.replace('_s', '_gib_per_s')] = common.summary(
                [DELTA / GiB / r[k] if r[k] else None for r in runs])
        d['thp_kept_fraction'] = common.summary(
            [r['thp_after_inflate'] / r['thp_before'] if r['thp_before'] else None
             for r in runs])
        d['host_thp_splits'] = common.summary(
            [r['host_thp_splits_during_inflate'] for r in runs])
        d['runs'] = runs
        res['devices'][dev.name] = d
        progress(f'{dev.name}: inflate {d["inflate_s"]["median"]} s, '
                 f'deflate {d["deflate_s"]["median"]} s')
    hb, vb = res['devices']['virtio-hballoon'], res['devices']['virtio-balloon']
    res['ratios'] = {
        'inflate_throughput_hballoon_over_virtio_balloon':
            vb['inflate_s']['median'] / hb['inflate_s']['median'],
        'deflate_throughput_hballoon_over_virtio_balloon':
            vb['deflate_s']['median'] / hb['deflate_s']['median'],
    }
    common.write_json('fig1-hballoon-resize.json', res)
    plot(res)
    return res


def plot(res):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    names = list(res['devices'])
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, key, label in ((axes[0], 'inflate_gib_per_s', 'inflate'),
                           (axes[1], 'deflate_gib_per_s', 'deflate')):
        med = [res['devices'][n][key]['median'] for n in names]
        lo = [m - res['devices'][n][key]['min'] for n, m in zip(names, med)]
        hi = [res['devices'][n][key]['max'] - m for n, m in zip(names, med)]
        ax.bar(names, med, yerr=[lo, hi], capsize=6, color=['tab:blue', 'tab:gray'])
        ax.set_yscale('log')
        ax.set_ylabel('GiB/s (log)')
        ax.set_title(f'{label} 1 GiB of FMEM')
    fig.suptitle('HBalloon vs virtio-balloon (TCG guest; median, min-max)')
    fig.tight_layout()
    path = os.path.join(common.results_dir(), 'fig1-hballoon-resize.png')
    fig.savefig(path, dpi=120)
    progress(f'wrote {path}')


if __name__ == '__main__':
    r = main()
    print(r['ratios'])
