#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Figure 6: multi-VM.  N small guests (1 vCPU, FMEM 256M, SMEM 512M,
HBalloon, TCG tier emulation on) share the host at once, N = 1, 2, 3 by
default (HT_BENCH_MULTIVM_N).  Each runs the same gups (128 MiB buffer
first touched on SMEM, 16 MiB hot set) with HPlacement at 200000 ppm,
while the host resizes each VM's tiers through QMP (hballoon-set-size):
FMEM -64 MiB, SMEM -128 MiB, then both back, staggered per VM.

Per VM: gups updates/s (median of its per-second reports), the hot set's
share on FMEM over time and the time to 90 %, the time from each
hballoon-set-size until the host counts the target reached (polled with
query-hballoon, as figure 2 does), and the host RSS and CPU time of the
VM's QEMU process.  Per N: total updates/s, per-VM updates/s over N=1's
in the same run, resize latency.  Each run boots N = 1, 2, 3 in turn (fresh
guests every time), so host drift hits every N alike; ratios are taken
within a run.  Absolute times are TCG (emulated guest) seconds.

FMEM has room for the whole buffer, so HPlacement promotes the cold rest
after the hot set; the shrinks stay within free memory (a shrink below
what the guest uses does not complete: the balloon finds no free pages of
the node and HPlacement does not demote to make room)."""
import json
import math
import os
import resource
import statistics
import time

import common
from common import progress
from ht.guest import Guest

MiB = 1 << 20
FMEM, SMEM = 256 * MiB, 512 * MiB
CPUS = 1
GUPS = '--size 128M --hot 16M --membind 1 --hot-at end --interval 1 --json'
BUDGET = 200000
NS = [int(x) for x in os.environ.get('HT_BENCH_MULTIVM_N', '1,2,3').split(',') if x]
DURATION = int(os.environ.get('HT_BENCH_MULTIVM_S', '20'))
RUNS = int(os.environ.get('BENCH_RUNS') or os.environ.get('HT_BENCH_RUNS') or '3')
TIER_EMU = os.environ.get('HT_BENCH_TIER_EMU', '1') != '0'
HPL = '/sys/kernel/mm/hplacement'
# Per VM i, (share of DURATION after every VM's gups started, node, size),
# + i * STAGGER s: each tier shrinks and grows back once (6, 8, 12, 14 s).
SCHEDULE = [(0.3, 0, FMEM - 64 * MiB), (0.4, 1, SMEM - 128 * MiB),
            (0.6, 0, FMEM), (0.7, 1, SMEM)]
STAGGER = 0.5
SAMPLE_S = 0.25         # timeline sample period (RSS, query-hballoon)
POLL_S = 0.005          # while a resize is pending
KINDS = {(0, 'shrink'): 'FMEM shrink', (1, 'shrink'): 'SMEM shrink',
         (0, 'grow'): 'FMEM grow', (1, 'grow'): 'SMEM grow'}
VMSTAT = ('hpl_promotions', 'hpl_exchanges', 'hpl_demotions', 'hpl_migrate_ns',
          'hballoon_inflate', 'hballoon_deflate', 'hballoon_alloc_huge',
          'hballoon_alloc_fallback')
TICK = os.sysconf('SC_CLK_TCK')


def qemu_pid(g):
    """The QEMU process of a guest: run-vm execs QEMU under TCG; under a
    KVM try it is run-vm's child."""
    pid = g.proc.pid
    if 'qemu-system' in os.readlink(f'/proc/{pid}/exe'):
        return pid
    for tid in os.listdir(f'/proc/{pid}/task'):
        with open(f'/proc/{pid}/task/{tid}/children') as f:
            for c in f.read().split():
                if 'qemu-system' in os.readlink(f'/proc/{c}/exe'):
                    return int(c)
    raise RuntimeError(f'no QEMU process under pid {pid}')


