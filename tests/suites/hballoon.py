# SPDX-License-Identifier: GPL-2.0
"""HBalloon in a booted guest: resize each tier through QMP and check what
the guest, the host's accounting and the QEMU process see."""
import os
import re
import time

from ht.guest import Guest

MiB = 1 << 20
FMEM, SMEM = 1024 * MiB, 2048 * MiB
SETTLE_S = 60


def node_vmstat(g, node, item):
    out = g.read(f'/sys/devices/system/node/node{node}/vmstat')
    m = re.search(rf'^{item} (\d+)$', out, re.M)
    return int(m.group(1)) if m else None


def qemu_rss(g):
    with open(f'/proc/{g.proc.pid}/status') as f:
        return int(re.search(r'VmRSS:\s+(\d+) kB', f.read()).group(1)) * 1024


def info(g, node):
    return next(n for n in g.qmp.cmd('query-hballoon') if n['node'] == node)


def wait_driver(g):
    deadline = time.monotonic() + 30
    while True:
        try:
            g.qmp.cmd('hballoon-set-size', node=0, size=FMEM)
            return True
        except Exception:  # pylint: disable=broad-except
            if time.monotonic() > deadline:
                return False
            time.sleep(0.2)


def resize(g, node, size):
    """Set a tier's size; wait until the host counts it done.  Returns the
    seconds it took, or None."""
    t0 = time.monotonic()
    g.qmp.cmd('hballoon-set-size', node=node, size=size)
    while time.monotonic() - t0 < SETTLE_S:
        if info(g, node)['actual'] == size:
            return time.monotonic() - t0
        time.sleep(0.05)
    return None


def last_change(g, node, actual, timeout=5):
    """The latest HBALLOON_CHANGE of a node, waiting out the 1 s throttle
    until it reports @actual."""
    last = None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            e = g.qmp.pull_event(wait=0.2)
        except TimeoutError:
            continue
        if e and e['event'] == 'HBALLOON_CHANGE' and e['data']['node'] == node:
            last = e
        if last and last['data']['actual'] == actual:
            break
    g.qmp.clear_events()
    return last


def wait_until(pred, timeout=SETTLE_S):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.05)
    return False


def touch(g, node, size):
    rc, out = g.sh(f'numactl --membind={node} memplace --json {size // MiB}M',
                   timeout=120)
    return rc, out


def run(t):
    run_resize(t)
    run_migration(t)


