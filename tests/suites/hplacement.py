# SPDX-License-Identifier: GPL-2.0
"""HPlacement's daemon (CONFIG_HPLACEMENT) in a booted two-tier guest: the
sysfs interface with its defaults and its validation, and the abit source
at work on gups: samples, ranges, time per stage, and enabled=0 stopping it;
a hot set first touched on SMEM promoted to FMEM, and exchanged with the
cold pages of another process when FMEM is full; tmpfs page cache promoted
and demoted."""
import json
import os
import re
import subprocess
import tempfile
import time

from ht import mmcheck, paths
from ht.guest import Guest

D = '/sys/kernel/mm/hplacement'
DEFAULTS = {'enabled': '0', 'source': 'auto', 'budget': '10000',
            'interval_ms': '1000', 'window_ms': '10000', 'headroom': '0',
            'min_range': str(2 << 20), 'max_range': str(256 << 20),
            'exclude': ''}
COUNTERS = ['hpl_samples_fmem', 'hpl_samples_smem', 'hpl_samples_dropped',
            'hpl_splits', 'hpl_merges', 'hpl_throttles', 'hpl_sample_ns',
            'hpl_classify_ns', 'hpl_migrate_ns', 'hpl_promotions',
            'hpl_exchanges', 'hpl_samples_abit', 'hpl_samples_pebs',
            'hpl_samples_ibs', 'hpl_samples_injected', 'hpl_samples_lost',
            'hpl_demotions', 'hpl_promote_fail', 'hpl_demote_fail',
            'hpl_exchange_fail', 'hpl_exchange_splits',
            'hpl_exchange_splits_hot', 'hpl_warm_held']
INJECT = '/sys/kernel/debug/hplacement/inject'
THP = '/sys/kernel/mm/transparent_hugepage/enabled'
# Injector writes that must fail, with the error they must give.
BAD_INJECT = [
    ('nonsense', 'Invalid argument'), ('1 4096 4096 1', 'Invalid argument'),
    ('1 8192 4096 1', 'Invalid argument'), ('1 4096 8192 0', 'Invalid argument'),
    ('1 4096 8192 16385', 'Invalid argument'),
    ('1 4096 8192 1 9', 'Invalid argument'),
    (f'1 4096 {1 << 60} 1', 'Invalid argument'),
    ('999999 4096 8192 1', 'No such process'),
]
# Writes that must fail, and change nothing.
BAD_WRITES = [
    ('enabled', '2'), ('enabled', 'yes'), ('enabled', '-1'),
    ('source', 'nonsense'), ('source', 'abit pebs'),
    ('budget', '0'), ('budget', '1000001'), ('budget', 'x'),
    ('interval_ms', '0'), ('interval_ms', '9'), ('interval_ms', '60001'),
    ('window_ms', '9'), ('window_ms', '3600001'), ('window_ms', '1s'),
    ('headroom', '1000'), ('headroom', '-4096'),
    ('headroom', str(1 << 50)),
    ('min_range', '3000'), ('min_range', '1024'), ('min_range', str(3 << 20)),
    ('min_range', str(512 << 20)),
    ('max_range', str(1 << 20)), ('max_range', str(3 << 20)),
    ('max_range', str(2 << 40)), ('max_range', 'big'),
    ('exclude', 'a b c d e f g h i'), ('exclude', 'x' * 16),
    ('exclude', 'ok bad\x01'),
]


def stats(g):
    return {k: int(v) for k, v in re.findall(r'^(\w+) (\d+)$',
                                             g.read(f'{D}/stats'), re.M)}


def values(g):
    return {f: g.read(f'{D}/{f}') for f in DEFAULTS}


def run(t):
    with Guest() as g:
        v = g.vmstat()
        t.ok(all(c in v for c in COUNTERS), '/proc/vmstat has the hpl_* counters',
             [c for c in COUNTERS if c not in v])
        names = g.out(f'ls {D}').split()
        want = sorted(list(DEFAULTS) + ['stats'])
        t.eq(sorted(names), want, f'{D} has the documented files')
        t.eq(g.out(f'stat -c %a {D}/stats').strip(), '444', 'stats is read-only')
        t.eq(values(g), DEFAULTS, 'defaults')
        t.ok(g.out('ps -o comm 2>/dev/null || ps').find('khplacement') >= 0,
             'the khplacement thread runs')

        before = values(g)
        bad = []
        for f, val in BAD_WRITES:
            rc, out = g.sh(f"printf '%s' '{val}' > {D}/{f}")
            if rc == 0:
                bad.append(f'{f} <- {val!r} succeeded')
        t.ok(not bad, f'{len(BAD_WRITES)} bad writes fail', '\n'.join(bad))
        t.eq(values(g), before, 'failed writes changed nothing')
        rc, out = g.sh(f'echo pebs > {D}/source')
        t.ok(rc != 0 and ('not supported' in out or 'No such device' in out),
             'source pebs fails with EOPNOTSUPP or ENODEV', out)
        rc, out = g.sh(f'echo ibs > {D}/source')
        t.ok(rc != 0 and ('not supported' in out or 'No such device' in out),
             'source ibs fails with EOPNOTSUPP or ENODEV', out)
        t.eq(g.read(f'{D}/source'), 'auto', 'source still auto')
        t.ok(re.search(r'^source abit$', g.read(f'{D}/stats'), re.M),
             'without a PMU, auto samples the accessed bits (stats)',
             g.read(f'{D}/stats'))

        good = {'budget': '20000', 'interval_ms': '500', 'window_ms': '7000',
                'headroom': '4194304',
                'min_range': str(1 << 20), 'max_range': str(128 << 20),
                'source': 'abit', 'exclude': 'redis-server memcached'}
        for f, val in good.items():
            g.out(f'echo {val} > {D}/{f}')
        t.eq({f: g.read(f'{D}/{f}') for f in good}, good, 'valid writes are taken')
        g.out(f'echo > {D}/exclude; echo auto > {D}/source; echo 10000 > {D}/budget; '
              f'echo 0 > {D}/headroom; echo {2 << 20} > {D}/min_range; '
              f'echo {DEFAULTS["window_ms"]} > {D}/window_ms; '
              f'echo {256 << 20} > {D}/max_range')

        # Disabled: nothing is sampled.
        v0 = g.vmstat()
        time.sleep(2.5)
        v1 = g.vmstat()
        t.ok(v1['hpl_samples_fmem'] + v1['hpl_samples_smem'] ==
             v0['hpl_samples_fmem'] + v0['hpl_samples_smem'],
             'no samples while disabled', (v0, v1))

        g.out('gups --size 256M --hot 32M --duration 14 --json '
              '> /tmp/gups.json 2>&1 &')
        # A process that sleeps through it all: never sampled.
        g.out('memplace --hold 30 8M > /dev/null 2>&1 &')
        time.sleep(3)
        g.out(f'echo 1 > {D}/enabled')
        time.sleep(5)
        va = g.vmstat()
        sa = stats(g)
        time.sleep(3)
        vb = g.vmstat()
        sb = stats(g)
        d = {k: vb[k] - v1[k] for k in COUNTERS}
        t.diag(f'enabled, counter deltas: {d}')
        t.diag(f'stats: {sb}')
        t.ok(d['hpl_samples_fmem'] + d['hpl_samples_smem'] > 0,
             'hpl_samples_* grow when enabled', d)
        t.ok(vb['hpl_samples_fmem'] + vb['hpl_samples_smem'] >
             va['hpl_samples_fmem'] + va['hpl_samples_smem'],
             'and keep growing', (va, vb))
        t.ok(d['hpl_sample_ns'] > 0 and vb['hpl_sample_ns'] > va['hpl_sample_ns'],
             'hpl_sample_ns grows', d)
        t.ok(d['hpl_classify_ns'] > 0 and
             vb['hpl_classify_ns'] > va['hpl_classify_ns'],
             'hpl_classify_ns grows', d)
        t.ok(sb.get('spaces', 0) >= 1 and sb.get('ranges', 0) >= 1,
             'stats shows spaces and ranges', sb)
        t.ok(sb.get('intervals', 0) > sa.get('intervals', 0),
             'stats: intervals advance', (sa, sb))
        t.ok(1 <= sb.get('idle', 0) < sb.get('spaces', 0),
             'stats: the sleeping process is idle, not sampled, gups is', sb)
        t.ok(d['hpl_promotions'] == 0 and d['hpl_exchanges'] == 0,
             'nothing promoted or exchanged while all memory is in FMEM', d)

        g.out(f'echo 0 > {D}/enabled')
        time.sleep(1.5)
        vc = g.vmstat()
        time.sleep(3)
        vd = g.vmstat()
        t.eq({k: vd[k] for k in COUNTERS}, {k: vc[k] for k in COUNTERS},
             'enabled=0 stops sampling: counters stop growing')
        t.eq(stats(g).get('spaces'), 0, 'enabled=0 frees the spaces')

        rc, out = g.sh('while pidof gups >/dev/null; do sleep 0.5; done; '
                       'cat /tmp/gups.json', timeout=60)
        lines = [json.loads(l) for l in out.splitlines() if l.startswith('{')]
        summ = [l['summary'] for l in lines if 'summary' in l]
        t.ok(rc == 0 and summ and summ[0]['updates'] > 0,
             'gups ran to the end under sampling', out[-2000:])

        promotion(t, g)
        thp_promotion(t, g)
        injection(t, g)
        core_and_warm(t, g)

        bad = mmcheck.bad_log(g)
        t.ok(not bad, 'kernel log has no BUG, WARNING or lockdep report',
             '\n'.join(bad[:40]))
    exchange_when_full(t)
    exchange_when_full(t, thp=True)
    exchange_when_full(t, cold_tmpfs=True, hot_tmpfs=True)
    exchange_when_full(t, cold_tmpfs=True, hot_tmpfs=True, huge=True)
    exchange_when_full(t, hot_tmpfs=True)
    exchange_hot_thps(t)
    exchange_by_rank(t)
    demotion(t)
    file_pages(t)
    balloon_demotion(t)
    balloon_link(t)
    host_copies(t)
    budget_bursts(t)
    settling(t)
    check_pebs(t)