def host_proc(pid):
    """RSS (bytes) and user + system CPU seconds of a host process."""
    with open(f'/proc/{pid}/status') as f:
        st = dict(line.split(':', 1) for line in f.read().splitlines() if ':' in line)
    with open(f'/proc/{pid}/stat') as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return (int(st['VmRSS'].split()[0]) * 1024,
            (int(fields[11]) + int(fields[12])) / TICK)


def wait_ready(g, timeout=60):
    """Until the guest's HBalloon driver accepts a size."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            g.qmp.cmd('hballoon-set-size', node=0, size=FMEM)
            return
        except Exception:  # pylint: disable=broad-except
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def hballoon(g):
    return {n['node']: n for n in g.qmp.cmd('query-hballoon')}


class VM:
    def __init__(self, i, g):
        self.i, self.g = i, g
        self.pid = qemu_pid(g)
        self.started = None     # host time its gups printed params
        self.events = [{'t': f * DURATION + i * STAGGER, 'node': node, 'size': size,
                        'kind': 'shrink' if size < (FMEM, SMEM)[node] else 'grow'}
                       for f, node, size in SCHEDULE]
        self.samples = []


def launch(vms):
    """Start gups in every guest, then wait until each has touched its
    buffer (params line); returns the host time when the last one did."""
    for v in vms:
        g = v.g
        if g.sh(f'test -d {HPL}')[0]:
            raise RuntimeError('no /sys/kernel/mm/hplacement in the guest')
        g.out(f'echo {BUDGET} > {HPL}/budget; echo 1 > {HPL}/enabled')
        v.vm0 = g.vmstat()
        g.out(f'rm -f /tmp/g.json; gups {GUPS} --duration {DURATION} '
              '> /tmp/g.json 2>/tmp/g.err & echo $! > /tmp/g.pid')
    deadline = time.monotonic() + 300
    while any(v.started is None for v in vms):
        for v in vms:
            if v.started is None and v.g.sh('grep -q params /tmp/g.json')[0] == 0:
                v.started = time.monotonic()
        if time.monotonic() > deadline:
            raise RuntimeError('gups did not start: ' + vms[0].g.out(
                'cat /tmp/g.err /tmp/g.json')[-1000:])
        time.sleep(0.1)
    return max(v.started for v in vms)


def host_busy():
    """Busy CPU seconds of the whole host (/proc/stat) and of this
    process (the harness: QMP polling, sampling)."""
    with open('/proc/stat') as f:
        c = [int(x) for x in f.readline().split()[1:9]]
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return (sum(c) - c[3] - c[4]) / TICK, ru.ru_utime + ru.ru_stime


def drive(vms, t0):
    """Resize on schedule and sample until every gups has ended; returns
    the host's CPU use over that window in cores."""
    end = max(v.started for v in vms) + DURATION + 1
    cpu0 = {v.i: host_proc(v.pid)[1] for v in vms}
    busy0, self0, w0 = *host_busy(), time.monotonic()
    next_sample = 0.0
    while (now := time.monotonic()) < end:
        rel = now - t0
        pending = False
        for v in vms:
            for e in v.events:
                if 'cmd_t' not in e and e['t'] <= rel:
                    e['cmd_t'] = time.monotonic() - t0
                    v.g.qmp.cmd('hballoon-set-size', node=e['node'], size=e['size'])
                if 'cmd_t' in e and 'done_t' not in e:
                    q = hballoon(v.g)[e['node']]
                    if q['actual'] == e['size']:
                        e['done_t'] = time.monotonic() - t0
                        e['settled_s'] = round(e['done_t'] - e['cmd_t'], 4)
                    else:
                        pending = True
        if rel >= next_sample:
            next_sample = rel + SAMPLE_S
            for v in vms:
                rss, cpu = host_proc(v.pid)
                q = hballoon(v.g)
                v.samples.append({
                    't': round(time.monotonic() - t0, 3), 'rss': rss,
                    'cpu_s': round(cpu - cpu0[v.i], 3),
                    'target': {n: q[n]['target'] for n in q},
                    'actual': {n: q[n]['actual'] for n in q},
                    'stat_hot': {n: q[n].get('stat-hot') for n in q}})
        time.sleep(POLL_S if pending else 0.05)
    busy1, self1 = host_busy()
    w = time.monotonic() - w0
    qemus = sum(host_proc(v.pid)[1] - cpu0[v.i] for v in vms)
    return {'window_s': round(w, 3), 'host_busy_cores': (busy1 - busy0) / w,
            'our_qemus_cores': qemus / w, 'harness_cores': (self1 - self0) / w,
            'other_cores': max(0.0, (busy1 - busy0 - qemus - (self1 - self0)) / w),
            'loadavg': loadavg()}


