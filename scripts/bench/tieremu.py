#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Figure (see FIGURES in run.py): TCG tier emulation.  (a) What it costs: gups with all memory in
FMEM with the emulation off, on (tier-stats=slow) and on with every access
counted (tier-stats=all), and SMEM without emulation (as fast as FMEM).
(b) What it does: gups with its working set (hot set included) in FMEM vs
SMEM at SMEM/FMEM latency ratios of 1.5, 2.5 and 4, with the node-1
counters from query-tier-access-stats."""
import importlib.util
import json
import os
import time

import common
from common import progress
from ht.guest import Guest

MiB = 1 << 20
FMEM_LAT = 80
RATIOS = [1.5, 2.5, 4.0]
GUPS = '--size 64M --hot 16M --duration {d} --interval 1 --json'
DURATION = int(os.environ.get('HT_BENCH_TIEREMU_S', '3'))
RUNS = 3        # gups runs per boot and node; medians are reported


def figure():
    """Our number in run.py's FIGURES (by path: tests/run.py is also
    on sys.path as "run")."""
    spec = importlib.util.spec_from_file_location(
        'bench_run', os.path.join(os.path.dirname(__file__), 'run.py'))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return next(n for n, m in mod.FIGURES.items() if m == 'tieremu')


def qemu_cpu_s(g):
    """User + system CPU seconds of the QEMU process (run-vm execs it)."""
    with open(f'/proc/{g.proc.pid}/stat') as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


def gups(g, node):
    """Run gups with its buffer on node; returns (updates/s, counters,
    updates per QEMU CPU second, the rate times the duration over the CPU
    time).  Counters and CPU time cover the update
    phase only: from gups' params line (printed once the buffer is
    touched) to its summary."""
    out_file = '/tmp/bench-gups.json'
    g.out(f'rm -f {out_file}; gups {GUPS.format(d=DURATION)} --membind {node} '
          f'> {out_file} 2>&1 &')
    wait_line(g, out_file, 'params')
    g.qmp.cmd('query-tier-access-stats', reset=True)
    cpu0 = qemu_cpu_s(g)
    out = wait_line(g, out_file, 'summary')
    cpu = qemu_cpu_s(g) - cpu0
    st = g.qmp.cmd('query-tier-access-stats')
    ups = steady_rate(out)
    nodes = {n['node']: n for n in st['nodes']}
    return ups, nodes, (ups * DURATION / cpu if ups and cpu > 0 else None)


def steady_rate(out):
    """Updates/s from gups' interval lines after the first: its start (the
    main thread takes its start time after releasing the workers) can be
    late on a busy host, which inflates the first interval and the
    summary."""
    pts = []
    for line in out.splitlines():
        try:
            d = json.loads(line)
        except ValueError:
            continue
        if isinstance(d, dict) and 't' in d and 'total' in d:
            pts.append((d['t'], d['total']))
    if len(pts) < 2 or pts[-1][0] <= pts[0][0]:
        return None
    return (pts[-1][1] - pts[0][1]) / (pts[-1][0] - pts[0][0])


def wait_line(g, path, key, timeout=DURATION * 10 + 120):
    """Poll the guest file until a line has key; returns the file."""
    deadline = time.monotonic() + timeout
    while True:
        out = g.out(f'cat {path}')
        if f'"{key}"' in out:
            return out
        if time.monotonic() > deadline:
            raise RuntimeError(f'gups: no {key} line: {out}')
        time.sleep(0.05)


def gups_runs(g, nodes):
    """RUNS gups runs on each of nodes, interleaved; {node: [(ups, ctrs)]}"""
    got = {n: [] for n in nodes}
    for _ in range(RUNS):
        for n in nodes:
            got[n].append(gups(g, n))
    return got


def median_run(runs):
    """The run with the median updates/s, and the summary of all."""
    ok = sorted((r for r in runs if r[0]), key=lambda r: r[0])
    med = ok[len(ok) // 2][:2] if ok else (None, {})
    return med, common.summary([r[0] for r in runs])


def boot(opts, smem_lat):
    # The ACPI PM timer follows host time (the TSC is calibrated at boot,
    # which a loaded host can skew); no_timer_check: see tests/suites/tieremu.py
    args = ['--fmem-lat', str(FMEM_LAT), '--smem-lat', str(smem_lat),
            '--append', 'clocksource=acpi_pm no_timer_check']
    if opts:
        args += ['--tcg-opts', opts]
    return Guest(fmem='512M', smem='512M', cpus=2, run_vm_args=args)


def main():
    fig = figure()
    res = {'figure': fig, 'title': 'TCG tier emulation: overhead and gups per tier',
           'env': common.environment(), 'gups': GUPS.format(d=DURATION),
           'fmem_lat_ns': FMEM_LAT, 'overhead': [], 'ratios': []}
    # off and on twice, alternating, against drift in the host's load
    configs = (('off', '', 0), ('on', 'tier-emulation=on', 0),
               ('on, stats=all', 'tier-emulation=on,tier-stats=all', 0),
               ('off, SMEM', '', 1), ('off', '', 0), ('on', 'tier-emulation=on', 0))
    runs = {}
    for name, opts, node in configs:
        progress(f'overhead: {name}')
        with boot(opts, 250) as g:
            got = gups_runs(g, [node])[node]
        runs.setdefault((name, opts, node), []).extend(got)
        progress(f'  {[r[0] for r in got]} updates/s, '
                 f'{[r[2] and round(r[2]) for r in got]} per QEMU CPU s')
    for (name, opts, node), got in runs.items():
        (ups, nodes), summ = median_run(got)
        per_cpu = common.summary([r[2] for r in got])
        res['overhead'].append({'name': name, 'opts': opts, 'node': node,
                                'updates_per_s': ups, 'runs': summ,
                                'updates_per_cpu_s': per_cpu['median'],
                                'cpu_runs': per_cpu,
                                'counted': {n: v['loads'] + v['stores']
                                            for n, v in nodes.items()}})
    for r in RATIOS:
        lat = round(FMEM_LAT * r)
        progress(f'ratio {r}: SMEM {lat} ns')
        with boot('tier-emulation=on', lat) as g:
            got = gups_runs(g, [0, 1])
        (f_ups, _), f_sum = median_run(got[0])
        (s_ups, nodes), s_sum = median_run(got[1])
        n1 = nodes.get(1, {})
        # The model: TCG's time per update (FMEM) plus the charged latency
        # of the misses per update (one load and one store per update).
        pred = None
        if f_ups and n1.get('loads'):
            miss = n1['load-misses'] / n1['loads']
            pred = 1 / (1 / f_ups + miss * (lat - FMEM_LAT) * 1e-9)
        res['ratios'].append({'ratio': r, 'smem_lat_ns': lat,
                              'smem_predicted_updates_per_s': pred,
                              'fmem_updates_per_s': f_ups,
                              'smem_updates_per_s': s_ups,
                              'fmem_runs': f_sum, 'smem_runs': s_sum,
                              'smem_counters': n1})
        progress(f'  FMEM {f_ups} SMEM {s_ups} updates/s')
    common.write_json(f'fig{fig}-tieremu.json', res)
    plot(res)
    return res


def summary(res):
    ov = {o['name']: o for o in res['overhead']}
    base = ov.get('off', {}).get('updates_per_s')
    cbase = ov.get('off', {}).get('updates_per_cpu_s')
    lines = [f'gups `{res["gups"]}`, 2 vCPUs, TCG; updates/s, median of '
             f'{RUNS} runs per boot (off and on: 2 boots, {2 * RUNS} runs):', '']
    for o in res['overhead']:
        rel = (f' ({o["updates_per_s"] / base:.2f}x of off)'
               if base and o['updates_per_s'] else '')
        crel = (f' ({o["updates_per_cpu_s"] / cbase:.2f}x)'
                if cbase and o['updates_per_cpu_s'] else '')
        lines.append(f'- {o["name"]}, working set on node {o["node"]}: '
                     f'{o["updates_per_s"]:.0f}{rel}, range '
                     f'{o["runs"]["min"]:.0f}..{o["runs"]["max"]:.0f}; '
                     f'{o["updates_per_cpu_s"] or 0:.0f} per QEMU CPU second'
                     f'{crel}')
    lines += ['', 'Updates per QEMU CPU second do not depend on how much CPU '
              'the shared host leaves QEMU; updates/s (wall) do.']
    lines += ['', f'Working set in FMEM vs SMEM, FMEM {res["fmem_lat_ns"]} ns '
              '(tier-emulation=on):', '']
    for x in res['ratios']:
        f, s = x['fmem_updates_per_s'], x['smem_updates_per_s']
        c = x['smem_counters']
        # the update phase only: each update is a load and a store
        lines.append(f'- {x["ratio"]}x ({x["smem_lat_ns"]} ns): FMEM {f:.0f}, '
                     f'SMEM {s:.0f} updates/s (model: '
                     f'{x["smem_predicted_updates_per_s"] or 0:.0f}), '
                     f'FMEM/SMEM {f / s:.2f}; median '
                     f'SMEM run: {c.get("loads", 0)} node-1 loads, '
                     f'{c.get("load-misses", 0)} missed the filter, '
                     f'{c.get("delay-ns", 0) / 1e9:.2f} s latency charged '
                     f'in the {DURATION} s update phase')
    return lines


def plot(res):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4.2))
    names = [o['name'] for o in res['overhead']]
    vals = [(o['updates_per_s'] or 0) / 1e6 for o in res['overhead']]
    colors = {'off': 'tab:gray', 'off, SMEM': 'silver', 'on': 'tab:blue',
              'on, stats=all': 'tab:purple'}
    a.bar(names, vals, color=[colors.get(n, 'tab:gray') for n in names])
    a.set_ylabel('M updates/s (median)')
    a.set_title('Emulation overhead (gups, 64 MiB)')
    a2 = a.twinx()
    a2.plot(names, [(o['updates_per_cpu_s'] or 0) / 1e6
                    for o in res['overhead']], 'kD', label='per QEMU CPU s')
    a2.set_ylabel('M updates per QEMU CPU second')
    a2.set_ylim(bottom=0)
    a2.legend(fontsize=7, loc='lower left')
    a.tick_params(axis='x', labelsize=8)
    xs = [x['ratio'] for x in res['ratios']]
    b.plot(xs, [(x['fmem_updates_per_s'] or 0) / 1e6 for x in res['ratios']],
           'o-', label='working set in FMEM')
    b.plot(xs, [(x['smem_updates_per_s'] or 0) / 1e6 for x in res['ratios']],
           's-', label='working set in SMEM')
    b.plot(xs, [(x['smem_predicted_updates_per_s'] or 0) / 1e6
                for x in res['ratios']],
           'x--', color='tab:orange', alpha=0.6,
           label='SMEM predicted: FMEM time + misses x latency difference')
    b.set_xlabel('SMEM / FMEM latency')
    b.set_ylabel('M updates/s')
    b.set_xticks(xs)
    b.set_title('gups per tier (tier-emulation=on)')
    b.legend(fontsize=8)
    fig.suptitle(res['title'])
    common.save_png(fig, f'fig{res["figure"]}-tieremu.png')


if __name__ == '__main__':
    main()