def khplacement_cpu_ns(g):
    """utime + stime of khplacement (USER_HZ ticks), in ns."""
    f = g.out("for d in /proc/[0-9]*; do read c < $d/comm 2>/dev/null; "
              "[ \"$c\" = khplacement ] && cut -d' ' -f14,15 $d/stat; "
              "done; true").split()
    return (int(f[0]) + int(f[1])) * 10_000_000


def gups_fracs(g, duration, timeout, extra=''):
    """Run gups with its buffer first touched on node 1; returns the node 0
    share of the sampled hot set per interval, and the last node 1 share."""
    rc, out = g.sh(f'gups --size 256M --hot 32M --membind 1 --hot-at end '
                   f'--duration {duration} --json {extra}', timeout=timeout)
    lines = [json.loads(l) for l in out.splitlines() if l.startswith('{')]
    fr = [l['hot_node_frac_sampled'] for l in lines if 'hot_node_frac_sampled' in l]
    return rc, out, [f.get('0', 0.0) for f in fr], (fr[-1].get('1', 0.0) if fr else 0.0)


def gups_enabled(g, args):
    """Run gups --json under the HPlacement just enabled, then disable it;
    returns its rc and output, JSON lines, node 0 share of the sampled
    hot set per report and the counter deltas over the run."""
    v0 = g.vmstat()
    rc, out = g.sh(f'gups {args} --json', timeout=300)
    v1 = g.vmstat()
    g.out(f'echo 0 > {D}/enabled')
    lines = [json.loads(x) for x in out.splitlines() if x.startswith('{')]
    fast = [x['hot_node_frac_sampled'].get('0', 0.0) for x in lines
            if 'hot_node_frac_sampled' in x]
    return rc, out, lines, fast, {k: v1[k] - v0[k] for k in
                                  COUNTERS + ['thp_split_page']}


def thp_promotion(t, g):
    """With THP the abit source tests PMD accessed bits in rounds
    microseconds apart: the hot THPs are found and promoted whole, and
    none is mapped with PTEs for it."""
    # FMEM with room for 96 MiB of the 256 MiB buffer (figure 3's setup):
    # THPs promoted blindly would bring a third of the hot set.
    filler = max(node_free_mb(g, 0) - 96, 0)
    g.out(f'echo always > {THP}; numactl --membind=0 memplace --hold 120 '
          f'{filler}M > /dev/null 2>&1 &')
    time.sleep(3)
    tr = '/sys/kernel/tracing'
    g.out(f'mount -t tracefs nodev {tr} 2>/dev/null; echo > {tr}/trace; '
          f'echo 1 > {tr}/events/hplacement/hplacement_budget/enable')
    g.out(f'echo 50000 > {D}/budget; echo 1 > {D}/enabled')
    v0 = g.vmstat()
    rc, out, fast, slow = gups_fracs(g, 20, 300)
    g.out(f'echo 0 > {D}/enabled; echo 10000 > {D}/budget; '
          f'echo 0 > {tr}/events/hplacement/hplacement_budget/enable; '
          'pkill memplace; sleep 2')
    v1 = g.vmstat()
    ends = [float(x) for x in re.findall(r'\s([\d.]+): hplacement_budget:',
                                         g.out(f'cat {tr}/trace'))]
    gaps = [round(b - a, 3) for a, b in zip(ends, ends[1:])]
    t.diag(f'THP: seconds between interval ends {gaps}')
    # interval_ms 1000: an interval that moved THPs with budget left
    # (5 %, sampling costs a few ms) is followed by one 250 ms later
    t.ok(gaps and min(gaps) <= 0.6,
         'THP: after an interval that moved pages the next one comes '
         'sooner (hurried)', gaps)
    d = {k: v1[k] - v0[k] for k in COUNTERS + ['thp_split_pmd',
                                               'thp_migration_split']}
    t.diag(f'THP: hot set node 0 share per interval {fast}')
    t.diag(f'THP: counter deltas {d}')
    # Found, not stumbled upon: with PMD bits tested milliseconds apart
    # (as the 4 KiB windows are) 90 % took 16 s in one run and was not
    # reached in 20 s in another; the rounds take 2-4 s on an idle host.
    first = next((i + 1 for i, f in enumerate(fast) if f >= 0.9), None)
    t.ok(rc == 0 and first is not None and first <= 12 and fast[-1] >= 0.9,
         f'THP, 96 MiB free FMEM: >= 90 % of the hot set on node 0 within '
         f'12 s (after {first} s)', out[-2000:])
    # Once FMEM is full, a cold THP may be split to give 4 KiB exchange
    # partners, the last hot ones to pair with 4 KiB pages, or a THP by a
    # migration that could not move it whole; sampling split dozens an
    # interval before the rounds.
    moved = (d['hpl_exchange_splits'] + d['hpl_exchange_splits_hot'] +
             d['thp_migration_split'])
    t.ok(d['thp_split_pmd'] <= moved,
         f"THP: sampling maps no THP with PTEs (thp_split_pmd {d['thp_split_pmd']}"
         f' <= {moved} split to exchange or migrate)', d)