def loadavg():
    with open('/proc/loadavg') as f:
        return f.read().split()[:3]


def collect(v, t0):
    g = v.g
    out = g.out('while kill -0 $(cat /tmp/g.pid) 2>/dev/null; do sleep 0.2; done; '
                'cat /tmp/g.json', timeout=DURATION * 4 + 120)
    lines = [json.loads(x) for x in out.splitlines() if x.startswith('{')]
    summ = next((x['summary'] for x in lines if 'summary' in x), None)
    series = [{'t': x['t'], 'updates_per_s': x['updates_per_s'],
               'fmem_frac': (x.get('hot_node_frac_sampled') or {}).get('0', 0.0)}
              for x in lines if 't' in x and 'updates_per_s' in x]
    if not summ or not series:
        raise RuntimeError(f'VM {v.i}: gups failed: ' + g.out('cat /tmp/g.err')[-1000:])
    vm1 = g.vmstat()
    # QEMU's CPU time over the host's window (t0 to the last sample)
    share = (v.samples[-1]['cpu_s'] / v.samples[-1]['t']
             if v.samples and v.samples[-1]['t'] > 0 else None)
    # Throughput while every VM ran gups: reports whose interval lies
    # between the last VM's start (t0) and the first VM's end.
    start = v.started - t0
    both = [x for x in series if start + x['t'] - 1 >= -0.05
            and start + x['t'] <= v.overlap_end + 0.05]
    ups = statistics.median(x['updates_per_s'] for x in (both if len(both) >= 3 else series))
    return {'vm': v.i, 'qemu_pid': v.pid, 'gups_start_s': round(start, 3),
            'series': series, 'summary': summ, 'updates_per_s': ups,
            'updates_per_s_reports': len(both) if len(both) >= 3 else len(series),
            'updates_per_s_all_reports': statistics.median(
                x['updates_per_s'] for x in series),
            'updates_per_qemu_cpu_s': (summ['updates_per_s'] / share if share else None),
            'qemu_cpu_share': share, 'time_to_90_s': time_to(series, 0.9),
            'final_fmem_frac': series[-1]['fmem_frac'],
            'events': v.events, 'samples': v.samples,
            'rss_max': max(s['rss'] for s in v.samples),
            'rss_end': v.samples[-1]['rss'],
            'guest_memtotal': {n: g.node_meminfo(n)['MemTotal'] for n in (0, 1)},
            'vmstat': {k: vm1.get(k, 0) - v.vm0.get(k, 0) for k in VMSTAT}}


def time_to(series, frac):
    return next((x['t'] for x in series if x['fmem_frac'] >= frac), None)


def one_run(n):
    """Boot n guests, run gups in all at once, resize on schedule."""
    args = ['--tcg-opts', 'tier-emulation=on'] if TIER_EMU else []
    guests = []
    try:
        for i in range(n):
            g = Guest(fmem=f'{FMEM // MiB}M', smem=f'{SMEM // MiB}M', cpus=CPUS,
                      run_vm_args=args, boot_timeout=180,
                      qemu_args=['-device', 'virtio-hballoon-pci,id=hb'])
            guests.append(g)
            g.start()
            wait_ready(g)
        vms = [VM(i, g) for i, g in enumerate(guests)]
        t0 = launch(vms)
        host = drive(vms, t0)
        for v in vms:
            v.overlap_end = min(w.started for w in vms) - t0 + DURATION
        return {'n': n, 'host_cpu': host, 'vms': [collect(v, t0) for v in vms]}
    finally:
        for g in guests:
            g.stop()