def run_resize(t):
    with Guest(fmem=f'{FMEM // MiB}M', smem=f'{SMEM // MiB}M',
               qemu_args=['-device', 'virtio-hballoon-pci,id=hb']) as g:
        if not t.ok(wait_driver(g), 'guest driver binds and accepts sizes',
                    g.console()[-3000:]):
            return
        t.eq(g.read('/sys/bus/virtio/devices/virtio0/device'), '0x003c',
             'guest sees device id 60')
        t.eq(g.out('basename $(readlink /sys/bus/virtio/devices/virtio0/driver)').strip(),
             'virtio_hballoon', 'virtio_hballoon driver bound')
        base = {n: g.node_meminfo(n) for n in (0, 1)}
        vm0 = g.vmstat()

        # Make the memory resident on the host first, so discards show.
        touch(g, 0, 700 * MiB)
        rss0 = qemu_rss(g)
        took = resize(g, 0, FMEM // 2)
        t.ok(took is not None, f'FMEM 1 GiB -> 512 MiB reaches target ({took} s)',
             info(g, 0))
        rss1 = qemu_rss(g)
        mi = g.node_meminfo(0)
        t.ok(abs(base[0]['MemTotal'] - mi['MemTotal'] - FMEM // 2) <= 4 * MiB,
             'node 0 MemTotal drops by 512 MiB',
             f'{base[0]["MemTotal"]} -> {mi["MemTotal"]}')
        t.eq(node_vmstat(g, 0, 'nr_hballoon_pages'), FMEM // 2 // 4096,
             'node 0 nr_hballoon_pages = 512 MiB')
        t.eq(node_vmstat(g, 1, 'nr_hballoon_pages'), 0,
             'node 1 balloon untouched')
        t.eq(g.node_meminfo(1)['MemTotal'], base[1]['MemTotal'],
             'node 1 MemTotal unchanged')
        vm1 = g.vmstat()
        t.ok(vm1.get('hballoon_inflate', 0) - vm0.get('hballoon_inflate', 0)
             == FMEM // 2 // 4096, '/proc/vmstat hballoon_inflate counts 512 MiB',
             {k: v for k, v in vm1.items() if k.startswith('hballoon')})
        t.ok(rss0 - rss1 >= 0.6 * FMEM // 2,
             f'QEMU RSS drops by >= 60% of the ballooned 512 MiB '
             f'({(rss0 - rss1) // MiB} MiB)')
        ev = last_change(g, 0, FMEM // 2)
        t.ok(ev and ev['data'] == {'node': 0, 'actual': FMEM // 2},
             'HBALLOON_CHANGE reports node 0 at 512 MiB (after throttling)', ev)

        took = resize(g, 1, SMEM // 2)
        t.ok(took is not None, f'SMEM 2 GiB -> 1 GiB reaches target ({took} s)',
             info(g, 1))
        t.eq(node_vmstat(g, 1, 'nr_hballoon_pages'), SMEM // 2 // 4096,
             'node 1 nr_hballoon_pages = 1 GiB')
        t.eq(node_vmstat(g, 0, 'nr_hballoon_pages'), FMEM // 2 // 4096,
             'node 0 balloon unchanged by the SMEM resize')
        t.ok(abs(base[1]['MemTotal'] - g.node_meminfo(1)['MemTotal'] - SMEM // 2)
             <= 4 * MiB, 'node 1 MemTotal drops by 1 GiB')

        for node, size in ((0, FMEM), (1, SMEM)):
            took = resize(g, node, size)
            t.ok(took is not None, f'node {node} grows back ({took} s)', info(g, node))
            t.eq(g.node_meminfo(node)['MemTotal'], base[node]['MemTotal'],
                 f'node {node} MemTotal back to boot value')
            t.eq(info(g, node)['ballooned'], 0, f'node {node}: host holds nothing')
        rss2 = qemu_rss(g)
        rc, out = touch(g, 0, 700 * MiB)
        t.ok(rc == 0 and qemu_rss(g) - rss2 >= 0.6 * FMEM // 2,
             'deflated memory is usable again and becomes resident', out)
        vm2 = g.vmstat()
        t.ok(vm2['hballoon_deflate'] - vm0.get('hballoon_deflate', 0) ==
             (FMEM // 2 + SMEM // 2) // 4096, 'hballoon_deflate counts 1.5 GiB')

        # Stats reach the host; the last ones may predate the regrowth.
        deadline = time.monotonic() + 5
        n0 = info(g, 0)
        while n0.get('stat-total', 0) <= FMEM // 2 and time.monotonic() < deadline:
            time.sleep(0.2)
            n0 = info(g, 0)
        t.ok('stat-free' in n0 and 0 < n0['stat-free'] <= FMEM and
             n0.get('stat-total', 0) > FMEM // 2, 'guest per-node stats in query-hballoon', n0)

        # Unbind gives everything back; rebind inflates to the target again.
        resize(g, 1, SMEM // 2)
        drv = '/sys/bus/virtio/drivers/virtio_hballoon'
        g.out(f'echo virtio0 > {drv}/unbind')
        t.ok(wait_until(lambda: info(g, 1)['ballooned'] == 0) and
             node_vmstat(g, 1, 'nr_hballoon_pages') == 0,
             'unbind deflates everything and the host sees it', info(g, 1))
        g.out(f'echo virtio0 > {drv}/bind')
        t.ok(wait_until(lambda: info(g, 1)['actual'] == SMEM // 2) and
             node_vmstat(g, 1, 'nr_hballoon_pages') == SMEM // 2 // 4096,
             'rebind inflates to the target again', info(g, 1))
        resize(g, 1, SMEM)

        # Deflate-on-OOM: a node-0 workload larger than what is left.
        resize(g, 0, 256 * MiB)
        rc, out = touch(g, 0, 600 * MiB)
        vm3 = g.vmstat()
        t.ok(rc == 0 and '"0": 153600' in out,
             'workload bound to a shrunken FMEM is not OOM-killed', out + g.console()[-2000:])
        t.ok(vm3.get('hballoon_oom_deflate', 0) > vm2.get('hballoon_oom_deflate', 0),
             'deflate-on-OOM deflated node 0', {k: v for k, v in vm3.items()
                                                 if k.startswith('hballoon')})


def run_migration(t):
    """Migrate a guest with a shrunken SMEM to a file and back."""
    dev = ['-device', 'virtio-hballoon-pci,id=hb']
    kw = dict(fmem=f'{FMEM // MiB}M', smem=f'{SMEM // MiB}M')
    with Guest(**kw, qemu_args=dev) as g:
        if not t.ok(wait_driver(g), 'migration: driver ready'):
            return
        t.ok(resize(g, 1, SMEM // 2) is not None, 'migration: SMEM shrunk to 1 GiB')
        state = g.dir + '.migration'
        g.migrate_to_file(state)
        before = info(g, 1)
    with Guest(**kw, qemu_args=dev, incoming=state) as g:
        after = info(g, 1)
        t.eq({k: after[k] for k in ('target', 'actual', 'ballooned')},
             {k: before[k] for k in ('target', 'actual', 'ballooned')},
             'migration: target, actual and ballooned survive')
        t.eq(node_vmstat(g, 1, 'nr_hballoon_pages'), SMEM // 2 // 4096,
             'migration: the guest still holds its balloon')
        t.ok(resize(g, 1, SMEM) is not None and info(g, 1)['ballooned'] == 0,
             'migration: the destination deflates what the source ballooned',
             info(g, 1))
    os.unlink(state)