def promotion(t, g):
    """The hot set, first touched on SMEM, is promoted to FMEM when enabled
    and stays on SMEM when not."""
    g.out(f'echo 0 > {D}/enabled; echo 1000 > {D}/interval_ms')
    time.sleep(1.5)
    rc, out, fast, slow = gups_fracs(g, 4, 120)
    t.diag(f'disabled: hot set node 0 share per interval {fast}')
    t.ok(rc == 0 and fast and fast[-1] < 0.1 and slow >= 0.9,
         'disabled: the hot set stays on node 1', out[-2000:])

    # Migrating a page costs tens of microseconds under TCG: a budget of
    # 1 % of a vCPU would take minutes for the 8192 pages of the hot set.
    # 4 KiB pages here, THPs in thp_promotion().
    g.out(f'echo madvise > {THP}')
    v0 = g.vmstat()
    c0 = khplacement_cpu_ns(g)
    g.out(f'echo 500000 > {D}/budget; echo 1 > {D}/enabled')
    rc, out, fast, slow = gups_fracs(g, 30, 300)
    # Stage times are counted when an interval ends, CPU time as it runs:
    # read both once the interval in flight is over.
    g.out(f'echo 0 > {D}/enabled; sleep 2')
    v1 = g.vmstat()
    c1 = khplacement_cpu_ns(g)
    g.out(f'echo 10000 > {D}/budget; echo always > {THP}')
    d = {k: v1[k] - v0[k] for k in COUNTERS}
    t.diag(f'enabled: hot set node 0 share per interval {fast}')
    t.diag(f'enabled: counter deltas {d}')
    first = next((i + 1 for i, f in enumerate(fast) if f >= 0.9), None)
    t.ok(rc == 0 and first is not None and fast[-1] >= 0.9,
         f'enabled: >= 90 % of the hot set on node 0 (after {first} s)',
         out[-2000:])
    t.ok(d['hpl_promotions'] >= 0.9 * (32 << 20) // 4096,
         'hpl_promotions counts at least the promoted hot set', d)
    t.ok(d['hpl_migrate_ns'] > 0, 'hpl_migrate_ns grows', d)
    # abit has no handlers on other CPUs: the stages are the thread's time,
    # all of it (to the 10 ms of /proc/<pid>/stat, twice).
    staged = d['hpl_sample_ns'] + d['hpl_classify_ns'] + d['hpl_migrate_ns']
    t.ok(abs(staged - (c1 - c0)) <= 20e6 + 0.01 * (c1 - c0),
         f'the stage times ({staged / 1e6:.0f} ms) account for all of '
         f"khplacement's CPU time ({(c1 - c0) / 1e6:.0f} ms)", d)
    iso = mmcheck.isolated(g)
    t.ok(len(iso) == 2 and not any(iso.values()),
         'nr_isolated_anon and nr_isolated_file back to 0', iso)