def run_all():
    """Every N once per run, interleaved, so that host drift hits all."""
    raw = {n: [] for n in NS}
    total = RUNS * len(NS)
    per = {n: DURATION + 8 + 3 * n for n in NS}     # rough seconds per session
    done = 0
    for r in range(RUNS):
        for n in NS:
            left = sum(per[m] for m in NS) * (RUNS - r) - sum(
                per[m] for m in NS[:NS.index(n)])
            progress(f'run {r + 1}/{RUNS}, N={n}: booting {n} guest(s) '
                     f'({done}/{total} done, ~{left:.0f} s left)')
            for attempt in (1, 2):
                try:
                    res = one_run(n)
                    break
                except Exception as e:  # pylint: disable=broad-except
                    # a starved TCG guest can time out: retry once, then
                    # record the failure (never a number) and go on
                    progress(f'  run failed ({type(e).__name__}: '
                             f'{str(e).splitlines()[0][:200] if str(e) else ""})'
                             + ('; retrying' if attempt == 1 else ''))
                    res = {'n': n, 'error': str(e)[-3000:]}
            done += 1
            raw[n].append(res)
            for v in res.get('vms', []):
                lat = ', '.join(f'{KINDS[(e["node"], e["kind"])]} {fmt(e.get("settled_s"))}'
                                for e in v['events'])
                progress(f'  VM {v["vm"]}: {v["updates_per_s"] / 1e6:.2f} Mupd/s, '
                         f'90 % at {v["time_to_90_s"]} s, resize s: {lat}, '
                         f'RSS max {v["rss_max"] / MiB:.0f} MiB')
    return raw


def t90(vals):
    """Times to 90 %: min/max of those that got there, the median with
    a VM that never got there counted as infinitely late (as figure 3)."""
    s = common.summary(vals)
    v = sorted(math.inf if x is None else x for x in vals)
    if v:
        m = statistics.median(v)
        s['median'] = None if math.isinf(m) else m
    s['not_reached'] = sum(x is None for x in vals)
    return s


def reduce(raw):
    out = {}
    base = raw.get(1) or []
    for n in NS:
        ok = [r for r in raw[n] if 'vms' in r]
        if not ok:
            out[n] = {'failed': next((r['error'][:300] for r in raw[n]), 'not run')}
            continue
        vms = [v for r in ok for v in r['vms']]
        d = {'runs': len(ok), 'failed_runs': len(raw[n]) - len(ok),
             'per_vm_updates_per_s': common.summary([v['updates_per_s'] for v in vms]),
             'total_updates_per_s': common.summary(
                 [sum(v['updates_per_s'] for v in r['vms']) for r in ok]),
             'updates_per_qemu_cpu_s': common.summary(
                 [v['updates_per_qemu_cpu_s'] for v in vms]),
             'qemu_cpu_share': common.summary([v['qemu_cpu_share'] for v in vms]),
             'time_to_90_s': t90([v['time_to_90_s'] for v in vms]),
             'reached_90': sum(v['time_to_90_s'] is not None for v in vms),
             'vm_runs': len(vms),
             'final_fmem_frac': common.summary([v['final_fmem_frac'] for v in vms]),
             'rss_max': common.summary([v['rss_max'] for v in vms]),
             'host_busy_cores': common.summary([r['host_cpu']['host_busy_cores'] for r in ok]),
             'other_cores': common.summary([r['host_cpu']['other_cores'] for r in ok]),
             'resize_s': {}}
        for (node, kind), label in KINDS.items():
            vals = [e.get('settled_s') for v in vms for e in v['events']
                    if e['node'] == node and e['kind'] == kind]
            d['resize_s'][label] = common.summary(vals)
            d['resize_s'][label]['not_reached'] = sum(x is None for x in vals)
        # per-VM updates/s (and per QEMU CPU second) over N=1's in the
        # same run (same command)
        for key, out_key in (('updates_per_s', 'per_vm_over_n1'),
                             ('updates_per_qemu_cpu_s', 'per_vm_cpu_norm_over_n1')):
            ratios = []
            for i, r in enumerate(raw[n]):
                b = base[i] if i < len(base) else None
                if 'vms' in r and b and 'vms' in b and b['vms'][0][key]:
                    vals = [v[key] for v in r['vms'] if v[key] is not None]
                    if vals:
                        ratios.append(statistics.median(vals) / b['vms'][0][key])
            d[out_key] = common.summary(ratios)
        d['per_vm'] = {i: {'updates_per_s': common.summary(
            [r['vms'][i]['updates_per_s'] for r in ok]),
            'time_to_90_s': t90([r['vms'][i]['time_to_90_s'] for r in ok]),
            'rss_max': common.summary([r['vms'][i]['rss_max'] for r in ok]),
            'resize_s': {KINDS[(e['node'], e['kind'])]: common.summary(
                [r['vms'][i]['events'][k].get('settled_s') for r in ok])
                for k, e in enumerate(ok[0]['vms'][i]['events'])}}
            for i in range(n)}
        out[n] = d
    return out


