# SPDX-License-Identifier: GPL-2.0
"""Checks that a guest's memory management is still sound after a test:
isolated-page counters back to zero, no kernel warnings in the log."""
import re

BAD_LOG = re.compile(r'BUG:|WARNING:|Oops|KASAN|UBSAN|kernel BUG|'
                     r'possible circular locking|bad page|page dumped because|'
                     r'scheduling while atomic|vmstat_refresh: .* -\d')


def isolated(g):
    """nr_isolated_* after folding the per-CPU deltas (stat_refresh also
    warns in the log about any counter that went negative)."""
    g.out('echo 1 > /proc/sys/vm/stat_refresh')
    return {k: int(v) for k, v in re.findall(r'^(nr_isolated_\w+) (-?\d+)$',
                                             g.read('/proc/vmstat'), re.M)}


def bad_log(g):
    """Kernel log lines that report a bug, a warning or a lock problem."""
    return [l for l in g.out('dmesg').splitlines() if BAD_LOG.search(l)]


def sound(t, g, what):
    """Two test points: nr_isolated_* back to 0, kernel log clean."""
    iso = isolated(g)
    t.ok(len(iso) == 2 and not any(iso.values()),
         f'{what}: nr_isolated_anon and nr_isolated_file back to 0', iso)
    bad = bad_log(g)
    t.ok(not bad, f'{what}: kernel log clean', '\n'.join(bad[:40]))
