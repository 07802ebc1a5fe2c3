# SPDX-License-Identifier: GPL-2.0
"""Guest tools built and unit-tested on the host."""
import json
import os
import subprocess
import tempfile

from ht import paths


def run(t):
    tmp = tempfile.mkdtemp(prefix='ht-host-')
    tools = os.path.join(paths.OUT, 'guest-tools')
    r = subprocess.run(['make', '-s', '-C', os.path.join(paths.TOP, 'guest-tools'),
                        f'O={tools}'], capture_output=True, text=True)
    if not t.ok(r.returncode == 0, 'guest tools build', r.stdout + r.stderr):
        return
    exe = os.path.join(tmp, 'test_htutil')
    r = subprocess.run(['gcc', '-O2', '-std=gnu11', '-Wall', '-Wextra', '-Werror',
                        '-o', exe, os.path.join(paths.TOP, 'tests/host/test_htutil.c'),
                        os.path.join(paths.TOP, 'guest-tools/lib/htutil.c')],
                       capture_output=True, text=True)
    if not t.ok(r.returncode == 0, 'host unit tests build', r.stderr):
        return
    r = subprocess.run([exe], capture_output=True, text=True)
    points = 0
    for line in r.stdout.splitlines():
        if line.startswith(('ok ', 'not ok ')):
            points += 1
            desc = line.split(' - ', 1)[-1]
            t.ok(line.startswith('ok '), f'htutil: {desc}')
    t.ok(r.returncode == 0 and points > 0, 'htutil: test program exits 0',
         r.stdout + r.stderr)

    r = subprocess.run([os.path.join(tools, 'memplace'), '--json', '8M'],
                       capture_output=True, text=True)
    try:
        res = json.loads(r.stdout)
    except ValueError:
        res = {}
    t.ok(res.get('pages') == 2048 and sum(res.get('nodes', {}).values()) == 2048,
         'memplace: 8 MiB touched = 2048 resident pages', r.stdout + r.stderr)
    for bad in (['0'], ['12Q'], [], ['1M', '2M']):
        r = subprocess.run([os.path.join(tools, 'memplace'), *bad],
                           capture_output=True, text=True)
        t.ok(r.returncode == 2 and r.stderr, f'memplace rejects {bad}')
