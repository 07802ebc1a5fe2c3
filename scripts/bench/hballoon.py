#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Figure 1: resize one tier by 1 GiB with HBalloon, upstream
virtio-balloon and virtio-mem (one device on the node), same QEMU and guest
kernel: throughput, time from the QMP command until the host counts the
target reached, and host transparent huge pages split by the shrink."""
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


class VirtioMem:
    """virtio-mem: node 0 = 1 GiB boot memory + a 1 GiB virtio-mem device,
    so the node has FMEM bytes like the balloon guests; shrinking unplugs."""
    name = 'virtio-mem'
    base = FMEM - DELTA
    device = ['-object', f'memory-backend-ram,id=vmem0,size={DELTA // MiB}M',
              '-device', f'virtio-mem-pci,id=vm0,memdev=vmem0,node=0,'
              f'requested-size={DELTA // MiB}M']
    run_vm_args = ['--maxmem', f'{(FMEM + SMEM + GiB) // MiB}M',
                   '--append', 'memhp_default_state=online_movable']

    def size(self, g):
        return g.qmp.cmd('qom-get', path='/machine/peripheral/vm0',
                         property='size')

    def ready(self, g):
        return self.size(g) == DELTA

    def resize(self, g, size):
        want = size - self.base
        t0 = time.monotonic()
        g.qmp.cmd('qom-set', path='/machine/peripheral/vm0',
                  property='requested-size', value=want)
        return wait_for(lambda: self.size(g) == want,
                        TIMEOUT - (time.monotonic() - t0))


def one_run(dev, i):
    progress(f'{dev.name}: run {i + 1}/{RUNS}: booting')
    base = getattr(dev, 'base', FMEM)
    with Guest(fmem=f'{base // MiB}M', smem=f'{SMEM // MiB}M',
               run_vm_args=getattr(dev, 'run_vm_args', ()),
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
    res = {'figure': 1,
           'title': 'Resize 1 GiB of FMEM: HBalloon vs virtio-balloon vs virtio-mem',
           'env': common.environment(), 'fmem': FMEM, 'smem': SMEM,
           'delta': DELTA, 'devices': {}}
    for dev in (HBalloon(), VirtioBalloon(), VirtioMem()):
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
    hb = res['devices']['virtio-hballoon']
    res['ratios'] = {}
    for peer in ('virtio-balloon', 'virtio-mem'):
        p = res['devices'][peer]
        for k in ('inflate', 'deflate'):
            if p[f'{k}_s']['median'] and hb[f'{k}_s']['median']:
                res['ratios'][f'{k}_throughput_hballoon_over_{peer}'] = (
                    p[f'{k}_s']['median'] / hb[f'{k}_s']['median'])
    common.write_json('fig1-hballoon-resize.json', res)
    plot(res)
    return res


def fmt(v, unit=''):
    return '-' if v is None else f'{v:.3g}{unit}'


def summary(res):
    lines = ['| device | shrink GiB/s (min-max) | grow GiB/s (min-max) '
             '| host THPs split by the shrink |', '|---|---|---|---|']
    for name, d in res['devices'].items():
        i, o, sp = d['inflate_gib_per_s'], d['deflate_gib_per_s'], d['host_thp_splits']
        lines.append(f'| {name} | {fmt(i["median"])} ({fmt(i["min"])}-{fmt(i["max"])}) '
                     f'| {fmt(o["median"])} ({fmt(o["min"])}-{fmt(o["max"])}) '
                     f'| {fmt(sp["median"])} |')
    return lines + [''] + [f'- {k}: {v:.1f}x' for k, v in res['ratios'].items()]


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
        ax.bar(names, med, yerr=[lo, hi], capsize=6,
               color=['tab:blue', 'tab:gray', 'tab:olive'][:len(names)])
        ax.set_yscale('log')
        ax.set_ylabel('GiB/s (log)')
        ax.set_title(f'{label} (shrink)' if label == 'inflate' else f'{label} (grow)')
    fig.suptitle('Shrink/grow 1 GiB of FMEM (TCG guest; median, min-max)')
    common.save_png(fig, 'fig1-hballoon-resize.png')


if __name__ == '__main__':
    r = main()
    print(r['ratios'])