def exchange_when_full(t, thp=False, cold_tmpfs=False, hot_tmpfs=False,
                       huge=False):
    """With FMEM filled by cold pages of another process, the hot set is
    exchanged with them.  With THP, the cold pages are 2 MiB folios and
    the hot ones 4 KiB: cold folios are split to pair with them.  With
    tmpfs, the cold or the hot pages are a tmpfs file mapped shared: page
    cache is exchanged with page cache, and a tmpfs hot set with anonymous
    cold pages too (mixed pairs).  With huge, the tmpfs is mounted
    huge=always: shmem THPs exchanged."""
    mixed = hot_tmpfs and not cold_tmpfs
    what = ('FMEM full of THPs' if thp else
            'tmpfs hot set, FMEM full of anonymous memory' if mixed else
            'FMEM full of tmpfs THPs' if huge else
            'FMEM full of tmpfs' if cold_tmpfs else 'FMEM full')
    with Guest(fmem='512M') as g:
        # THP on madvise: the filler asks for THPs, the hot set gets 4 KiB
        # pages, and most of it has to be exchanged.
        if thp:
            g.out(f'echo madvise > {THP}')
        kind = ''
        if cold_tmpfs or hot_tmpfs:
            g.out('mkdir -p /mnt/t && mount -t tmpfs -o size=1G'
                  f'{",huge=always" if huge else ""} tmpfs /mnt/t')
        if cold_tmpfs:
            kind = '--file /mnt/t/cold '
        filler = max(node_free_mb(g, 0) - (32 if thp else 48), 64)
        g.out(f'gups --size {filler}M --hot 4K --hot-frac 1 --membind 0 '
              f'{"--thp " if thp else ""}{kind}--duration 90 '
              '> /tmp/filler.json 2>&1 &')
        time.sleep(4)
        t.diag(g.out('grep -e MemFree -e AnonHuge '
                     '/sys/devices/system/node/node*/meminfo'))
        t.ok(g.sh('pidof gups')[0] == 0, f'{what}: the filler runs',
             g.out('cat /tmp/filler.json; dmesg | tail -20'))
        v0 = g.vmstat()
        g.out(f'echo 500000 > {D}/budget; echo 1 > {D}/enabled')
        rc, out, fast, slow = gups_fracs(
            g, 30, 300, '--file /mnt/t/hot' if hot_tmpfs else '')
        v1 = g.vmstat()
        g.out(f'echo 0 > {D}/enabled')
        d = {k: v1[k] - v0[k] for k in COUNTERS + ['exchange_fail_type',
                                                   'exchange_fail_order']}
        t.diag(f'{what}: hot set node 0 share per interval {fast}')
        t.diag(f'{what}: counter deltas {d}')
        t.ok(d['hpl_exchanges'] > 0, f'{what}: pages are exchanged', d)
        t.eq(d['hpl_exchanges'], v1['exchange_success'] - v0['exchange_success'],
             f'{what}: hpl_exchanges matches exchange_success')
        if mixed:
            # Hot page cache and cold anonymous pages of one memcg pair:
            # none is left unpaired for its kind.
            t.ok(d['hpl_exchanges'] >= (32 << 20) // 4096 // 4 and
                 d['exchange_fail_type'] == 0,
                 f'{what}: the tmpfs hot set is exchanged with anonymous '
                 f'pages ({d["hpl_exchanges"]} pairs, exchange_fail_type '
                 f'{d["exchange_fail_type"]})', d)
        if cold_tmpfs:
            # Only gups' tmpfs hot set (8192 pages) is this many; with
            # huge=always, in pairs of whole shmem THPs: no hot THP is
            # split.  A cold one may be, once or twice, for a stray hot
            # 4 KiB page of another range (one CI run had one).
            per = 512 if huge else 1
            t.ok(d['hpl_exchanges'] * per >= (32 << 20) // 4096 // 4 and
                 (not huge or (d['hpl_exchange_splits_hot'] == 0 and
                               d['hpl_exchange_splits'] <= 2)),
                 f'{what}: the tmpfs hot set is exchanged '
                 f'({d["hpl_exchanges"]} pairs of {per} pages'
                 f'{", no hot THP split" if huge else ""})', d)
        if thp:
            # Small folios (the hot 4 KiB pages, the cold THPs' tails) are
            # exchanged under the mmap_lock of the mm where the walk found
            # them, without rmap walks: at least the hot side of most pairs.
            direct = v1['exchange_direct'] - v0['exchange_direct']
            t.ok(d['hpl_exchanges'] // 2 <= direct <=
                 2 * (d['hpl_exchanges'] + d['hpl_exchange_fail']),
                 f'{what}: small folios are unmapped where the walk found '
                 f'them (exchange_direct {direct}, {d["hpl_exchanges"]} '
                 'exchanges)', d)
            t.ok(d['hpl_exchange_splits'] > 0,
                 f'{what}: cold THPs are split for 4 KiB partners '
                 '(hpl_exchange_splits)', d)
            # A split THP gives 512 partners: one split per hot 4 KiB page
            # would mean the tails were lost.
            t.ok(d['hpl_exchanges'] >= 1024 and
                 d['hpl_exchange_splits'] * 64 <= d['hpl_exchanges'],
                 f'{what}: the tails of a split THP are partners too', d)
        # gups first touched it all on node 1 (--membind 1); by its first
        # report HPlacement may have moved much of the hot set already, so
        # the move shows in the counters rather than in that report.
        t.ok(d['hpl_promotions'] + d['hpl_exchanges'] >=
             (32 << 20) // 4096 // 2, f'{what}: the hot set moved from node 1', d)
        t.ok(rc == 0 and fast and fast[-1] >= 0.75,
             f'{what}: >= 75 % of the hot set reaches node 0', out[-2000:])
        g.out('pkill gups; sleep 1')
        iso = mmcheck.isolated(g)
        t.ok(len(iso) == 2 and not any(iso.values()),
             f'{what}: nr_isolated_* back to 0', iso)
        bad = mmcheck.bad_log(g)
        t.ok(not bad, f'{what}: kernel log clean', '\n'.join(bad[:40]))


def host_copies(t):
    """At the default budget (1 % of a vCPU) with virtio-hballoon, the host
    copies the THPs that HPlacement promotes (khplacement only waits for
    it): the hot set, THPs first touched on SMEM, reaches FMEM, and the
    host counts the copies the guest counts."""
    with Guest(qemu_args=['-device', 'virtio-hballoon-pci,id=hb']) as g:
        t.eq(g.read(THP).split('[')[1].split(']')[0], 'always',
             'host copies: THP always')
        v0, h0 = g.vmstat(), g.qmp.cmd('query-hballoon-exchange')
        g.out(f'echo 1 > {D}/enabled')
        rc, out, fast, slow = gups_fracs(g, 30, 300)
        g.out(f'echo 0 > {D}/enabled; sleep 1')
        v1, h1 = g.vmstat(), g.qmp.cmd('query-hballoon-exchange')
        d = {k: v1[k] - v0[k] for k in v1 if k.startswith(('hpl_', 'copier_'))}
        dh = {k: h1[k] - h0[k] for k in ('requests', 'entries', 'copies')}
        t.diag(f'host copies: hot set node 0 share per interval {fast}')
        t.diag(f'host copies: counter deltas {d}, host {dh}')
        first = next((i + 1 for i, f in enumerate(fast) if f >= 0.9), None)
        t.ok(rc == 0 and first is not None and fast[-1] >= 0.9,
             f'host copies, budget 1 %: >= 90 % of the hot set on node 0 '
             f'(after {first} s)', out[-2000:])
        # 32 MiB of THPs: 16 copies, and the host did them.
        t.ok(d['copier_copy'] >= 14 and d['copier_fail'] == 0 and
             dh['copies'] == d['copier_copy'],
             'host copies: the host copied the promoted THPs '
             '(copier_copy, query-hballoon-exchange copies)', (d, dh))
        mmcheck.sound(t, g, 'host copies')


def exchange_hot_thps(t):
    """FMEM full of cold 4 KiB pages whose frames are scattered, one hot THP
    on SMEM: with no cold THP to pair with, it is split and its pages
    exchanged with 4 KiB ones, and nothing is demoted for it.  Before, 512
    4 KiB pages were demoted for it each interval (what three or more such
    THPs still get): their frames freed no 2 MiB block, compaction makes
    none with less than 4 MiB free above the low watermark, and the THP
    moved after 2-3 s, once rounds of demotion had freed enough (2048-3584
    pages demoted, 2-3x the migration time), or, when other pages took
    the room, stayed on SMEM (the `by rank` test once waited 17 s)."""
    what = 'a hot THP, FMEM full of scattered 4 KiB pages'
    with Guest(fmem='512M') as g:
        # THP on madvise: the filler gets 4 KiB pages, gups --thp THPs.
        # Node 0 preferred, not bound: FMEM fills to its watermarks, the
        # rest spills to node 1 (bound, the filler is killed short of it).
        # Two stripes: each other frame belongs to the other half.
        g.out(f'echo madvise > {THP}')
        g.out(f'numactl --preferred=0 memplace --json --hold 600 --stripes 2 '
              f'{node_free_mb(g, 0)}M > /tmp/filler.json 2>&1 &')
        g.out('for i in $(seq 600); do grep -q addr /tmp/filler.json && '
              'break; sleep 0.1; done; cat /tmp/filler.json', timeout=120)
        t.diag(g.out('grep -e MemFree -e AnonHuge '
                     '/sys/devices/system/node/node*/meminfo'))
        t.ok(g.sh('grep -q addr /tmp/filler.json')[0] == 0,
             f'{what}: the filler is in place',
             g.out('cat /tmp/filler.json; dmesg | tail -20'))
        g.out(f'echo 500000 > {D}/budget; echo 1 > {D}/enabled')
        rc, out, lines, fast, d = gups_enabled(
            g, '--size 2M --hot 2M --hot-frac 1 --membind 1 --thp '
            '--duration 12')
        t.diag(f'{what}: hot set node 0 share per interval {fast}')
        t.diag(f'{what}: counter deltas {d}')
        first = next((i + 1 for i, f in enumerate(fast) if f >= 0.9), None)
        t.ok(rc == 0 and first is not None and fast[-1] >= 0.9,
             f'{what}: it reaches node 0 (after {first} s)', out[-2000:])
        t.ok(d['hpl_exchange_splits_hot'] >= 1 and d['hpl_exchanges'] >= 256,
             f'{what}: it is split and its pages exchanged '
             '(hpl_exchange_splits_hot, hpl_exchanges)', d)
        t.ok(d['hpl_exchange_splits_hot'] <= d['thp_split_page'],
             f'{what}: the kernel counts the split too (thp_split_page)', d)
        t.ok(d['hpl_demotions'] < 512,
             f'{what}: no THP worth of cold pages demoted for it '
             f'(hpl_demotions {d["hpl_demotions"]})', d)
        mmcheck.sound(t, g, what)


def exchange_by_rank(t):
    """A buffer that fits FMEM's capacity, first touched in order: its
    cold start fills FMEM, its hot end spills to SMEM.  Every range of it
    is in the hot set (it all fits), none is cold, yet the hot end is
    exchanged with the start's pages, whose ranges are less than half as
    hot.  With partners from cold ranges only, 90 % took 16 s (ranges of
    128 MiB at most) and was not reached in 25 s (256 MiB, 0.14)."""
    with Guest(fmem='256M', qemu_args=['-device', 'virtio-hballoon-pci,id=hb']) as g:
        size = node_free_mb(g, 0) + 24
        # Ranges of 128 MiB at most: the test is about which ranges give
        # partners, not about how soon the range tree tells them apart.
        g.out(f'echo always > {THP}; echo 50000 > {D}/budget; '
              f'echo {128 << 20} > {D}/max_range; echo 1 > {D}/enabled')
        rc, out, _, fast, d = gups_enabled(
            g, f'--size {size}M --hot 16M --hot-at end --duration 25')
        t.diag(f'by rank: {size} MiB buffer, hot set node 0 share per '
               f'interval {fast}; deltas {d}')
        first = next((i + 1 for i, f in enumerate(fast) if f >= 0.9), None)
        t.ok(rc == 0 and first is not None and first <= 12 and fast[-1] >= 0.9,
             f'by rank: >= 90 % of a hot set behind FMEM-filling data of its '
             f'own range reaches node 0 within 12 s (after {first} s)',
             out[-2000:])
        t.ok(d['hpl_exchanges'] > 0, 'by rank: by exchange', d)
        mmcheck.sound(t, g, 'by rank')


def budget_bursts(t):
    """The default budget holds in every interval, also when the pages to
    move change from THPs (cheap per page, copied by the host) to 4 KiB
    ones (dear): the migration stage stops at the budget's time, not
    only at a page count from the cost per page of earlier intervals.
    window_ms is 2 s here, so that what migration may save up (the budget
    of window_ms, 20 ms) is below what the 4 KiB pages could take."""
    tr = '/sys/kernel/tracing'
    # Tier emulation: a 4 KiB page written to SMEM by the CPU costs what
    # SMEM's latency makes it cost, tens of times a THP's page.
    with Guest(fmem='512M', run_vm_args=['--tcg-opts', 'tier-emulation=on'],
               qemu_args=['-device', 'virtio-hballoon-pci,id=hb']) as g:
        # THPs first touched on SMEM, promoted at 1 % with host copies
        g.out('gups --size 256M --hot 32M --membind 1 --hot-at end '
              '--duration 300 --json > /tmp/gups.json 2>&1 &')
        g.out(f'echo 2000 > {D}/window_ms; echo 1 > {D}/enabled')
        v = g.vmstat()
        for _ in range(60):
            if v['hpl_promotions'] >= (32 << 20) // 4096:
                break
            time.sleep(1)
            v = g.vmstat()
        t.ok(v['hpl_promotions'] >= (32 << 20) // 4096,
             'budget bursts: the THP hot set was promoted first',
             v['hpl_promotions'])
        # and nothing is promoted any more: in one run 4 THPs more were
        # promoted in the window, in one interval of 45 ms, and the 4 KiB
        # pages waited
        for _ in range(20):
            time.sleep(1)
            v1 = g.vmstat()
            if v1['hpl_promotions'] == v['hpl_promotions']:
                break
            v = v1
        # then 4 KiB pages of an idle process, the coldest, are to make
        # room for a headroom 48 MiB above what is free
        g.out(f'echo madvise > {THP}')
        idle_buffer(g, 0, '64M', 'b')
        free = node_free_mb(g, 0)
        g.out(f'mount -t tracefs nodev {tr} 2>/dev/null; echo > {tr}/trace; '
              f'echo 1 > {tr}/events/hplacement/hplacement_budget/enable')
        v0, c0 = g.vmstat(), khplacement_cpu_ns(g)
        h0 = g.qmp.cmd('query-hballoon-exchange')
        g.out(f'echo {(free + 48) << 20} > {D}/headroom')
        time.sleep(10)
        v1, c1 = g.vmstat(), khplacement_cpu_ns(g)
        h1 = g.qmp.cmd('query-hballoon-exchange')
        g.out(f'echo 0 > {D}/enabled; echo 0 > {D}/headroom; '
              f'echo 10000 > {D}/window_ms; '
              f'echo 0 > {tr}/events/hplacement/hplacement_budget/enable; '
              f'echo always > {THP}; pkill gups; pkill memplace; sleep 2')
        mig = [int(x) / 1e6 for x in
               re.findall(r'migrate_ns=(\d+)', g.out(f'cat {tr}/trace'))]
        d = {k: v1[k] - v0[k] for k in ('hpl_demotions', 'hpl_exchanges',
                                        'hpl_promotions', 'hpl_migrate_ns',
                                        'copier_copy', 'copier_fail')}
        copies = h1['copies'] - h0['copies']
        t.diag(f'budget bursts: {free} MiB free, migration ms per interval '
               f'{mig}, deltas {d}, host copies {copies}')
        t.ok(d['hpl_demotions'] > 0, 'budget bursts: 4 KiB pages are demoted', d)
        # A 4 KiB page alone is under exchange_min_kb (64): the host copies
        # the demotions only as whole migration batches (a range's last
        # batch may be under it: 93 % in one run), of two batches at
        # least (482-1722 pages in 6 runs).  Not the exact count of
        # the host: a THP copied while the window opened counts on one
        # side only (host_copies() checks it).
        t.ok(d['hpl_demotions'] >= 64 and
             d['copier_copy'] * 4 >= d['hpl_demotions'] * 3 and
             copies * 4 >= d['hpl_demotions'] * 3 and not d['copier_fail'],
             'budget bursts: the host copied the 4 KiB demotions, batch by '
             'batch (copier_copy, query-hballoon-exchange copies)',
             (d, copies))
        # at most the budget of window_ms that migration may save up
        # (20 ms) and one batch of 32 folios or one THP after it
        t.ok(mig and max(mig) <= 35,
             'budget bursts: no interval migrates for more than 35 ms at 1 %',
             mig)
        used = (c1 - c0) / 10e9 * 100
        # the budget of the 10 s and of window_ms (1.2 %), and one batch
        t.ok(used <= 1.5, f'budget bursts: khplacement used {used:.2f} % of a '
             'vCPU over the 10 s (budget 1 %, plus saved credit)', (c0, c1))
        mmcheck.sound(t, g, 'budget bursts')


def settling(t):
    """A process that stops growing is looked at at once: gups first
    touches its buffer on SMEM, then works on its hot set; with
    interval_ms 40000 the next interval (a hurried one: 10 s) would come
    after gups is done, but khplacement looks at a growing process's size
    every 125 ms and starts an interval when it settles.  Whether that one
    interval moves the hot set is figure 3's business (the A/B in
    Documentation/hplacement.md): here it is 1 s after the first touch in
    most runs, but an interval that starts before the updates do finds
    nothing to move."""
    tr = '/sys/kernel/tracing'
    with Guest(fmem='512M') as g:
        g.out(f'echo always > {THP}; echo 40000 > {D}/interval_ms; '
              f'echo 200000 > {D}/budget; '
              f'mount -t tracefs nodev {tr} 2>/dev/null; echo > {tr}/trace; '
              f'echo 1 > {tr}/events/hplacement/hplacement_migrate/enable')
        g.out('gups --size 256M --hot 32M --membind 1 --hot-at end '
              '--duration 8 --json > /tmp/settle.json 2>&1 & '
              'echo $! > /tmp/settle.pid')
        # Enabled while gups first touches: the first interval sees it grow.
        rss = g.out('p=$(cat /tmp/settle.pid); for i in $(seq 400); do '
                    'r=$(awk "/^VmRSS/ {print \\$2}" /proc/$p/status); '
                    '[ "${r:-0}" -ge 16384 ] && break; '
                    'sleep 0.02; done; echo ${r:-0}').strip()
        s0 = stats(g)
        g.out(f'echo 1 > {D}/enabled')
        touched = g.out('while ! grep -q params /tmp/settle.json; do '
                        'sleep 0.02; done; cut -d" " -f1 /proc/uptime').strip()
        g.out('p=$(cat /tmp/settle.pid); while kill -0 $p 2>/dev/null; do '
              'sleep 0.2; done', timeout=120)
        s1 = stats(g)
        g.out(f'echo 0 > {D}/enabled; echo 1000 > {D}/interval_ms; '
              f'echo 10000 > {D}/budget; '
              f'echo 0 > {tr}/events/hplacement/hplacement_migrate/enable')
        ends = [(float(m.group(1)), int(m.group(2))) for m in re.finditer(
            r'\s([\d.]+): hplacement_migrate: .*?promoted=(\d+)',
            g.out(f'cat {tr}/trace'))]
        lines = [json.loads(x) for x in g.out('cat /tmp/settle.json').splitlines()
                 if x.startswith('{')]
        params = next((x['params'] for x in lines if 'params' in x), {})
        fast = [(x['t'], x['hot_node_frac_sampled'].get('0', 0.0))
                for x in lines if 'hot_node_frac_sampled' in x]
        t.diag(f'settling: enabled at {rss} KiB resident, first touch '
               f"{params.get('touch_s')} s, over at {touched} s; intervals "
               f'ended at (s, pages promoted) {ends}; hot set node 0 share '
               f'{fast}; stats {s0} -> {s1}')
        t.ok(params and int(rss) < (256 << 10) and params.get('touch_s', 0) > 0,
             'settling: HPlacement was enabled during the first touch', rss)
        t.ok(s1.get('settled', 0) > s0.get('settled', 0),
             'settling: stats counts an interval brought forward', (s0, s1))
        # The interval at enabling, then one brought forward: with
        # interval_ms 40000 no other comes within gups' 9 s.  The first
        # samples nothing (every process is new to it, so counts as
        # growing) and may trace no migration.
        t.ok(s1.get('intervals', 0) - s0.get('intervals', 0) >= 2 and ends,
             'settling: an interval follows the first within gups\' run',
             (s0, s1, ends))
        near = [e for e, _ in ends
                if float(touched) - 0.5 <= e <= float(touched) + 2]
        early = [e for e, _ in ends if e < float(touched) - 0.5]
        t.ok(near and not early,
             'settling: it ends within 2 s of the first touch\'s end, '
             'and none before (idle processes do not settle)',
             (touched, ends))
        first = next((ts for ts, f in fast if f >= 0.9), None)
        t.diag(f'settling: 90 % of the hot set on node 0 after {first} s')
        mmcheck.sound(t, g, 'settling')


def idle_buffer(g, node, size, tag):
    """An idle process holding SIZE first touched on NODE: (pid, address)."""
    f = f'/tmp/mp.{tag}'
    pid = int(g.out(f'numactl --membind={node} memplace --json --hold 300 '
                    f'{size} > {f} 2>&1 & echo $!').split()[-1])
    out = ''
    for _ in range(150):
        out = g.out(f'cat {f}')
        if '"addr"' in out:
            return pid, int(json.loads(out.strip().splitlines()[-1])['addr'], 16)
        time.sleep(0.2)
    raise RuntimeError(f'memplace did not report: {out}')


def fast_frac(g, pid, start, end):
    out = g.out(f'tierstat --json --range {start:x}-{end:x} {pid}')
    return json.loads(out)['range']['fast_frac'] or 0.0


def injection(t, g):
    """Samples fed through the debugfs injector take the path of PMU
    samples (rings, drain, page lookup, ranges): they alone promote the
    part of an idle buffer they hit, and nothing else."""
    g.out(f'echo 0 > {D}/enabled; echo 200 > {D}/interval_ms; '
          f'echo 500000 > {D}/budget')
    pa, a = idle_buffer(g, 1, '64M', 'a')
    pb, b = idle_buffer(g, 1, '32M', 'b')
    bad = []
    for line, err in BAD_INJECT:
        rc, out = g.sh(f"echo '{line}' > {INJECT}")
        if rc == 0 or err not in out:
            bad.append(f'{line!r}: rc {rc}: {out.strip()}')
    t.ok(not bad, f'{len(BAD_INJECT)} bad injector writes fail with the '
         'right error', '\n'.join(bad))

    v0 = g.vmstat()
    g.out(f'echo 1 > {D}/enabled')
    hot = (a, a + (16 << 20))
    injected, fracs = 0, []
    for _ in range(60):
        rc, _out = g.sh(f'echo "{pa} {hot[0]} {hot[1]} 1000" > {INJECT}')
        injected += 1000 if rc == 0 else 0
        fracs.append(fast_frac(g, pa, *hot))
        if fracs[-1] >= 0.9 and injected >= 10000:
            break
        time.sleep(0.3)
    time.sleep(1)
    g.out(f'echo 0 > {D}/enabled')
    v1 = g.vmstat()
    d = {k: v1[k] - v0[k] for k in COUNTERS}
    t.diag(f'injected: hot part node 0 share {fracs}')
    t.diag(f'injected: counter deltas {d}')
    t.ok(fracs and fracs[-1] >= 0.9,
         'the injected samples bring >= 90 % of their 16 MiB to node 0',
         fracs)
    t.ok(injected > 0 and injected * 0.99 <= d['hpl_samples_injected'] <= injected,
         'hpl_samples_injected counts the injected samples', (injected, d))
    cold = fast_frac(g, pb, b, b + (32 << 20))
    t.ok(cold == 0.0, 'the idle buffer nothing was injected for stays on node 1',
         cold)

    # An excluded process is left alone: its samples are dropped.
    g.out(f'echo "sh memplace" > {D}/exclude; echo 1 > {D}/enabled')
    time.sleep(1)
    v0 = g.vmstat()
    for _ in range(6):
        g.out(f'echo "{pb} {b} {b + (16 << 20)} 1000" > {INJECT}')
        time.sleep(0.4)
    time.sleep(1)
    g.out(f'echo 0 > {D}/enabled')
    v1 = g.vmstat()
    d = {k: v1[k] - v0[k] for k in COUNTERS}
    t.diag(f'excluded: counter deltas {d}')
    cold = fast_frac(g, pb, b, b + (16 << 20))
    t.ok(cold == 0.0 and d['hpl_samples_injected'] == 0 and
         d['hpl_samples_dropped'] >= 6000,
         'exclude: samples of an excluded process are dropped, nothing moves',
         (cold, d))
    g.out(f'echo > {D}/exclude')
    g.out(f'kill {pa} {pb}; echo 1000 > {D}/interval_ms; echo 10000 > {D}/budget')


def core_and_warm(t, g):
    """The hot set's core moves on all of the migration credit, its warm
    rest (ranges less dense than the hot set's mean) only on the credit
    above the half kept for the core.  Two idle buffers on node 1 get
    injected samples, one 16 times as dense as the other.  With a credit
    that starts at 0 and a window too long for it to pass the kept half,
    the dense buffer moves to node 0 and the sparse one waits, counted in
    hpl_warm_held; with a short window at a larger budget it moves too."""
    g.out(f'echo 0 > {D}/enabled; echo 200 > {D}/interval_ms; '
          f'echo 50000 > {D}/budget; echo 600000 > {D}/window_ms')
    pc, c = idle_buffer(g, 1, '16M', 'core')
    pw, w = idle_buffer(g, 1, '32M', 'warm')
    core, warm = (c, c + (16 << 20)), (w, w + (32 << 20))

    def inject():
        g.out(f'echo "{pc} {core[0]} {core[1]} 1000" > {INJECT}; '
              f'echo "{pw} {warm[0]} {warm[1]} 125" > {INJECT}')

    v0 = g.vmstat()
    g.out(f'echo 1 > {D}/enabled')
    fc, fw = [], []
    for _ in range(60):
        inject()
        fc.append(fast_frac(g, pc, *core))
        fw.append(fast_frac(g, pw, *warm))
        if fc[-1] >= 0.9 and len(fc) >= 10:
            break
        time.sleep(0.3)
    v1 = g.vmstat()
    d = {k: v1[k] - v0[k] for k in COUNTERS}
    t.diag(f'core and warm, kept credit: node 0 shares core {fc}, warm {fw}; '
           f'counter deltas {d}')
    t.ok(fc and fc[-1] >= 0.9 and fw[-1] <= 0.1,
         'the core moves to node 0 on the kept credit, the warm rest waits',
         (fc, fw))
    t.ok(d['hpl_warm_held'] > 0,
         'hpl_warm_held counts the intervals the warm rest waited', d)

    g.out(f'echo 200000 > {D}/budget; echo 1000 > {D}/window_ms')
    for _ in range(60):
        inject()
        fw.append(fast_frac(g, pw, *warm))
        if fw[-1] >= 0.9:
            break
        time.sleep(0.3)
    t.diag(f'core and warm, short window: warm node 0 share {fw}')
    t.ok(fw[-1] >= 0.9,
         'with credit above the kept half, the warm rest moves too', fw)
    g.out(f'echo 0 > {D}/enabled; kill {pc} {pw}; echo 1000 > {D}/interval_ms; '
          f'echo 10000 > {D}/budget; echo 10000 > {D}/window_ms')


def demotion(t):
    """With less free FMEM than the headroom, the cold FMEM pages of an
    idle process are demoted until the headroom is free again."""
    with Guest(fmem='512M') as g:
        free = node_free_mb(g, 0)
        size = max(free - 40, 64)
        pid, a = idle_buffer(g, 0, f'{size}M', 'd')
        before = node_free_mb(g, 0)
        t.diag(f'node 0 free: {free} MiB, {before} MiB with {size} MiB held')
        v0 = g.vmstat()
        g.out(f'echo {160 << 20} > {D}/headroom; echo 200 > {D}/interval_ms; '
              f'echo 500000 > {D}/budget; echo 1 > {D}/enabled')
        after = wait_free_mb(g, 0, 150)
        time.sleep(2)
        g.out(f'echo 0 > {D}/enabled')
        v1 = g.vmstat()
        settled = node_free_mb(g, 0)
        d = {k: v1[k] - v0[k] for k in COUNTERS}
        t.diag(f'node 0 free MiB per second: {after}, settled {settled}')
        t.diag(f'counter deltas {d}')
        t.ok(before < 100 and after and after[-1] >= 150,
             'free FMEM climbs back to the 160 MiB headroom', after)
        t.ok(settled < 160 + 64,
             'and demotion stops near the headroom', settled)
        t.ok(d['hpl_demotions'] * 4 >= (150 - before) * 1024 * 0.9,
             'hpl_demotions counts the demoted pages', d)
        # Hot page cache on node 1 (program data) may be promoted once
        # the headroom is free again, into the room above it only.
        # Exchanges take no room and may run below it.
        t.ok(d['hpl_promotions'] * 4 <= max(settled - 160, 0) * 1024,
             'nothing is promoted below the headroom', (settled, d))
        frac = fast_frac(g, pid, a, a + (size << 20))
        t.ok(frac < 1.0, 'the demoted pages are the idle buffer\'s', frac)
        iso = mmcheck.isolated(g)
        t.ok(len(iso) == 2 and not any(iso.values()),
             'demotion: nr_isolated_* back to 0', iso)
        bad = mmcheck.bad_log(g)
        t.ok(not bad, 'demotion: kernel log clean', '\n'.join(bad[:40]))


def file_pages(t):
    """Page cache of a shared tmpfs mapping: a hot set first touched on
    SMEM is promoted, and cold FMEM file pages are demoted below the
    headroom, with NR_ISOLATED_FILE and NR_ISOLATED_ANON balanced."""
    with Guest(fmem='512M') as g:
        g.out('mkdir -p /mnt/t && mount -t tmpfs -o size=1G tmpfs /mnt/t')
        g.out(f'echo 500000 > {D}/budget; echo 1 > {D}/enabled')
        rc, out, lines, fast, d = gups_enabled(
            g, '--file /mnt/t/hot --size 128M --hot 16M --membind 1 '
            '--hot-at end --duration 25')
        t.diag(f'tmpfs hot set node 0 share per interval {fast}; deltas {d}')
        params = next((x['params'] for x in lines if 'params' in x), {})
        t.eq(params.get('file'), '/mnt/t/hot', 'gups mapped the tmpfs file')
        # HPlacement runs from the start: by gups' first report it may have
        # moved much of the hot set; hpl_promotions shows the move.
        t.ok(rc == 0 and fast and fast[-1] >= 0.9,
             'file pages: >= 90 % of a tmpfs hot set first on node 1 reaches '
             'node 0', out[-2000:])
        t.ok(d['hpl_promotions'] >= 0.9 * (16 << 20) // 4096,
             'file pages: hpl_promotions counts them', d)

        g.out('rm /mnt/t/hot; sleep 1')
        # Cold file pages held on FMEM; the headroom is set ~96 MiB above
        # what the fill left free, whatever that came to.
        size = max(node_free_mb(g, 0) - 40, 128)
        g.out(f'gups --file /mnt/t/cold --size {size}M --hot 4K --hot-frac 1 '
              f'--membind 0 --duration 120 > /tmp/cold.json 2>&1 &')
        g.out('for i in $(seq 300); do grep -q params /tmp/cold.json && break; '
              'sleep 0.2; done', timeout=120)
        before = node_free_mb(g, 0)
        want = before + min(96, size // 2)
        v0 = g.vmstat()
        g.out(f'echo {want << 20} > {D}/headroom; echo 200 > {D}/interval_ms; '
              f'echo 1 > {D}/enabled')
        after = wait_free_mb(g, 0, want - 10)
        g.out(f'echo 0 > {D}/enabled; echo 0 > {D}/headroom')
        v1 = g.vmstat()
        d = {k: v1[k] - v0[k] for k in COUNTERS}
        t.diag(f'tmpfs cold ({size} MiB): node 0 free MiB {before} -> {after}, '
               f'headroom {want} MiB; deltas {d}')
        t.ok(after and after[-1] >= want - 10 and
             d['hpl_demotions'] * 4 >= (want - 10 - before) * 1024 * 0.9,
             'file pages: cold tmpfs pages are demoted to the headroom',
             (before, after, d))
        g.out('pkill gups; sleep 1')
        iso = mmcheck.isolated(g)
        t.ok(len(iso) == 2 and not any(iso.values()),
             'file pages: nr_isolated_anon and nr_isolated_file back to 0', iso)
        bad = mmcheck.bad_log(g)
        t.ok(not bad, 'file pages: kernel log clean', '\n'.join(bad[:40]))


def node_free_mb(g, node):
    return g.node_meminfo(node)['MemFree'] >> 20


def wait_free_mb(g, node, mb, timeout=60):
    """Free MiB of @node once a second until @mb are free or @timeout s."""
    after = []
    for _ in range(timeout):
        time.sleep(1)
        after.append(node_free_mb(g, node))
        if after[-1] >= mb:
            break
    return after


def hballoon_nodes(g):
    return {n['node']: n for n in g.qmp.cmd('query-hballoon')}


def balloon_link(t):
    """With HBalloon, the host sees per node the hot and cold bytes that
    HPlacement found, only while it runs; ballooned FMEM is not counted
    as room for the hot set."""
    with Guest(qemu_args=['-device', 'virtio-hballoon-pci,id=hb']) as g:
        time.sleep(2.5)
        before = hballoon_nodes(g)
        t.ok(before and all('stat-total' in n and 'stat-hot' not in n
                            for n in before.values()),
             'HPlacement off: stats without hot/cold bytes', before)
        g.out('gups --size 256M --hot 32M --membind 1 --hot-at end '
              '--duration 25 > /dev/null 2>&1 &')
        g.out(f'echo 500000 > {D}/budget; echo 500 > {D}/interval_ms; '
              f'echo 1 > {D}/enabled')
        time.sleep(8)
        nodes = hballoon_nodes(g)
        t.diag({k: {f: v for f, v in n.items() if f.startswith('stat-')}
                for k, n in nodes.items()})
        ok = all('stat-hot' in n and 'stat-cold' in n for n in nodes.values())
        t.ok(ok, 'HPlacement on: every node reports stat-hot and stat-cold',
             nodes)
        if ok:
            hot = sum(n['stat-hot'] for n in nodes.values())
            t.ok(16 << 20 <= hot <= 300 << 20,
                 f'hot bytes ({hot >> 20} MiB) are about the gups hot set',
                 nodes)
            t.ok(all(n['stat-hot'] + n['stat-cold'] <= n['stat-total']
                     for n in nodes.values()),
                 'hot + cold never exceed the node', nodes)
        # Give 512 MiB of FMEM back to the host: the FMEM counted as
        # capacity shrinks with it.
        g.qmp.cmd('hballoon-set-size', node=0, size=512 << 20)
        for _ in range(60):
            if hballoon_nodes(g)[0].get('actual') == 512 << 20:
                break
            time.sleep(0.5)
        time.sleep(3)
        nodes = hballoon_nodes(g)
        n0 = nodes[0]
        t.ok(n0.get('actual') == 512 << 20 and 'stat-hot' in n0 and
             n0['stat-hot'] + n0['stat-cold'] <= 512 << 20,
             'FMEM shrunk by the balloon: hot + cold bytes fit the rest', n0)
        g.out(f'echo 0 > {D}/enabled; kill $(pidof gups) || true')
        time.sleep(3)
        after = hballoon_nodes(g)
        t.ok(all('stat-hot' not in n for n in after.values()),
             'HPlacement off again: hot/cold bytes no longer reported', after)
        bad = mmcheck.bad_log(g)
        t.ok(not bad, 'balloon link: kernel log clean', '\n'.join(bad[:40]))


def balloon_demotion(t):
    """The host shrinks FMEM below what the guest uses: with HPlacement off
    the balloon waits for memory; on, the coldest FMEM pages are demoted
    until the balloon has its pages, and no further."""
    with Guest(fmem='512M', qemu_args=['-device', 'virtio-hballoon-pci,id=hb']) as g:
        size = max(node_free_mb(g, 0) - 48, 64)
        pid, a = idle_buffer(g, 0, f'{size}M', 'b')
        free = node_free_mb(g, 0)
        target = 384 << 20          # 128 MiB to the host, ~48 MiB free
        g.qmp.cmd('hballoon-set-size', node=0, size=target)
        time.sleep(4)
        off = hballoon_nodes(g)[0]['actual']
        t.diag(f'node 0 free {free} MiB with {size} MiB held; HPlacement off: '
               f'node 0 at {off >> 20} MiB of the {target >> 20} asked')
        t.ok(off > target, 'HPlacement off: the balloon waits for FMEM', off)
        v0 = g.vmstat()
        g.out(f'echo 500000 > {D}/budget; echo 200 > {D}/interval_ms; '
              f'echo 1 > {D}/enabled')
        t0 = time.monotonic()
        while time.monotonic() - t0 < 90:
            if hballoon_nodes(g)[0]['actual'] == target:
                break
            time.sleep(0.5)
        took = time.monotonic() - t0
        time.sleep(2)       # an interval that began before may still end
        v1 = g.vmstat()
        time.sleep(2)
        v2 = g.vmstat()
        g.out(f'echo 0 > {D}/enabled')
        d = {k: v1[k] - v0[k] for k in COUNTERS}
        t.diag(f'HPlacement on: target reached after {took:.1f} s; deltas {d}')
        t.ok(hballoon_nodes(g)[0]['actual'] == target,
             'HPlacement on: cold FMEM pages make room, the balloon reaches '
             'its target', hballoon_nodes(g)[0])
        t.ok(d['hpl_demotions'] * 4 >= ((512 - (target >> 20)) - free) * 1024 * 0.5,
             'the room came from demotions (hpl_demotions)', d)
        t.diag(f'demotions 2-4 s after the target: '
               f'{v2["hpl_demotions"] - v1["hpl_demotions"]}')
        # Demoting on would move ~10000 pages in 2 s; a last batch that
        # raced with the balloon's final inflation may still land.
        t.ok(v2['hpl_demotions'] - v1['hpl_demotions'] <= 1024,
             'demotion stops once the balloon has its pages',
             v2['hpl_demotions'] - v1['hpl_demotions'])
        frac = fast_frac(g, pid, a, a + (size << 20))
        t.ok(frac < 1.0, 'the demoted pages are the idle buffer\'s', frac)
        iso = mmcheck.isolated(g)
        t.ok(len(iso) == 2 and not any(iso.values()),
             'balloon demotion: nr_isolated_* back to 0', iso)
        bad = mmcheck.bad_log(g)
        t.ok(not bad, 'balloon demotion: kernel log clean', '\n'.join(bad[:40]))


def check_pebs(t):
    """scripts/check-pebs.sh: real PMU samples flow (exit 0) or it says
    why there is nothing to check here (exit 77), never a silent pass."""
    out = os.path.join(tempfile.mkdtemp(prefix='ht-pebs-'), 'pebs.json')
    r = subprocess.run([os.path.join(paths.TOP, 'scripts/check-pebs.sh'),
                        '--seconds', '4', '--json', out],
                       capture_output=True, text=True, timeout=600)
    try:
        with open(out) as f:
            rep = json.load(f)
    except (OSError, ValueError):
        rep = {}
    g = rep.get('guest', {})
    d = g.get('deltas', {})
    t.diag(f'check-pebs: exit {r.returncode}: {rep.get("verdict")}')
    if r.returncode == 0:
        t.ok(d.get('hpl_samples_pebs', 0) + d.get('hpl_samples_ibs', 0) > 0,
             'check-pebs: PMU samples reach HPlacement', rep)
    else:
        t.ok(r.returncode == 77 and 'nothing to check here' in rep.get('verdict', '')
             and g.get('source') == 'abit' and d.get('hpl_samples_abit', 0) > 0,
             'check-pebs: no PMU here, said so; the guest sampled with abit',
             r.stdout[-3000:] + r.stderr[-3000:])
