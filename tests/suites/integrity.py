# SPDX-License-Identifier: GPL-2.0
"""Integrity of user memory that the kernel moves: the guest tool integrity
runs checksummed writer threads over 64 MiB (THP-backed and 4 KiB regions on
both nodes) while folio exchanges through debugfs, move_pages, fork, munmap,
mremap, mprotect and THP splits and collapses race with them, and HPlacement
promotes and exchanges the hot set into an FMEM filled with cold pages and
demotes to keep its headroom free.
No page may ever differ from what its writer last wrote; every racer must
have acted; the exchange counters must agree with what was asked; the
kernel log must stay clean.  With HT_KCONFIG=debug (make check KCONFIG=debug
SUITES=integrity) the same runs on the KASAN/lockdep/DEBUG_VM kernel, and
kmemleak is asked too.  A page corrupted on purpose must be caught.
The whole run is repeated with virtio-hballoon's exchange queue, where the
host swaps exchanged folios and copies HPlacement's migrations (every size,
exchange_min_kb=0): the same checks, and the host must have moved what the
guest counts as moved by the copier; and once more over shmem, whose pairs
stay frozen (page cache lookups spinning on them) while the host swaps
them."""
import json
import os
import re
import time

from ht import mmcheck, paths
from ht.guest import Guest

D = '/sys/kernel/mm/hplacement'
PARAMS = '/sys/module/virtio_hballoon/parameters'
DURATION = 30
SIZE_MB = 64
FILL_FREE = '16M'
HEADROOM = 12 << 20      # HPlacement keeps it free: demotes when below
MIN_PAIRS = 100          # debugfs pairs exchanged, at the very least
ARGS = f'--size {SIZE_MB}M --threads 2 --all --fill-fmem {FILL_FREE} --seed 7'


def summary(out):
    for line in out.splitlines():
        if line.startswith('{"summary"'):
            try:
                return json.loads(line)['summary']
            except ValueError:
                return {}
    return {}


class Prefixed:
    """Test points of the run through the host, named apart."""

    def __init__(self, t, prefix):
        self.t, self.prefix = t, prefix

    def ok(self, cond, name, *a, **kw):
        return self.t.ok(cond, self.prefix + name, *a, **kw)

    def eq(self, got, want, name, *a, **kw):
        return self.t.eq(got, want, self.prefix + name, *a, **kw)

    def diag(self, msg):
        return self.t.diag(self.prefix + msg)


