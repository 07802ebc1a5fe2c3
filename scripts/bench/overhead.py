#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Figure 4: guest CPU spent on placement, per peer, in % of one vCPU, from
the runs of figure 3 (steady hot set; the same runs when both figures run
in one `make bench`, else figure 3's measurement is made here):
HPlacement's own stages from /proc/vmstat (hpl_sample_ns, hpl_classify_ns,
hpl_migrate_ns); for every peer the guest's system CPU from /proc/stat,
the CPU of the kernel threads that do the work (khplacement, kdamond.*,
kswapd*, kcompactd*) from /proc/<pid>/stat, and gups' own system time
(NUMA balancing's scanning task_work and hint faults run there)."""

import common
import detection
from common import progress

# stacked parts: (key in the run's cpu dict, label, color)
PARTS = [('hpl_sample', 'HPlacement sample', 'tab:cyan'),
         ('hpl_classify', 'HPlacement classify', 'tab:blue'),
         ('hpl_migrate', 'HPlacement migrate', 'navy'),
         ('khplacement_rest', 'khplacement, rest', 'lightsteelblue'),
         ('kdamond', 'kdamond.*', 'tab:green'),
         ('kswapd', 'kswapd* (demotion)', 'tab:orange'),
         ('kcompactd', 'kcompactd*', 'tab:brown'),
         ('gups', 'gups system time (faults, NUMA task_work)', 'tab:red'),
         ('other_system', 'other system time', 'lightgray')]
KEYS = ['system', 'user', 'hpl_sample', 'hpl_classify', 'hpl_migrate', 'khplacement',
        'kdamond', 'kswapd', 'kcompactd', 'gups', 'gups_user', 'other_system']


def main():
    m = detection.measure(shift=False)
    steady = m['steady']
    res = {'figure': 4, 'title': 'Guest CPU spent on placement, per peer',
           'env': common.environment(),
           'unit': '% of one vCPU (the guest has 2), over the gups update window',
           'workload': f'figure 3 steady runs: gups {detection.GUPS} '
                       f'--duration {detection.DURATION} (+ peer options)',
           'runs': detection.RUNS, 'peers': {}}
    for name, runs in steady.items():
        ok = detection.usable(runs)
        label = next(p.label for p in detection.peers() if p.name == name)
        if not ok:
            res['peers'][name] = {'label': label,
                                  'unavailable': common.why_unusable(runs)}
            continue
        d = {'label': label}
        for k in KEYS:
            d[k] = common.summary([r['cpu'].get(k) for r in ok])
        rest = [max(0.0, r['cpu']['khplacement'] - r['cpu']['hpl_sample'] -
                    r['cpu']['hpl_classify'] - r['cpu']['hpl_migrate']) for r in ok]
        d['khplacement_rest'] = common.summary(rest)
        d['management_total'] = common.summary(
            [r['cpu']['hpl_sample'] + r['cpu']['hpl_classify'] + r['cpu']['hpl_migrate']
             + rr + r['cpu']['kdamond'] + r['cpu']['kswapd'] + r['cpu']['kcompactd']
             + r['cpu']['gups'] for r, rr in zip(ok, rest)])
        d['vmstat'] = {k: common.summary([r['vmstat'].get(k) for r in ok])['median']
                       for k in detection.VMSTAT}
        d['runs'] = [{'cpu': r['cpu'], 'vmstat': r['vmstat'],
                      'final_fmem_frac': r['series'][-1]['fmem_frac'],
                      'time_to_90_s': detection.time_to(r['series'], 0.9),
                      'updates_per_s': r['summary']['updates_per_s']} for r in ok]
        res['peers'][name] = d
        progress(f'{name}: system {d["system"]["median"]:.2f} %, '
                 f'placement {d["management_total"]["median"]:.2f} % of a vCPU')
    res['goal'] = 'issue 4: HPlacement <= 1 % of one vCPU'
    common.write_json('fig4-overhead.json', res)
    plot(res)
    return res


def fmt(v):
    return '-' if v is None else f'{v:.2f}'


def summary(res):
    lines = [f'{res["unit"]}; {res["workload"]}; median of {res["runs"]} runs '
             '(TCG guest: CPU costs are emulated-CPU costs).', '',
             '| peer | placement total | HPl sample / classify / migrate '
             '| kthreads (khplacement, kdamond, kswapd, kcompactd) | gups stime '
             '| all system time |', '|---|---|---|---|---|---|']
    for name, d in res['peers'].items():
        if 'unavailable' in d:
            lines.append(f'| {d["label"]} | unavailable: {d["unavailable"]} | | | | |')
            continue
        med = {k: d[k]['median'] for k in d if isinstance(d[k], dict) and 'median' in d[k]}
        t = d['management_total']
        lines.append(
            f'| {d["label"]} | {fmt(t["median"])} ({fmt(t["min"])}-{fmt(t["max"])}) '
            f'| {fmt(med["hpl_sample"])} / {fmt(med["hpl_classify"])} / '
            f'{fmt(med["hpl_migrate"])} '
            f'| {fmt(med["khplacement"])}, {fmt(med["kdamond"])}, '
            f'{fmt(med["kswapd"])}, {fmt(med["kcompactd"])} '
            f'| {fmt(med["gups"])} | {fmt(med["system"])} |')
    lines += ['', '"placement total" = HPlacement stages + the rest of khplacement + '
              'kdamond + kswapd + kcompactd + gups system time. /proc/stat and '
              '/proc/<pid>/stat tick at 10 ms (USER_HZ), so small values are coarse.']
    return lines


def plot(res):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    names = [n for n, d in res['peers'].items() if 'unavailable' not in d]
    fig, axes = plt.subplots(1, 2, figsize=(13, 5))
    ax = axes[0]
    bottom = [0.0] * len(names)
    for key, label, color in PARTS:
        vals = [res['peers'][n][key]['median'] or 0.0 for n in names]
        ax.bar(range(len(names)), vals, bottom=bottom, label=label, color=color)
        bottom = [b + v for b, v in zip(bottom, vals)]
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels([res['peers'][n]['label'] for n in names], rotation=30,
                       ha='right', fontsize=7)
    ax.set_ylabel('% of one vCPU')
    ax.set_title('guest system CPU by part (median of runs)')
    ax.axhline(1.0, color='red', linewidth=0.6, linestyle=':')
    ax.legend(fontsize=7)
    ax = axes[1]
    hp = [n for n in names if n.startswith('hplacement')]
    for i, n in enumerate(hp):
        b = 0.0
        for key, label, color in PARTS[:3]:
            v = res['peers'][n][key]['median'] or 0.0
            ax.bar(i, v, bottom=b, color=color, label=label if i == 0 else None)
            b += v
    ax.set_xticks(range(len(hp)))
    ax.set_xticklabels([res['peers'][n]['label'] for n in hp], fontsize=7)
    ax.axhline(1.0, color='red', linewidth=0.6, linestyle=':')
    ax.set_ylabel('% of one vCPU')
    ax.set_title('HPlacement stages (/proc/vmstat hpl_*_ns)')
    ax.legend(fontsize=7)
    fig.suptitle('Placement CPU per peer (TCG guest, 2 vCPUs)')
    common.save_png(fig, 'fig4-overhead.png')


if __name__ == '__main__':
    print('\n'.join(summary(main())))
