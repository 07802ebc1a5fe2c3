#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Run the hetero-tiering test suites; print TAP per suite and one final
line "N passed, N failed".  Exit status is non-zero on any failure.

  tests/run.py [suite ...]      (default: all, in order)
"""
import importlib
import os
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ht import tap  # noqa: E402

SUITES = ['host_tools', 'qtest', 'kunit', 'topology', 'hballoon', 'exchange', 'integrity', 'hplacement', 'tieremu', 'run_vm', 'series']


def main(argv):
    names = argv or SUITES
    passed = failed = skipped = 0
    t0 = time.monotonic()
    for name in names:
        if name not in SUITES:
            print(f'unknown suite {name}; have: {" ".join(SUITES)}')
            return 2
        suite = tap.Suite(name)
        try:
            importlib.import_module(f'suites.{name}').run(suite)
        except Exception:  # pylint: disable=broad-except
            suite.ok(False, f'{name}: suite raised', traceback.format_exc())
        suite.done()
        passed += suite.passed
        failed += suite.failed
        skipped += suite.skipped
    print(f'# all suites took {time.monotonic() - t0:.1f} s')
    print(f'# {skipped} skipped (not counted as passed)')
    print(f'{passed} passed, {failed} failed')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
