#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""make demo: boot the two-tier guest with HBalloon, show its nodes and
memory tiers, then resize each tier from the host through QMP and show what
the guest and the host see."""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', 'tests'))
from ht.guest import Guest  # noqa: E402

MiB = 1 << 20


def size(s):
    n = int(s[:-1])
    return n << {'M': 20, 'G': 30}[s[-1].upper()]


def show(g, what):
    print(f'\n--- {what}')
    for n in g.qmp.cmd('query-hballoon'):
        print(f'host:  node {n["node"]} ({n["memdev"]}): total {n["total"] // MiB} MiB, '
              f'guest may use {n["target"] // MiB} MiB, can use {n["actual"] // MiB} MiB, '
              f'host took back {n["ballooned"] // MiB} MiB')
    print(g.out('for n in 0 1; do echo "guest: node$n $(grep MemTotal '
                '/sys/devices/system/node/node$n/meminfo | cut -c8-), '
                '$(grep nr_hballoon_pages /sys/devices/system/node/node$n/vmstat)"; done'),
          end='')


def resize(g, node, new):
    print(f'\n>>> QMP hballoon-set-size node={node} size={new // MiB} MiB')
    t0 = time.monotonic()
    g.qmp.cmd('hballoon-set-size', node=node, size=new)
    while next(n for n in g.qmp.cmd('query-hballoon')
               if n['node'] == node)['actual'] != new:
        time.sleep(0.001)
    print(f'    done in {(time.monotonic() - t0) * 1000:.1f} ms')


def main():
    fmem, smem = os.environ.get('FMEM', '1G'), os.environ.get('SMEM', '2G')
    cpus = os.environ.get('CPUS', '2')
    print(f'booting the two-tier guest (FMEM {fmem}, SMEM {smem}, {cpus} vCPUs, TCG)...')
    with Guest(fmem=fmem, smem=smem, cpus=int(cpus),
               run_vm_args=['--accel', os.environ.get('ACCEL', 'tcg')],
               qemu_args=['-device', 'virtio-hballoon-pci,id=hb']) as g:
        print(f'guest user space up after {g.boot_seconds:.1f} s')
        print(g.out('/opt/ht/demo'), end='')
        deadline = time.monotonic() + 30
        while True:
            try:
                g.qmp.cmd('hballoon-set-size', node=0, size=size(fmem))
                break
            except Exception:  # pylint: disable=broad-except
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        show(g, 'at boot')
        resize(g, 0, size(fmem) // 2)
        resize(g, 1, size(smem) // 2)
        show(g, 'FMEM and SMEM shrunk to half')
        resize(g, 0, size(fmem))
        resize(g, 1, size(smem))
        show(g, 'both tiers grown back')
        print('\nHMP "info hballoon":')
        print(g.qmp.cmd('human-monitor-command', **{'command-line': 'info hballoon'}),
              end='')


if __name__ == '__main__':
    main()