def main():
    raw = run_all()
    res = {'figure': 6,
           'title': 'Multi-VM: N guests sharing the host, tiers resized per VM',
           'env': common.environment(),
           'tier_emulation': ('QEMU TCG tier emulation on: node 1 accesses pay '
                              'the HMAT latency difference (FMEM 80 ns, SMEM 250 ns)'
                              if TIER_EMU else 'off: SMEM is as fast as FMEM'),
           'guest': {'fmem': FMEM, 'smem': SMEM, 'vcpus': CPUS,
                     'device': 'virtio-hballoon-pci',
                     'hplacement_budget_ppm': BUDGET},
           'gups': f'gups {GUPS} --duration {DURATION}',
           'ns': NS, 'runs': RUNS, 'duration_s': DURATION,
           'schedule': {'per_vm': [{'t': f * DURATION, 'node': node, 'size': size}
                                   for f, node, size in SCHEDULE],
                        'stagger_s': STAGGER,
                        'note': 'seconds after the last VM\'s gups started; VM i '
                                'adds i * stagger_s'},
           'sample_s': SAMPLE_S,
           'reduced': reduce(raw), 'raw': raw}
    common.write_json('fig6-multivm.json', res)
    plot(res)
    return res


def fmt(v, unit=''):
    return '-' if v is None else f'{v:.3g}{unit}'


def mm(s, scale=1.0, unit=''):
    """median (min-max)"""
    if not s or s.get('median') is None:
        return '-'
    if s['n'] == 1:
        return fmt(s['median'] / scale, unit)
    return (f'{fmt(s["median"] / scale, unit)} '
            f'({fmt(s["min"] / scale)}-{fmt(s["max"] / scale)})')


def tt(s):
    """time to 90 %: median (min-max of the VMs that got there)"""
    if s['median'] is None:
        return 'not reached' + (f' (reached: {fmt(s["min"])}-{fmt(s["max"])})'
                                if s['n'] else '')
    return mm(s)


def ms(s):
    return '-' if s['median'] is None else fmt(s['median'] * 1e3)


