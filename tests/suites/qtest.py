# SPDX-License-Identifier: GPL-2.0
"""QEMU qtests: ours (virtio-hballoon-test plays a hostile driver,
tier-emulation-test counts a known guest program's accesses) and the
generic ones that every new device and HMP command must survive."""
import os
import re
import subprocess

from ht import paths

QTESTS = ['virtio-hballoon-test', 'tier-emulation-test', 'device-introspect-test',
          'qom-test', 'test-hmp', 'numa-test']


def run(t):
    env = dict(os.environ, QTEST_QEMU_BINARY='./qemu-system-x86_64')
    for name in QTESTS:
        exe = os.path.join(paths.QEMU_BUILD, 'tests', 'qtest', name)
        if not t.ok(os.access(exe, os.X_OK), f'{name} is built', exe):
            continue
        r = subprocess.run([exe, '--tap', '-k'], cwd=paths.QEMU_BUILD, env=env,
                           capture_output=True, text=True, timeout=600)
        points = 0
        for line in r.stdout.splitlines():
            m = re.match(r'^(not )?ok \d+ (\S+)(.*)$', line)
            if not m:
                continue
            points += 1
            if '# SKIP' in m.group(3):
                t.skip(f'{name} {m.group(2)}', m.group(3).split('# SKIP', 1)[1])
            else:
                t.ok(not m.group(1), f'{name} {m.group(2)}', r.stderr[-3000:])
        t.ok(r.returncode == 0 and points > 0, f'{name} exits 0',
             r.stdout[-2000:] + r.stderr[-3000:])