def integrity(t, g, debug, host=False, shmem=False, mixed=False):
    """With shmem, buffer and filler are shared anonymous memory (shmem
    pages and THPs, shmem_enabled=advise: page cache exchanged); with
    mixed the filler alone is, so HPlacement exchanges the hot anonymous
    buffer with the cold shmem filler."""
    args = ARGS + (' --shmem' if shmem else '') + \
        (' --shmem-filler' if mixed else '')
    if shmem or mixed:
        g.out('echo advise > /sys/kernel/mm/transparent_hugepage/shmem_enabled')
    dmesg = g.out('dmesg')
    if debug:
        t.ok('KernelAddressSanitizer initialized' in dmesg and
             'Lock dependency validator' in dmesg and
             'kmemleak' in g.out('ls /sys/kernel/debug'),
             'debug kernel: KASAN, lockdep and kmemleak are on')
    g.out(f'echo 500000 > {D}/budget; echo 100 > {D}/interval_ms; '
          f'echo {HEADROOM} > {D}/headroom')
    if host:
        g.out(f'echo 0 > {PARAMS}/exchange_min_kb')
        h0 = g.qmp.cmd('query-hballoon-exchange')
    v0 = g.vmstat()
    t0 = time.monotonic()
    # HPlacement starts once the buffer is placed (the tool's first stderr
    # line), so that nodes_start shows where integrity put its pages.
    rc, out = g.sh(f'integrity {args} --duration {DURATION} >/tmp/i.out '
                   f'2>/tmp/i.err & pid=$!; '
                   f'while ! grep -q setup /tmp/i.err; do sleep 0.1; '
                   f'kill -0 $pid 2>/dev/null || break; done; '
                   f'echo 1 > {D}/enabled; wait $pid; rc=$?; '
                   f'cat /tmp/i.err /tmp/i.out; exit $rc',
                   timeout=DURATION * 6 + 300)
    wall = time.monotonic() - t0
    hpl_stats = g.read(f'{D}/stats').replace('\n', ', ')
    # Off, and an interval's worth of waiting, before the counters are
    # read: exchange_success counts a batch before hpl_exchanges does.
    g.out(f'echo 0 > {D}/enabled; sleep 1; echo 10000 > {D}/budget; '
          f'echo 1000 > {D}/interval_ms; echo 0 > {D}/headroom')
    v1 = g.vmstat()
    d = {k: v1[k] - v0.get(k, 0) for k in v1}
    t.diag(f'HPlacement stats at the end: {hpl_stats}')
    s = summary(out)
    x = s.get('exchange', {})
    t.diag(f'integrity {args} --duration {DURATION}: rc {rc}, {wall:.1f} s wall')
    for line in out.splitlines():
        if not line.startswith('{"summary"'):
            t.diag(line[:400])
    t.diag('summary: ' + json.dumps(s))
    t.diag('vmstat deltas: ' + json.dumps(
        {k: d[k] for k in d if k.startswith(('exchange_', 'hpl_promot',
                                             'hpl_exchange', 'hpl_demot',
                                             'hpl_sample', 'hpl_classify',
                                             'hpl_migrate', 'hpl_throttles',
                                             'thp_split', 'copier_',
                                             'thp_collapse', 'pgmigrate_s'))}))
    if host:
        h1 = g.qmp.cmd('query-hballoon-exchange')
        dh = {k: h1[k] - h0[k] for k in ('requests', 'entries', 'copies')}
        t.diag(f'host counters: {dh}')
        t.ok(d.get('copier_swap', 0) > 0 and d.get('copier_copy', 0) > 0 and
             d.get('copier_fail', -1) == 0,
             'the host swapped exchanged folios and copied migrated ones, '
             'no copier failure', {k: d.get(k) for k in d if k.startswith('copier')})
        t.ok(dh['entries'] == d['copier_swap'] + d['copier_copy'] and
             dh['copies'] == d['copier_copy'],
             'query-hballoon-exchange counts what the guest counts', (dh, d))

    t.ok(rc == 0 and s.get('corruptions') == 0,
         'no corruption: every page always held what its writer last wrote '
         '(writers, fork children, final pass)',
         s.get('first_corruption') or out[-3000:])
    t.ok(s.get('errors') == 0 and x.get('unexpected') == 0,
         'no syscall failed unexpectedly, every refused exchange had an '
         'expected errno', (s.get('first_error'), x))
    pages = SIZE_MB << 8
    t.ok(s.get('final_verified') == pages + s.get('filler', -1) // 4096 and
         s.get('verified', 0) > 4 * pages and s.get('child_verified', 0) > pages,
         f'pages verified: {s.get("verified")} by writers and racers, '
         f'{s.get("child_verified")} by fork children, every page and the '
         'filler at the end', s)
    n0 = s.get('nodes_start', {})
    t.ok(n0.get('0', 0) >= pages * 3 // 8 and n0.get('1', 0) >= pages * 3 // 8 and
         s.get('thp_kb_start', 0) >= SIZE_MB * 1024 // 4 and
         s.get('shmem') == shmem and s.get('shmem_filler') == mixed,
         'the buffer started on both nodes (3/8 or more on each), '
         f'a quarter of it or more in {"shmem " if shmem else ""}THPs',
         (n0, s.get('thp_kb_start'), s.get('shmem'), s.get('shmem_filler')))
    sp = s.get('splits', {})
    acts = {'forks': s.get('forks', 0), 'munmaps': s.get('munmaps', 0),
            'remaps': s.get('remaps', 0), 'mremaps': s.get('mremaps', 0),
            'mprotects': s.get('mprotects', 0), 'collapses': s.get('collapses', 0),
            'moved': s.get('moved', 0),
            'exchanges via a child': x.get('via_child', 0),
            **{f'splits {k}': v for k, v in sp.items()}}
    t.ok(len(sp) == 4 and all(acts.values()) and s.get('fork_failed') == 0,
         'every racer acted: fork, munmap, mmap over, mremap, mprotect, '
         'the four THP splits, collapse, move_pages, exchange through a child',
         acts)
    t.ok(d.get('thp_split_pmd', 0) > 0 and d.get('thp_split_page', 0) > 0 and
         d.get('thp_collapse_alloc', 0) > 0,
         'the kernel split PMDs and THPs and collapsed them again',
         {k: d.get(k) for k in ('thp_split_pmd', 'thp_split_page',
                                'thp_collapse_alloc')})

    ours_min = x.get('pairs_ok', 0)
    failed_writes = x.get('writes', 0) - x.get('writes_ok', 0)
    ours_max = ours_min + x.get('pairs_in_failed_writes', 0) - failed_writes
    other = d.get('exchange_success', 0) - d.get('hpl_exchanges', 0)
    t.ok(ours_min >= MIN_PAIRS,
         f'{ours_min} pairs exchanged through debugfs in {x.get("writes_ok")} '
         f'of {x.get("writes")} writes (>= {MIN_PAIRS})', x)
    t.ok(ours_min <= other <= ours_max,
         f'exchange_success - hpl_exchanges = {other}: within the pairs '
         f'debugfs exchanged [{ours_min}, {ours_max}]',
         {k: d.get(k) for k in ('exchange_success', 'hpl_exchanges')})
    errs = x.get('errno', {})
    t.ok(d.get('exchange_fail_busy', 0) >= errs.get('EBUSY', 1 << 60) and
         d.get('exchange_fail_order', 0) >= errs.get('EXDEV', 1 << 60),
         'exchange_fail_busy/order cover the EBUSY/EXDEV refusals',
         (errs, {k: d.get(k) for k in d if k.startswith('exchange_fail')}))
    hpl = ('hpl_promotions', 'hpl_exchanges', 'hpl_demotions')
    if host or debug:
        # Every 4 KiB copy is a round trip to the host here: on the debug
        # kernel HPlacement may spend the run demoting to its headroom and
        # exchange nothing itself (exchange_folios() through the host is
        # what the debugfs pairs exercise).  Without the host, the debug
        # kernel's own memory (KASAN, kmemleak) keeps FMEM below the
        # headroom: nothing may be promoted there, the hot set comes up by
        # exchange.
        t.ok(d.get('hpl_promotions', 0) + d.get('hpl_exchanges', 0) > 0 and
             d.get('hpl_demotions', 0) > 0,
             'HPlacement moved pages up (promoted or exchanged) and down '
             '(demoted below the headroom) during the run',
             {k: d.get(k) for k in hpl})
    else:
        t.ok(all(d.get(k, 0) > 0 for k in hpl),
             'HPlacement promoted, exchanged and demoted (below the headroom) '
             'pages during the run', {k: d.get(k) for k in hpl})

    iso = mmcheck.isolated(g)
    t.ok(len(iso) == 2 and not any(iso.values()),
         'nr_isolated_anon and nr_isolated_file back to 0', iso)
    bad = mmcheck.bad_log(g)
    t.ok(not bad, 'kernel log has no BUG, WARNING, KASAN or lockdep report',
         '\n'.join(bad[:60]))
    if debug:
        g.sh('echo scan > /sys/kernel/debug/kmemleak', timeout=300)
        leaks = g.out('cat /sys/kernel/debug/kmemleak', timeout=120)
        ours = [b for b in leaks.split('unreferenced object')
                if re.search(r'exchange|hpl_|hplacement', b)]
        t.diag(f'kmemleak: {leaks.count("unreferenced object")} unreferenced objects')
        t.ok(not ours, 'kmemleak: nothing leaked from exchange or HPlacement code',
             '\n'.join(ours[:5]))