def summary(res):
    red = {int(k): v for k, v in res['reduced'].items()}
    lines = [f'`{res["gups"]}` in each of N guests (1 vCPU, FMEM '
             f'{FMEM // MiB} MiB, SMEM {SMEM // MiB} MiB, HPlacement '
             f'{BUDGET} ppm, tier emulation '
             f'{"on" if "on" in res["tier_emulation"] else "off"}) at once on '
             f'{res["env"]["host_cpus"]} host cores; the host shrinks each VM\'s '
             'FMEM by 64 MiB and SMEM by 128 MiB and grows them back (staggered '
             f'{STAGGER} s per VM). {res["runs"]} runs, median (min-max) over '
             'runs and VMs; TCG guest seconds.', '',
             '| N | per-VM Mupd/s | per VM / N=1 (same run) | total Mupd/s '
             '| Mupd per QEMU CPU-s | same / N=1 | QEMU CPU (cores) | time to 90 % (s) '
             '| FMEM shrink / grow (ms) | SMEM shrink / grow (ms) '
             '| QEMU RSS max (MiB) | host busy (cores; not ours) |',
             '|---|---|---|---|---|---|---|---|---|---|---|---|']
    for n in sorted(red):
        d = red[n]
        if 'failed' in d:
            lines.append(f'| {n} | failed: {d["failed"]} |' + ' |' * 10)
            continue
        rs = d['resize_s']
        nr = sum(rs[k]['not_reached'] for k in rs)
        lines.append(
            f'| {n} | {mm(d["per_vm_updates_per_s"], 1e6)} '
            f'| {mm(d["per_vm_over_n1"])} | {mm(d["total_updates_per_s"], 1e6)} '
            f'| {mm(d["updates_per_qemu_cpu_s"], 1e6)} '
            f'| {mm(d["per_vm_cpu_norm_over_n1"])} | {mm(d["qemu_cpu_share"])} '
            f'| {tt(d["time_to_90_s"])} ({d["reached_90"]}/{d["vm_runs"]} reached) '
            f'| {mm(rs["FMEM shrink"], 1e-3)} / {mm(rs["FMEM grow"], 1e-3)} '
            f'| {mm(rs["SMEM shrink"], 1e-3)} / {mm(rs["SMEM grow"], 1e-3)} '
            f'| {mm(d["rss_max"], MiB)} '
            f'| {mm(d["host_busy_cores"])}; {mm(d["other_cores"])} |'
            + (f' ({d["failed_runs"]} run(s) failed)' if d['failed_runs'] else '')
            + (f' ({nr} resize(s) not reached)' if nr else ''))
    lines += ['', 'Per VM (median over runs):', '',
              '| N | VM | Mupd/s | time to 90 % (s) | FMEM shrink / grow (ms) '
              '| SMEM shrink / grow (ms) | QEMU RSS max (MiB) |',
              '|---|---|---|---|---|---|---|']
    for n in sorted(red):
        if 'failed' in red[n]:
            continue
        for i, p in sorted(red[n]['per_vm'].items(), key=lambda x: int(x[0])):
            rs = p['resize_s']
            lines.append(
                f'| {n} | {i} | {mm(p["updates_per_s"], 1e6)} '
                f'| {tt(p["time_to_90_s"])} '
                f'| {ms(rs["FMEM shrink"])} / {ms(rs["FMEM grow"])} '
                f'| {ms(rs["SMEM shrink"])} / {ms(rs["SMEM grow"])} '
                f'| {mm(p["rss_max"], MiB)} |')
    return lines


COLORS = {1: 'tab:blue', 2: 'tab:orange', 3: 'tab:green', 4: 'tab:red',
          5: 'tab:purple', 6: 'tab:brown'}


