# SPDX-License-Identifier: GPL-2.0
"""scripts/run-vm: option checking, the command line it builds, and the
KVM-to-TCG fallback (KVM hangs on the project machines)."""
import os
import subprocess
import tempfile
import time

from ht import paths
from ht.guest import Guest, GuestError


def run_vm(*args, timeout=120):
    return subprocess.run([paths.RUN_VM, *args], capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def run(t):
    for args, what in ((['--fmem', '1X'], 'bad size'),
                       (['--smem', '512'], 'needs a unit'),
                       (['--accel', 'hvf'], '--accel must be'),
                       (['--cpus', '0'], 'bad --cpus'),
                       (['--bogus', '1'], 'unknown option'),
                       (['--fmem'], 'needs a value'),
                       (['--maxmem', '2G'], 'must exceed')):
        r = run_vm('--print', *args)
        t.ok(r.returncode != 0 and what in r.stderr,
             f'run-vm {" ".join(args)} is refused ({what})', r.stdout + r.stderr)
    r = run_vm('--print', '--fmem', '512M', '--smem', '3G', '--cpus', '3',
               '--smem-lat', '400', '--smem-bw', '5G')
    cl = r.stdout
    t.ok(r.returncode == 0, 'run-vm --print', r.stderr)
    for want in ('-m 3584M', 'hmat=on', 'memory-backend-ram,id=mem1,size=3072M',
                 'node,nodeid=0,cpus=0-2,memdev=mem0',
                 'node,nodeid=1,memdev=mem1,initiator=0',
                 'target=1,hierarchy=memory,data-type=access-latency,latency=400',
                 'target=1,hierarchy=memory,data-type=access-bandwidth,bandwidth=5G',
                 '-accel tcg'):
        t.ok(want in cl, f'command line has {want}', cl)

    r = run_vm('--print', '--maxmem', '5G')
    t.ok(r.returncode == 0 and '-m 3072M,maxmem=5120M' in r.stdout,
         '--maxmem adds room for memory devices', r.stdout + r.stderr)

    # Asked for KVM, the guest must still come up: through KVM where it
    # works, through the TCG fallback where it hangs or is missing.
    with tempfile.TemporaryDirectory() as d:
        con = os.path.join(d, 'console.log')
        t0 = time.monotonic()
        r = run_vm('--accel', 'kvm', '--kvm-timeout', '5', '--run', 'demo',
                   '--console', con, timeout=180)
        took = time.monotonic() - t0
        with open(con, errors='replace') as f:
            log = f.read()
        t.ok(r.returncode == 0 and 'memory tiers' in log,
             f'--accel kvm reaches the demo ({took:.1f} s; '
             f'{"fell back to TCG" if "falling back" in r.stderr else "KVM"})',
             r.stderr + log[-2000:])

    # The same through the test harness (ACCEL=kvm for a whole make check):
    # the fallback restarts QEMU, and the harness must find the new one's
    # command channel and QMP socket.
    t0 = time.monotonic()
    try:
        with Guest(run_vm_args=['--accel', 'kvm', '--kvm-timeout', '5'],
                   boot_timeout=120) as g:
            accel = g.qmp.cmd('human-monitor-command',
                              **{'command-line': 'info kvm'})
            up = g.out('echo $((6 * 7))').strip()
            fell = 'falling back' in g.qemu_output()
        took = time.monotonic() - t0
        t.ok(up == '42' and ('enabled' in accel) != fell,
             f'an agent guest asked for KVM answers ({took:.1f} s; '
             f'{"fell back to TCG" if fell else "KVM"})', f'{up!r} {accel!r}')
    except GuestError as e:
        t.ok(False, 'an agent guest asked for KVM answers', str(e)[-3000:])
