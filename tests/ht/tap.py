# SPDX-License-Identifier: GPL-2.0
"""TAP output, one block per suite, and the totals line."""
import sys
import time


class Suite:
    """Collects test points of one suite and prints them as TAP."""

    def __init__(self, name):
        self.name = name
        self.n = 0
        self.failed = 0
        self.skipped = 0
        self.start = time.monotonic()
        print(f'# suite {name}', flush=True)
        print('TAP version 13', flush=True)

    def ok(self, cond, desc, diag=None):
        """Record one test point; diag is printed on failure."""
        self.n += 1
        if not cond:
            self.failed += 1
        print(f'{"" if cond else "not "}ok {self.n} - {desc}', flush=True)
        if not cond and diag:
            lines = str(diag).rstrip().splitlines()
            if len(lines) > 50:
                lines = lines[:15] + ['[...]'] + lines[-35:]
            for line in lines:
                print(f'#   {line}', flush=True)
        return bool(cond)

    def skip(self, desc, reason):
        """A test point that could not run: not a pass, not a failure."""
        self.n += 1
        self.skipped += 1
        print(f'ok {self.n} - {desc} # SKIP {reason}', flush=True)

    def eq(self, got, want, desc):
        return self.ok(got == want, desc, f'got {got!r}, want {want!r}')

    def diag(self, msg):
        for line in str(msg).splitlines():
            print(f'# {line}', flush=True)

    @property
    def passed(self):
        return self.n - self.failed - self.skipped

    def done(self):
        print(f'1..{self.n}', flush=True)
        print(f'# suite {self.name}: {self.passed} passed, '
              f'{self.failed} failed, {self.skipped} skipped '
              f'({time.monotonic() - self.start:.1f} s)',
              flush=True)
        sys.stdout.flush()