def plot(res):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    red = {int(k): v for k, v in res['reduced'].items() if 'failed' not in v}
    raw = {int(k): v for k, v in res['raw'].items()}
    ns = sorted(red)
    fig, axes = plt.subplots(2, 2, figsize=(12, 8.5))
    (ax_u, ax_c), (ax_r, ax_m) = axes

    def errbar(ax, xs, ss, scale, **kw):
        med = [s['median'] / scale for s in ss]
        lo = [m - s['min'] / scale for m, s in zip(med, ss)]
        hi = [s['max'] / scale - m for m, s in zip(med, ss)]
        ax.errorbar(xs, med, yerr=[lo, hi], capsize=4, marker='o', **kw)

    errbar(ax_u, ns, [red[n]['per_vm_updates_per_s'] for n in ns], 1e6,
           label='per VM', color='tab:blue')
    errbar(ax_u, ns, [red[n]['total_updates_per_s'] for n in ns], 1e6,
           label='all VMs', color='tab:gray', linestyle='--')
    errbar(ax_u, ns, [red[n]['updates_per_qemu_cpu_s'] for n in ns], 1e6,
           label='per VM, per QEMU CPU-second', color='tab:green', linestyle=':')
    ax_u.set_xticks(ns)
    ax_u.set_xlabel('VMs sharing the host (1 vCPU each)')
    ax_u.set_ylabel('gups M updates/s (TCG)')
    ax_u.set_title('gups throughput (median, min-max over runs and VMs)')
    ax_u.set_ylim(bottom=0)
    ax_u.legend(fontsize=8)

    for n in ns:
        series = [v['series'] for r in raw[n] if 'vms' in r for v in r['vms']]
        k = min(len(s) for s in series)
        t = [statistics.median(s[i]['t'] for s in series) for i in range(k)]
        ax_c.plot(t, [statistics.median(s[i]['fmem_frac'] for s in series)
                      for i in range(k)], color=COLORS.get(n), label=f'N={n}')
        ax_c.fill_between(t, [min(s[i]['fmem_frac'] for s in series) for i in range(k)],
                          [max(s[i]['fmem_frac'] for s in series) for i in range(k)],
                          color=COLORS.get(n), alpha=0.15)
    ax_c.axhline(0.9, color='red', linewidth=0.6, linestyle=':')
    ax_c.set_ylim(-0.02, 1.02)
    ax_c.set_xlabel('seconds since the VM\'s gups started (TCG guest)')
    ax_c.set_ylabel('hot set on FMEM (share)')
    ax_c.set_title('hot-set coverage, median (band: min-max) over VMs and runs')
    ax_c.legend(fontsize=8)

    for k, (label, color) in enumerate((('FMEM shrink', 'tab:blue'),
                                        ('FMEM grow', 'tab:cyan'),
                                        ('SMEM shrink', 'tab:orange'),
                                        ('SMEM grow', 'gold'))):
        ss = [red[n]['resize_s'][label] for n in ns]
        xs = [n + (k - 1.5) * 0.08 for n, s in zip(ns, ss) if s['median'] is not None]
        ss = [s for s in ss if s['median'] is not None]
        if ss:
            errbar(ax_r, xs, ss, 1e-3, label=label, color=color, linestyle='none')
    ax_r.set_xticks(ns)
    ax_r.set_yscale('log')
    ax_r.set_xlabel('VMs sharing the host')
    ax_r.set_ylabel('ms from hballoon-set-size to target (host)')
    ax_r.set_title('resize time to target, per VM (median, min-max)')
    ax_r.legend(fontsize=8)

    # RSS of each QEMU in the first successful run with the most VMs, and
    # what the host holds in its balloons (right axis)
    nmax = ns[-1] if ns else None
    run = next((r for r in raw.get(nmax, []) if 'vms' in r), None)
    if run:
        ax_b = ax_m.twinx()
        for v in run['vms']:
            c = f'C{v["vm"]}'
            t = [s['t'] for s in v['samples']]
            ax_m.plot(t, [s['rss'] / MiB for s in v['samples']], color=c,
                      label=f'VM {v["vm"]}')
            ax_b.plot(t, [(FMEM + SMEM - sum(s['actual'].values())) / MiB
                          for s in v['samples']], color=c, linestyle=':')
        ax_b.set_ylabel('dotted: MiB held in the VM\'s balloons (host)')
        ax_b.set_ylim(-5, 400)
        ax_m.set_title(f'N={nmax}, first run: host RSS per QEMU (solid)')
    ax_m.set_xlabel('seconds since every gups started (host)')
    ax_m.set_ylabel('QEMU RSS (MiB)')
    ax_m.legend(fontsize=7, loc='lower right')
    fig.suptitle(f'{res["title"]} (TCG; {res["runs"]} runs)')
    common.save_png(fig, 'fig6-multivm.png')


if __name__ == '__main__':
    print('\n'.join(summary(main())))
