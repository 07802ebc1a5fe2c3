#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Figure 3: detection timeline.  The same gups run (hot set first touched
on SMEM) under each placement peer, in the same guest kernel: the share of
the hot set on FMEM (gups' move_pages sample) and gups' updates/s per
second, and a second scenario where the hot set moves half way.

Peers: no management (first touch), Linux tiering (TPP's design:
numa_balancing=2 + demotion_enabled), DAMON (migrate_hot on node 1's
physical range, migrate_cold on node 0's, DAMON sysfs, paddr), HPlacement
(abit source: this guest has no PMU) at its default budget and at a raised
one, and an oracle (the hot set first touched in FMEM).

Sizing: FMEM 256M, of which a cold filler process holds all but 96 MiB, so
the 32 MiB hot set fits in free FMEM three times over but the 256 MiB gups
buffer does not (a policy cannot win by promoting everything; promoting cold
pages costs room that must be won back by demotion or exchange).

Each (peer, run) boots a fresh guest so that no peer inherits another's
placement.  The guest CPU numbers (figure 4) are measured in the same runs.
Absolute times are TCG (emulated guest) seconds."""
import json
import math
import os
import re

import common
from common import progress
from ht.guest import Guest

MiB = 1 << 20
FMEM, SMEM = '256M', '1G'
FREE_FMEM = 96 * MiB
SIZE, HOT = '256M', '32M'
# Reports every 0.25 s (times to 90 % were whole seconds): 512 hot pages
# queried each (32 per THP), half of what 4096 a second cost gups.
GUPS = f'--size {SIZE} --hot {HOT} --interval 0.25 --hot-sample 512 --json'
DURATION = int(os.environ.get('HT_BENCH_DETECT_S', '15'))
SHIFT_DURATION = int(os.environ.get('HT_BENCH_SHIFT_S', '20'))
RUNS = int(os.environ.get('BENCH_RUNS') or os.environ.get('HT_BENCH_RUNS') or '3')
SHIFT_RUNS = int(os.environ.get('BENCH_SHIFT_RUNS', '1'))
TIER_EMU = os.environ.get('HT_BENCH_TIER_EMU', '1') != '0'
# Seconds between a peer's setup and gups' start: placement is a system
# service running before the workload starts, and HPlacement's budget saves
# for window_ms (10 s) what it does not use (see one_run()).
LEAD_S = float(os.environ.get('HT_BENCH_LEAD_S', '10'))
HPL = '/sys/kernel/mm/hplacement'
XCHG_PARAMS = '/sys/module/virtio_hballoon/parameters'
# Every guest has the device, so that all peers run on the same machine;
# only HPlacement uses its exchange queue (folio_copier_begin()).
DEVICE = ['-device', 'virtio-hballoon-pci,id=hb']
DAMON = '/sys/kernel/mm/damon/admin'
HZ = 100        # USER_HZ of /proc/*/stat

# vmstat counters kept per run (deltas over the measured window)
VMSTAT = ['hpl_sample_ns', 'hpl_classify_ns', 'hpl_migrate_ns', 'hpl_samples_fmem',
          'hpl_samples_smem', 'hpl_splits', 'hpl_merges', 'hpl_promotions',
          'hpl_exchanges', 'hpl_demotions', 'hpl_throttles', 'pgpromote_success',
          'pgdemote_kswapd', 'pgdemote_direct', 'pgmigrate_success',
          'numa_hint_faults', 'numa_pte_updates', 'exchange_success',
          'copier_swap', 'copier_copy', 'copier_fail', 'hpl_promote_fail',
          'hpl_exchange_fail', 'hpl_demote_fail', 'hpl_exchange_splits',
          'hpl_exchange_splits_hot', 'hpl_warm_held',
          'exchange_fail_busy', 'exchange_fail_order', 'exchange_fail_type']
# of those, kept per second too
SERIES_VMSTAT = ('hpl_promotions', 'hpl_exchanges', 'hpl_demotions', 'pgpromote_success',
                 'hpl_migrate_ns', 'hpl_sample_ns')
KTHREADS = ('khplacement', 'kdamond', 'kswapd', 'kcompactd')


class Unavailable(Exception):
    """A peer that this guest cannot run; reported, never replaced."""


class Peer:
    gups = '--membind 1 --hot-at end'
    note = ''

    def setup(self, g):
        return {}

    def after(self, g):
        """What to keep from the guest once gups ended (tracing tools)."""
        return None


class NoManagement(Peer):
    name, label = 'none', 'no management (first touch)'


class LinuxTiering(Peer):
    name, label = 'linux-tpp', 'Linux tiering (numa_balancing=2 + demotion)'

    def setup(self, g):
        for f in ('/proc/sys/kernel/numa_balancing',
                  '/sys/kernel/mm/numa/demotion_enabled'):
            if g.sh(f'test -w {f}')[0]:
                raise Unavailable(f'{f} missing')
        g.out('echo 2 > /proc/sys/kernel/numa_balancing; '
              'echo 1 > /sys/kernel/mm/numa/demotion_enabled')
        return {'numa_balancing': g.read('/proc/sys/kernel/numa_balancing'),
                'demotion_enabled': g.read('/sys/kernel/mm/numa/demotion_enabled'),
                'promote_rate_limit_MBps': g.read(
                    '/proc/sys/kernel/numa_balancing_promote_rate_limit_MBps')}


def node_range(g, node):
    """Physical [start, end) of a node's memory blocks."""
    bs = int(g.read('/sys/devices/system/memory/block_size_bytes'), 16)
    ids = sorted(int(x) for x in re.findall(
        r'memory(\d+)', g.out(f'ls -d /sys/devices/system/node/node{node}/memory*')))
    if not ids or ids != list(range(ids[0], ids[-1] + 1)):
        raise Unavailable(f'node {node} memory blocks not contiguous: {ids}')
    return ids[0] * bs, (ids[-1] + 1) * bs


class Damon(Peer):
    name, label = 'damon', 'DAMON migrate_hot/migrate_cold (paddr)'
    # HMSDK's published DAMON tiering settings (sample 5 ms, aggregation
    # 100 ms, so nr_accesses counts 0..20 per region): hot = access rate
    # >= 5 % (1 of 20), cold = 0 %, schemes applied every 1 s with a quota
    # of 200 MiB per second each; plus a minimum cold age of 1 s (10
    # aggregations) so that one quiet aggregation does not demote.
    ATTRS = {'sample_us': 5000, 'aggr_us': 100000, 'update_us': 1000000}
    HOT = {'nr_accesses': (1, 20), 'age': (0, 4294967295)}
    COLD = {'nr_accesses': (0, 0), 'age': (10, 4294967295)}
    APPLY_US = 1000000
    QUOTA = 200 * MiB
    note = ('two kdamonds (one context each): migrate_hot target_nid 0 on '
            "node 1's physical range, migrate_cold target_nid 1 on node 0's; "
            'HMSDK settings: sample 5 ms, aggregation 100 ms, hot = access rate '
            '>= 5 %, cold = 0 % for >= 1 s, apply interval 1 s, quota 200 MiB/s '
            'per scheme')

    def setup(self, g):
        if g.sh(f'test -d {DAMON}/kdamonds')[0]:
            raise Unavailable('no DAMON sysfs (CONFIG_DAMON_SYSFS)')
        g.out(f'echo 2 > {DAMON}/kdamonds/nr_kdamonds')
        info = {}
        for k, (node, action, nid, pat) in enumerate(
                ((1, 'migrate_hot', 0, self.HOT), (0, 'migrate_cold', 1, self.COLD))):
            start, end = node_range(g, node)
            c = f'{DAMON}/kdamonds/{k}/contexts'
            g.out(f'echo 1 > {c}/nr_contexts')
            c += '/0'
            if 'paddr' not in g.read(f'{c}/avail_operations').split():
                raise Unavailable('DAMON has no paddr operations')
            s = f'{c}/schemes/0'
            script = [f'echo paddr > {c}/operations',
                      *[f'echo {v} > {c}/monitoring_attrs/intervals/{f}'
                        for f, v in self.ATTRS.items()],
                      f'echo 10 > {c}/monitoring_attrs/nr_regions/min',
                      f'echo 1000 > {c}/monitoring_attrs/nr_regions/max',
                      f'echo 1 > {c}/targets/nr_targets',
                      f'echo 1 > {c}/targets/0/regions/nr_regions',
                      f'echo {start} > {c}/targets/0/regions/0/start',
                      f'echo {end} > {c}/targets/0/regions/0/end',
                      f'echo 1 > {c}/schemes/nr_schemes']
            g.out('; '.join(script))
            rc, out = g.sh(f'echo {action} > {s}/action')
            if rc:
                raise Unavailable(f'DAMOS action {action} refused: {out.strip()}')
            script = [f'echo {nid} > {s}/target_nid',
                      f'echo 4096 > {s}/access_pattern/sz/min',
                      f'echo {1 << 40} > {s}/access_pattern/sz/max']
            for key, (lo, hi) in pat.items():
                script += [f'echo {hi} > {s}/access_pattern/{key}/max',
                           f'echo {lo} > {s}/access_pattern/{key}/min']
            script += [f'echo 0 > {s}/quotas/ms', f'echo {self.QUOTA} > {s}/quotas/bytes',
                       f'echo 1000 > {s}/quotas/reset_interval_ms',
                       f'echo {self.APPLY_US} > {s}/apply_interval_us',
                       f'echo none > {s}/watermarks/metric']
            g.out('; '.join(script))
            info[action] = {'node_range': [hex(start), hex(end)], 'target_nid': nid,
                            'access_pattern': pat}
        for k in (0, 1):
            rc, out = g.sh(f'echo on > {DAMON}/kdamonds/{k}/state')
            if rc:
                raise Unavailable(f'kdamond {k} did not start: {out.strip()}')
        info['attrs'] = self.ATTRS
        info['apply_interval_us'] = self.APPLY_US
        info['quota_bytes_per_s'] = self.QUOTA
        return info

    def stats(self, g):
        out = {}
        for k, action in ((0, 'migrate_hot'), (1, 'migrate_cold')):
            s = f'{DAMON}/kdamonds/{k}/contexts/0/schemes/0/stats'
            g.sh(f'echo update_schemes_stats > {DAMON}/kdamonds/{k}/state')
            out[action] = {f: int(g.read(f'{s}/{f}'))
                           for f in ('nr_tried', 'sz_tried', 'nr_applied',
                                     'sz_applied', 'qt_exceeds')}
        return out


class HPlacement(Peer):
    def __init__(self, budget, host_copies=True):
        self.budget = budget
        self.host_copies = host_copies
        self.name = f'hplacement-{budget}'
        self.label = f'HPlacement abit, budget {budget} ppm'
        if budget == 10000:
            self.label += ' (default)'
        if not host_copies:
            self.name += '-cpu'
            self.label += ', guest CPU copies'

    def setup(self, g):
        if g.sh(f'test -d {HPL}')[0]:
            raise Unavailable('no /sys/kernel/mm/hplacement')
        # The guests have virtio-hballoon: the host copies THPs and swaps
        # exchange batches for khplacement unless exchange_offload=0.
        offload = int(self.host_copies)
        g.out(f'echo {offload} > {XCHG_PARAMS}/exchange_offload')
        g.out(f'echo {self.budget} > {HPL}/budget; echo 1 > {HPL}/enabled')
        return {'budget_ppm': self.budget, 'host_copies': self.host_copies,
                'exchange_min_kb': g.read(f'{XCHG_PARAMS}/exchange_min_kb'),
                'stats': g.read(f'{HPL}/stats'),
                'interval_ms': g.read(f'{HPL}/interval_ms'),
                'headroom': g.read(f'{HPL}/headroom')}


class Oracle(Peer):
    name = 'oracle'
    label = 'oracle (hot set first-touched in FMEM)'
    gups = '--hot-at start'
    note = ('gups --hot-at start without --membind: the buffer is written in '
            'order, so the hot set at its start takes free FMEM first and the '
            'rest spills to SMEM; nothing moves it afterwards. Same filler and '
            'free FMEM as the others; an upper bound, not a policy')


def peers():
    return [NoManagement(), LinuxTiering(), Damon(), HPlacement(10000),
            HPlacement(10000, host_copies=False), HPlacement(50000),
            HPlacement(200000), Oracle()]


SNAP = (r'''snap() { cat /proc/uptime; head -1 /proc/stat; '''
        r'''grep -E '^(%s) ' /proc/vmstat; '''
        r'''for d in /proc/[0-9]*; do read c < $d/comm 2>/dev/null || continue; '''
        r'''case $c in khplacement|kdamond*|kswapd*|kcompactd*|gups) '''
        r'''echo "task $c ${d#/proc/} $(cut -d' ' -f14,15 $d/stat)";; esac; done; }'''
        % '|'.join(VMSTAT))


def parse_snap(text):
    up = float(text.split()[0])
    cpu = [int(x) for x in re.search(r'^cpu\s+(.*)$', text, re.M).group(1).split()]
    vm = {k: int(v) for k, v in re.findall(r'^(\w+) (\d+)$', text, re.M)}
    tasks = {}
    for comm, pid, ut, st in re.findall(r'^task (\S+) (\d+) (\d+) (\d+)$', text, re.M):
        tasks[f'{comm}:{pid}'] = (int(ut), int(st))
    return {'uptime': up, 'cpu': cpu, 'vmstat': vm, 'tasks': tasks}


def cpu_breakdown(s0, s1):
    """Guest CPU over the window, in % of one vCPU."""
    w = s1['uptime'] - s0['uptime']
    pct = lambda ticks: 100.0 * ticks / HZ / w if w > 0 else None  # noqa: E731
    # /proc/stat ticks go missing when the host starves the TCG guest, so
    # its shares are taken of the ticks counted (x 2 vCPUs); per-task times
    # come from the scheduler's runtime and are taken of the window.
    d = [b - a for a, b in zip(s0['cpu'], s1['cpu'])]
    tot = sum(d[:8]) or 1
    share = lambda ticks: 200.0 * ticks / tot  # noqa: E731
    out = {'window_s': w, 'stat_ticks': tot,
           'user': share(d[0] + d[1]), 'system': share(d[2] + d[5] + d[6]),
           'idle': share(d[3] + d[4]), 'vcpus': 2}
    for k in KTHREADS + ('gups',):
        out[k] = 0.0
    for name, (ut, st) in s1['tasks'].items():
        if name not in s0['tasks']:
            continue
        u0, st0 = s0['tasks'][name]
        comm = name.split(':')[0]
        if comm == 'gups':
            out['gups'] += pct(st - st0)
            out['gups_user'] = pct(ut - u0)
            continue
        for k in KTHREADS:
            if comm.startswith(k):
                out[k] += pct(ut - u0 + st - st0)
    vm = {k: s1['vmstat'].get(k, 0) - s0['vmstat'].get(k, 0) for k in VMSTAT}
    for stage in ('sample', 'classify', 'migrate'):
        out[f'hpl_{stage}'] = 100.0 * vm[f'hpl_{stage}_ns'] / 1e9 / w if w > 0 else None
    out['other_system'] = max(0.0, out['system'] - out['gups'] -
                              sum(out[k] for k in KTHREADS))
    return out, vm


def placement_pct(cpu):
    """Guest CPU spent on placement, in % of one vCPU: HPlacement's
    stages and the rest of khplacement, kdamond, kswapd, kcompactd and
    the workload's system time (NUMA balancing's scans and hint faults)."""
    rest = max(0.0, cpu['khplacement'] - cpu['hpl_sample'] - cpu['hpl_classify']
               - cpu['hpl_migrate'])
    return (cpu['hpl_sample'] + cpu['hpl_classify'] + cpu['hpl_migrate'] + rest
            + cpu['kdamond'] + cpu['kswapd'] + cpu['kcompactd'] + cpu['gups'])


def cpu_s_to(run, t):
    """Placement CPU-seconds from the start of the updates until @t."""
    if t is None:
        return None
    return next((x['placement_cpu_s'] for x in run.get('cpu_series', [])
                 if x['t'] >= t - 0.05), None)


def one_run(peer, duration, shift_at=None, run_vm_args=(), lead_s=None):
    """Boot (run-vm with @run_vm_args too), fill FMEM, set the peer up,
    wait @lead_s (LEAD_S: a peer running since before the workload, as a
    system service does, rather than one started with it), run gups;
    returns the run's data."""
    lead_s = LEAD_S if lead_s is None else lead_s
    args = ['--tcg-opts', 'tier-emulation=on'] if TIER_EMU else []
    args += list(run_vm_args)
    with Guest(fmem=FMEM, smem=SMEM, cpus=2, run_vm_args=args,
               qemu_args=DEVICE, boot_timeout=120) as g:
        free = int(re.search(r'MemFree:\s+(\d+) kB', g.read(
            '/sys/devices/system/node/node0/meminfo')).group(1)) * 1024
        filler = max(free - FREE_FMEM, 0) // MiB
        g.out(f'numactl --membind=0 memplace --json --hold 3600 {filler}M '
              '> /tmp/filler.json 2>&1 &')
        g.out('for i in $(seq 600); do grep -q addr /tmp/filler.json && break; '
              'sleep 0.1; done; grep -q addr /tmp/filler.json', timeout=120)
        free0 = int(re.search(r'MemFree:\s+(\d+) kB', g.read(
            '/sys/devices/system/node/node0/meminfo')).group(1)) * 1024
        run = {'peer': peer.name, 'filler': filler * MiB, 'fmem_free_at_start': free0}
        try:
            run['setup'] = peer.setup(g)
        except Unavailable as e:
            run['unavailable'] = str(e)
            return run
        run['lead_s'] = lead_s
        # The budget holds over time since enabling, not over any window.
        g.out(SNAP + '\nsnap > /tmp/sset')
        if lead_s:
            g.out(f'sleep {lead_s}', timeout=lead_s + 60)
        gargs = f'{GUPS} {peer.gups} --duration {duration}'
        if shift_at:
            gargs += f' --shift-at {shift_at}'
        run['gups'] = f'gups {gargs}'
        script = (SNAP + f'\ngups {gargs} > /tmp/g.json 2>/tmp/g.err & p=$!\n'
                  'while ! grep -q params /tmp/g.json; do '
                  'kill -0 $p 2>/dev/null || break; sleep 0.05; done\n'
                  'snap > /tmp/s0\n'
                  '(while :; do sleep 1; snap; echo @@; done) > /tmp/sk & l=$!\n'
                  f'sleep {duration - 1}; snap > /tmp/s1; kill $l\n'
                  'wait $p; echo "rc $?"')
        h0 = g.qmp.cmd('query-hballoon-exchange')
        out = g.out(script, timeout=duration * 4 + 300)
        h1 = g.qmp.cmd('query-hballoon-exchange')
        # What the host did for the guest (around the whole gups run).
        run['host_exchange'] = {k: h1[k] - h0[k] for k in
                                ('requests', 'entries', 'copies', 'bytes',
                                 'host-ns', 'delay-ns')}
        run['gups_rc'] = int(re.search(r'rc (\d+)', out).group(1))
        lines = [json.loads(x) for x in g.out('cat /tmp/g.json').splitlines()
                 if x.startswith('{')]
        run['series'] = [{'t': x['t'], 'updates_per_s': x['updates_per_s'],
                          'fmem_frac': x['hot_node_frac_sampled'].get('0', 0.0),
                          'hot_offset': x.get('hot_offset')}
                         for x in lines if 't' in x and 'updates_per_s' in x]
        run['shift'] = next((x for x in lines if x.get('event') == 'shift'), None)
        run['summary'] = next((x['summary'] for x in lines if 'summary' in x), None)
        s0, s1 = (parse_snap(g.read(f'/tmp/s{i}')) for i in (0, 1))
        run['cpu'], run['vmstat'] = cpu_breakdown(s0, s1)
        run['cpu_since_setup'], _ = cpu_breakdown(
            parse_snap(g.read('/tmp/sset')), s1)
        # placement CPU over time, from the snapshots taken every second
        run['cpu_series'] = []
        for text in g.read('/tmp/sk').split('@@'):
            if 'cpu ' not in text:
                continue
            try:
                c, vm = cpu_breakdown(s0, parse_snap(text))
            except (AttributeError, ValueError):
                continue    # cut short by the kill
            # what had moved by then: when the budget went to the hot set
            run['cpu_series'].append({'t': round(c['window_s'], 3),
                                      'placement_cpu_s': round(
                                          placement_pct(c) * c['window_s'] / 100, 4),
                                      **{k: vm[k] for k in SERIES_VMSTAT}})
        if isinstance(peer, Damon):
            run['damon_stats'] = peer.stats(g)
        if isinstance(peer, HPlacement):
            run['hpl_stats_end'] = g.read(f'{HPL}/stats')
        extra = peer.after(g)
        if extra is not None:
            run['after'] = extra
        run['fmem_free_at_end'] = int(re.search(r'MemFree:\s+(\d+) kB', g.read(
            '/sys/devices/system/node/node0/meminfo')).group(1)) * 1024
        if run['gups_rc'] != 0 or not run['series']:
            raise RuntimeError(f'{peer.name}: gups failed: '
                               + g.out('cat /tmp/g.err /tmp/g.json')[-2000:])
    return run


def time_to(series, frac, after=0.0):
    return next((round(x['t'] - after, 3) for x in series
                 if x['t'] > after and x['fmem_frac'] >= frac), None)


def med_inf(vals):
    """Median where None (never reached) counts as infinitely late."""
    if not vals:
        return None
    v = sorted(math.inf if x is None else x for x in vals)
    m = v[len(v) // 2] if len(v) % 2 else (v[len(v) // 2 - 1] + v[len(v) // 2]) / 2
    return None if math.isinf(m) else m


def scenario(name, duration, shift_at, runs, plist):
    """Every peer once per run, interleaved, so that host drift hits all."""
    total = runs * len(plist)
    est = total * (duration + 14)
    res = {p.name: [] for p in plist}
    done = 0
    for i in range(runs):
        for p in plist:
            progress(f'{name}: run {i + 1}/{runs}, {p.label}: booting '
                     f'({done}/{total} done, ~{est - done * (duration + 14):.0f} s left)')
            for attempt in (1, 2):
                try:
                    r = one_run(p, duration, shift_at)
                    break
                except Exception as e:  # pylint: disable=broad-except
                    # a starved TCG guest can time out: retry once, then
                    # record the failure (never a number) and go on
                    progress(f'  run failed ({type(e).__name__}: '
                             f'{str(e).splitlines()[0][:200]})'
                             + ('; retrying' if attempt == 1 else ''))
                    r = {'peer': p.name, 'error': str(e)[-3000:]}
            done += 1
            if 'error' in r:
                pass
            elif 'unavailable' in r:
                progress(f'  {p.name} UNAVAILABLE: {r["unavailable"]}')
            else:
                s = r['series']
                progress(f'  FMEM share of the hot set: {s[0]["fmem_frac"]:.2f} -> '
                         f'{s[-1]["fmem_frac"]:.2f}, 90 % at {time_to(s, 0.9)} s; '
                         f'{r["summary"]["updates_per_s"] / 1e6:.2f} M updates/s')
            res[p.name].append(r)
    return res


usable = common.usable


def reduce(runs_by_peer, shift_at=None):
    out = {}
    for name, runs in runs_by_peer.items():
        ok = usable(runs)
        if not ok:
            out[name] = {'unavailable': common.why_unusable(runs)}
            continue
        t90 = [time_to(r['series'], 0.9) for r in ok]
        d = {'time_to_90_s': med_inf(t90), 'time_to_90_runs': t90,
             'reached_90': sum(t is not None for t in t90), 'runs': len(ok),
             'final_fmem_frac': common.summary([r['series'][-1]['fmem_frac'] for r in ok]),
             'max_fmem_frac': common.summary([max(x['fmem_frac'] for x in r['series'])
                                              for r in ok]),
             'updates_per_s': common.summary([r['summary']['updates_per_s'] for r in ok]),
             'placement_cpu_s_to_90': med_inf([cpu_s_to(r, t) for r, t in zip(ok, t90)]),
             'placement_cpu_s_to_90_runs': [cpu_s_to(r, t) for r, t in zip(ok, t90)],
             'failed_runs': len([r for r in runs if 'error' in r]),
             # khplacement's CPU over gups' updates and since enabling
             'khplacement_pct': common.summary(
                 [r['cpu']['khplacement'] for r in ok]),
             'khplacement_pct_since_setup': common.summary(
                 [r.get('cpu_since_setup', {}).get('khplacement') for r in ok])}
        if shift_at:
            # gups' shift event time; reports after it are of the new hot set
            ts = [(r['shift'] or {}).get('t', shift_at) for r in ok]
            before = [[x for x in r['series'] if x['t'] < t] for r, t in zip(ok, ts)]
            after = [[x for x in r['series'] if x['t'] > t] for r, t in zip(ok, ts)]
            d['fmem_frac_before_shift'] = common.summary(
                [b[-1]['fmem_frac'] if b else None for b in before])
            d['fmem_frac_first_after_shift'] = common.summary(
                [a[0]['fmem_frac'] if a else None for a in after])
            t90s = [time_to(r['series'], 0.9, after=t) for r, t in zip(ok, ts)]
            d['time_to_90_after_shift_s'] = med_inf(t90s)
            d['time_to_90_after_shift_runs'] = t90s
        out[name] = d
    return out


def ratios(runs_by_peer, key='time_to_90'):
    """Per run: HPlacement's time to 90 % over the best non-HPlacement,
    non-oracle peer's of the same run; median over runs."""
    out = {}
    others = [n for n in runs_by_peer if n in ('none', 'linux-tpp', 'damon')]
    nruns = max(len(v) for v in runs_by_peer.values())
    for h in [n for n in runs_by_peer if n.startswith('hplacement')]:
        per = []
        for i in range(nruns):
            def t(n):
                rs = runs_by_peer[n]
                if i >= len(rs) or not usable([rs[i]]):
                    return None
                t90 = time_to(rs[i]['series'], 0.9)
                return t90 if key == 'time_to_90' else cpu_s_to(rs[i], t90)
            best = [t(n) for n in others if t(n) is not None]
            th = t(h)
            per.append(th / max(min(best), 1e-3) if best and th is not None else None)
            if best and th is None:
                per[-1] = math.inf
        vals = [v for v in per if v is not None]
        reached = [time_to(r['series'], 0.9) is not None for r in usable(runs_by_peer[h])]
        out[h] = {'hplacement_reached_90': sum(reached),
                  'runs_where_a_peer_reached_90': sum(
                      1 for i in range(nruns)
                      if any(i < len(runs_by_peer[n]) and usable([runs_by_peer[n][i]])
                             and time_to(runs_by_peer[n][i]['series'], 0.9) is not None
                             for n in others)),
                  'over_best_peer': med_inf([None if math.isinf(v) else v
                                             for v in vals]) if vals else None,
                  'runs': [None if v is None or math.isinf(v) else round(v, 3)
                           for v in per],
                  'note': 'inf/None: HPlacement or every peer did not reach 90 %'}
    return out


_CACHE = {}


def measure(shift=True):
    """The steady scenario (and the shift one); cached so that figure 4
    reuses figure 3's runs in the same `make bench`."""
    plist = peers()
    if 'steady' not in _CACHE:
        _CACHE['steady'] = scenario('steady hot set', DURATION, None, RUNS, plist)
    if shift and SHIFT_RUNS > 0 and 'shift' not in _CACHE:
        shift_peers = [p for p in plist if p.name != 'oracle']
        _CACHE['shift'] = scenario('hot set moves half way', SHIFT_DURATION,
                                   SHIFT_DURATION // 2, SHIFT_RUNS, shift_peers)
    return _CACHE


def main():
    m = measure()
    plist = peers()
    res = {'figure': 3, 'title': 'Detection: hot-set FMEM coverage and gups '
                                 'throughput over time, per peer',
           'env': common.environment(),
           'tier_emulation': ('QEMU TCG tier emulation on: node 1 accesses pay '
                              'the HMAT latency difference (FMEM 80 ns, SMEM 250 ns)'
                              if TIER_EMU else 'off: SMEM is as fast as FMEM'),
           'fmem': FMEM, 'smem': SMEM, 'free_fmem_target': FREE_FMEM,
           'gups': f'gups {GUPS} --duration {DURATION} (+ peer options)',
           'duration_s': DURATION, 'runs': RUNS, 'lead_s': LEAD_S,
           'peers': {p.name: {'label': p.label, 'gups_options': p.gups,
                              'note': p.note} for p in plist},
           'steady': {'peers': reduce(m['steady']),
                      'hplacement_time_to_90_over_best_peer': ratios(m['steady']),
                      'hplacement_cpu_s_to_90_over_best_peer': ratios(
                          m['steady'], 'cpu_s_to_90'),
                      'raw': m['steady']}}
    if 'shift' in m:
        sa = SHIFT_DURATION // 2
        res['shift'] = {'duration_s': SHIFT_DURATION, 'shift_at_s': sa,
                        'runs': SHIFT_RUNS, 'peers': reduce(m['shift'], sa),
                        'raw': m['shift']}
    res['goals'] = ('issue 4: >= 95 % coverage, time to 90 % <= 1/3 of the best '
                    'peer')
    common.write_json('fig3-detection.json', res)
    plot(res)
    return res


def fmt(v, unit=''):
    if v is None:
        return '-'
    return f'{v:.3g}{unit}'


def summary(res):
    st = res['steady']
    lines = [f'`{res["gups"]}`; FMEM {res["fmem"]} with all but '
             f'{res["free_fmem_target"] // MiB} MiB held by a cold filler; '
             f'{res["runs"]} runs (median, min-max); times are TCG guest seconds; '
             f'peers set up {fmt(res.get("lead_s", 0))} s before gups starts; '
             f'tier emulation {"on" if "on" in res["tier_emulation"] else "off"}.', '',
             '| peer | time to 90 % (s) | reached | final coverage | '
             'Mupd/s | placement CPU-s until 90 % |', '|---|---|---|---|---|---|']
    for name, d in st['peers'].items():
        label = res['peers'][name]['label']
        if 'unavailable' in d:
            lines.append(f'| {label} | unavailable: {d["unavailable"]} | | | | |')
            continue
        f, u = d['final_fmem_frac'], d['updates_per_s']
        c90 = d.get('placement_cpu_s_to_90')
        t90 = d['time_to_90_s']
        lines.append(f'| {label} | {fmt(t90) if t90 is not None else "not reached"} '
                     f'({", ".join(fmt(x) for x in d["time_to_90_runs"])}) '
                     f'| {d["reached_90"]}/{d["runs"]}'
                     + (f' ({d["failed_runs"]} run(s) failed)' if d['failed_runs'] else '')
                     + ' '
                     f'| {fmt(f["median"])} ({fmt(f["min"])}-{fmt(f["max"])}) '
                     f'| {fmt(u["median"] / 1e6)} ({fmt(u["min"] / 1e6)}-'
                     f'{fmt(u["max"] / 1e6)}) '
                     f'| {fmt(c90) if c90 is not None else "-"} '
                     f'({", ".join(fmt(x) for x in d.get("placement_cpu_s_to_90_runs", []))}) |')
    lines.append('')
    for h, r in st['hplacement_time_to_90_over_best_peer'].items():
        lines.append(f'- {h}: time to 90 % / best peer\'s (none, linux-tpp, damon; '
                     f'same run) = {fmt(r["over_best_peer"])} (per run: {r["runs"]}; '
                     f'HPlacement reached 90 % in {r["hplacement_reached_90"]} runs, '
                     f'a peer in {r["runs_where_a_peer_reached_90"]}; goal <= 0.33)')
    for name, d in st['peers'].items():
        if name.startswith('hplacement') and 'khplacement_pct' in d:
            a, b = d['khplacement_pct'], d['khplacement_pct_since_setup']
            lines.append(f'- {name}: khplacement {fmt(a["median"])} % of a vCPU '
                         f'over gups\' updates ({fmt(a["min"])}-{fmt(a["max"])}), '
                         f'{fmt(b["median"])} % since enabled '
                         f'({fmt(b["min"])}-{fmt(b["max"])})')
    for h, r in st.get('hplacement_cpu_s_to_90_over_best_peer', {}).items():
        lines.append(f'- {h}: placement CPU-seconds until 90 % / the thriftiest peer\'s '
                     f'that reached it (same run) = {fmt(r["over_best_peer"])} '
                     f'(per run: {r["runs"]})')
    if 'shift' in res:
        sh = res['shift']
        lines += ['', f'Hot set moved at {sh["shift_at_s"]} s of {sh["duration_s"]} s '
                  f'({sh["runs"]} run(s)):', '',
                  '| peer | coverage before shift | first report after it '
                  '| time to 90 % after shift (s) | final coverage |',
                  '|---|---|---|---|---|']
        for name, d in sh['peers'].items():
            label = res['peers'][name]['label']
            if 'unavailable' in d:
                lines.append(f'| {label} | unavailable: {d["unavailable"]} | | | |')
                continue
            t = d['time_to_90_after_shift_s']
            lines.append(f'| {label} | {fmt(d["fmem_frac_before_shift"]["median"])} '
                         f'| {fmt(d["fmem_frac_first_after_shift"]["median"])} '
                         f'| {fmt(t) if t is not None else "not reached"} '
                         f'| {fmt(d["final_fmem_frac"]["median"])} |')
    return lines


COLORS = {'none': 'tab:gray', 'linux-tpp': 'tab:orange', 'damon': 'tab:green',
          'hplacement-10000': 'tab:cyan', 'hplacement-10000-cpu': 'tab:olive',
          'hplacement-50000': 'tab:purple',
          'hplacement-200000': 'tab:blue',
          'oracle': 'black'}


def median_series(runs, key):
    ok = [r['series'] for r in usable(runs)]
    if not ok:
        return [], []
    n = min(len(s) for s in ok)
    t = [ok[0][i]['t'] for i in range(n)]
    import statistics
    return t, [statistics.median(s[i][key] for s in ok) for i in range(n)]


def plot(res):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    rows = [('steady', res['steady']['raw'])]
    if 'shift' in res:
        rows.append(('shift', res['shift']['raw']))
    fig, axes = plt.subplots(len(rows), 2, figsize=(12, 4.2 * len(rows)), squeeze=False)
    for (kind, raw), (ax_c, ax_t) in zip(rows, axes):
        for name, runs in raw.items():
            label = res['peers'][name]['label']
            t, c = median_series(runs, 'fmem_frac')
            if not t:
                continue
            ax_c.plot(t, c, label=label, color=COLORS.get(name),
                      linestyle='--' if name == 'oracle' else '-')
            t, u = median_series(runs, 'updates_per_s')
            ax_t.plot(t, [x / 1e6 for x in u], label=label, color=COLORS.get(name),
                      linestyle='--' if name == 'oracle' else '-')
        title = ('hot set moves at %d s' % res['shift']['shift_at_s']
                 if kind == 'shift' else 'steady hot set')
        ax_c.axhline(0.9, color='red', linewidth=0.6, linestyle=':')
        ax_c.set_ylim(-0.02, 1.02)
        ax_c.set_ylabel('hot set on FMEM (share)')
        ax_c.set_title(f'coverage, {title} (median of runs)')
        ax_t.set_ylabel('M updates/s')
        ax_t.set_title(f'gups throughput, {title}')
        for ax in (ax_c, ax_t):
            ax.set_xlabel('seconds since updates started (TCG guest)')
            if kind == 'shift':
                ax.axvline(res['shift']['shift_at_s'], color='k', linewidth=0.6)
        ax_c.legend(fontsize=7)
    fig.suptitle(f'gups {SIZE}, hot {HOT} first on SMEM; FMEM {FMEM} with '
                 f'{FREE_FMEM // MiB} MiB free (TCG)')
    common.save_png(fig, 'fig3-detection.png')


if __name__ == '__main__':
    print('\n'.join(summary(main())))
