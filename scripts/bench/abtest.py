#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""A/B of guest kernels in figure 3's steady scenario: HPlacement at one
budget, each kernel booted fresh per run, kernels interleaved within each
run so that the host's drift hits all alike.  Prints each run as it ends
and a JSON summary (time to 90 %, final coverage, khplacement's CPU and
the migration counters per run).  An arm may set HPlacement's sysfs
files too (KERNEL:file=value,...), so one kernel can be compared with
itself under other settings; the setting lead=S (not a file) starts gups
S seconds after HPlacement is enabled (default: HT_BENCH_LEAD_S).
With --shift-at T, gups moves its hot set T seconds into the updates (figure
3's second scenario) and the time to 90 % counts from that move.

  scripts/bench/abtest.py --budget 10000 --runs 3 A/bzImage B/bzImage
  scripts/bench/abtest.py --runs 3 B/bzImage B/bzImage:window_ms=10000
  scripts/bench/abtest.py --runs 3 B/bzImage:lead=0 B/bzImage:lead=10
  scripts/bench/abtest.py --runs 5 --duration 20 --shift-at 10 A/bzImage B/bzImage
"""
import argparse
import json
import os

import detection


class Tuned(detection.HPlacement):
    """HPlacement with some of its sysfs files set before it is enabled."""

    def __init__(self, budget, files):
        super().__init__(budget)
        self.files = files

    def setup(self, g):
        for f, val in self.files.items():
            g.out(f'echo {val} > {detection.HPL}/{f}')
        return {**super().setup(g), 'files': self.files}


def arm(spec):
    """KERNEL[:file=value,...,lead=S] -> (kernel, {file: value}, lead)"""
    kernel, _, rest = spec.partition(':')
    files = dict(x.split('=', 1) for x in rest.split(',') if x)
    lead = float(files.pop('lead')) if 'lead' in files else None
    if lead is not None and lead < 0:
        raise ValueError('lead < 0')
    return kernel, files, lead


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('kernels', nargs='+',
                    help='bzImage files to compare (KERNEL[:file=value,...])')
    ap.add_argument('--budget', type=int, default=10000,
                    help='HPlacement budget in ppm of a vCPU (10000)')
    ap.add_argument('--runs', type=int, default=3)
    ap.add_argument('--duration', type=int, default=detection.DURATION,
                    help='seconds of gups updates per run')
    ap.add_argument('--shift-at', type=float, default=None,
                    help='gups moves its hot set this many seconds in')
    a = ap.parse_args()
    for k in a.kernels:
        try:
            kernel, _, _ = arm(k)
        except ValueError:
            ap.error(f'{k}: settings are file=value, lead=SECONDS >= 0')
        if not os.path.isfile(kernel):
            ap.error(f'no kernel image {kernel}')
    if a.runs < 1 or a.duration < 2 or not 0 < a.budget <= 1000000:
        ap.error('--runs >= 1, --duration >= 2, 0 < --budget <= 1000000')
    if a.shift_at is not None and not 0 < a.shift_at < a.duration:
        ap.error('--shift-at: between 0 and --duration')
    res = {k: [] for k in a.kernels}
    for r in range(a.runs):
        for k in a.kernels:
            kernel, files, lead = arm(k)
            run = detection.one_run(Tuned(a.budget, files), a.duration,
                                    shift_at=a.shift_at,
                                    run_vm_args=['--kernel', kernel],
                                    lead_s=lead)
            if 'unavailable' in run:
                raise SystemExit(f'abtest.py: {k}: {run["unavailable"]}')
            vm = run.get('vmstat', {})
            after = 0.0
            if a.shift_at is not None:
                after = (run.get('shift') or {}).get('t', a.shift_at)
            row = {'time_to_90_s': detection.time_to(run['series'], 0.9,
                                                     after),
                   'final': run['series'][-1]['fmem_frac'] if run['series'] else None,
                   'khplacement_pct': run.get('cpu', {}).get('khplacement'),
                   'khplacement_pct_since_setup':
                       run.get('cpu_since_setup', {}).get('khplacement'),
                   **{c: vm.get(c) for c in ('hpl_promotions', 'hpl_exchanges',
                                             'hpl_sample_ns', 'hpl_migrate_ns',
                                             'hpl_warm_held')}}
            res[k].append(row)
            print(f'run {r + 1}/{a.runs} {k}: {json.dumps(row)}', flush=True)
    print(json.dumps({'budget_ppm': a.budget, 'duration_s': a.duration,
                      'shift_at_s': a.shift_at, 'runs': res}, indent=1))


if __name__ == '__main__':
    main()