def injected(t, g):
    """A page zeroed behind its writer's back (MADV_DONTNEED) while
    everything races: the run must stop with that page reported."""
    rc, out = g.sh(f'integrity {ARGS} --duration 20 --inject zero '
                   '--inject-at 2', timeout=600)
    s = summary(out)
    first = s.get('first_corruption') or {}
    inj = s.get('injected') or {}
    t.ok(rc == 1 and s.get('corruptions', 0) >= 1 and inj.get('addr') and
         first.get('addr') == inj.get('addr') and first.get('kind') == 'zero' and
         s.get('duration_s', 99) < 15,
         'a page zeroed on purpose amid the racers is caught at its address '
         '(self-test), exit 1', out[-3000:])


def migration(t, debug):
    """The racing run through the host, saved to a file (a live migration:
    the guest runs while its RAM is copied) half way and finished by a new
    QEMU: the pages the host swapped and copied during the migration must
    reach the destination (dma_memory_unmap() marks them dirty), and a
    request waiting for its emulated latency is completed at the stop."""
    dev = ['-device', 'virtio-hballoon-pci,id=hb']
    kw = dict(fmem='512M', smem='1G', boot_timeout=180 if debug else 60,
              qemu_args=dev)
    args = ARGS.replace(f'--size {SIZE_MB}M', '--size 32M')
    with Guest(**kw, run_vm_args=['--tcg-opts', 'tier-emulation=on']) as g:
        g.out(f'echo 0 > {PARAMS}/exchange_min_kb; '
              f'echo 500000 > {D}/budget; echo 100 > {D}/interval_ms; '
              f'echo {HEADROOM} > {D}/headroom')
        g.out(f'integrity {args} --duration 20 >/tmp/i.out 2>/tmp/i.err & '
              f'echo $! > /tmp/i.pid; '
              f'while ! grep -q setup /tmp/i.err; do sleep 0.1; done; '
              f'echo 1 > {D}/enabled', timeout=120)
        time.sleep(6)
        v0 = g.vmstat()
        state = g.dir + '.migration'
        g.migrate_to_file(state)
        h = g.qmp.cmd('query-hballoon-exchange')
    t.diag(f'migration: source host counters {h}')
    with Guest(**kw, run_vm_args=['--tcg-opts', 'tier-emulation=on'],
               incoming=state) as g:
        rc, out = g.sh('p=$(cat /tmp/i.pid); while kill -0 $p 2>/dev/null; '
                       'do sleep 0.5; done; cat /tmp/i.err /tmp/i.out',
                       timeout=600)
        g.out(f'echo 0 > {D}/enabled')
        v1 = g.vmstat()
        h1 = g.qmp.cmd('query-hballoon-exchange')
        s = summary(out)
        d = {k: v1[k] - v0.get(k, 0) for k in v1 if k.startswith('copier')}
        t.diag(f'migration: destination host counters {h1}, guest copier '
               f'deltas after the save {d}')
        t.ok(h['entries'] > 0 and h1['entries'] > 0 and
             d.get('copier_fail', 1) == 0,
             'migration: the host moved pages before and after the save, '
             'no copier failure', (h, h1, d))
        t.ok(s.get('corruptions') == 0 and s.get('errors') == 0 and
             s.get('final_verified', 0) > 0,
             'migration: no corruption across the live migration: every page '
             'held what its writer last wrote, to the final pass',
             s.get('first_corruption') or out[-3000:])
        bad = mmcheck.bad_log(g)
        t.ok(not bad, 'migration: kernel log clean', '\n'.join(bad[:40]))
    os.unlink(state)


def run(t):
    debug = paths.KCONFIG == 'debug'
    with Guest(fmem='512M', boot_timeout=180 if debug else 60) as g:
        integrity(t, g, debug)
        injected(t, g)
    with Guest(fmem='512M', boot_timeout=180 if debug else 60) as g:
        integrity(Prefixed(t, 'shmem: '), g, debug, shmem=True)
    with Guest(fmem='512M', boot_timeout=180 if debug else 60) as g:
        integrity(Prefixed(t, 'mixed: '), g, debug, mixed=True)
    with Guest(fmem='512M', boot_timeout=180 if debug else 60,
               qemu_args=['-device', 'virtio-hballoon-pci,id=hb']) as g:
        integrity(Prefixed(t, 'host: '), g, debug, host=True)
    # shmem pairs frozen while the host swaps them, the guest spinning.
    with Guest(fmem='512M', boot_timeout=180 if debug else 60,
               qemu_args=['-device', 'virtio-hballoon-pci,id=hb']) as g:
        integrity(Prefixed(t, 'host shmem: '), g, debug, host=True,
                  shmem=True)
    migration(t, debug)
