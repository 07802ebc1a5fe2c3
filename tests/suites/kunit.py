# SPDX-License-Identifier: GPL-2.0
"""KUnit suites built into the guest kernel: boot once, parse the KTAP in
the console log with the kernel's own kunit.py parser."""
import json
import os
import subprocess
import tempfile

from ht import paths
from ht.guest import Guest


# Suites of our series; a suite that silently stops being built fails.
EXPECTED = {'hplacement-range', 'hplacement-budget', 'hplacement-source',
            'hplacement-pmu', 'hplacement-core', 'folio-exchange'}


def walk(group, prefix, cases):
    name = group.get('name', '')
    here = f'{prefix}.{name}' if prefix else name
    for c in group.get('test_cases', []):
        cases.append((f'{here}.{c["name"]}', c['status']))
    for g in group.get('sub_groups', []):
        walk(g, here if prefix or name != 'KUnit Test Group' else '', cases)


def run(t):
    with Guest(run='demo', run_vm_args=['--append', 'kunit.enable=1']) as g:
        g.wait_exit(120)
        log = g.console()
    with tempfile.NamedTemporaryFile('w', suffix='.log', delete=False) as f:
        f.write(log)
    out = f.name + '.json'
    kunit = os.path.join(paths.LINUX_SRC, 'tools/testing/kunit/kunit.py')
    r = subprocess.run([paths.PY, kunit,
                        'parse', f'--json={out}', f.name],
                       capture_output=True, text=True)
    os.unlink(f.name)
    try:
        with open(out) as fj:
            res = json.load(fj)
        os.unlink(out)
    except (OSError, ValueError):
        t.ok(False, 'kunit.py parse produced JSON', r.stdout + r.stderr)
        return
    cases = []
    walk(res, '', cases)
    t.ok(len(cases) > 0, 'KUnit test cases found in the boot log',
         r.stdout + log[-2000:])
    suites = {name.split('.')[0] for name, _ in cases}
    t.ok(not EXPECTED - suites, 'every suite of ours ran',
         sorted(EXPECTED - suites))
    for name, status in cases:
        if status == 'SKIP':
            t.skip(f'kunit {name}', 'skipped by KUnit')
        else:
            t.ok(status == 'PASS', f'kunit {name}', status)
