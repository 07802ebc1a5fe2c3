#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""make bench: run the benchmark figures (FIG=n for one), write
results/<date>/*.json, *.png and summary.md."""
import os
import sys

import common

FIGURES = {1: 'hballoon'}


def fmt(v, unit=''):
    return '-' if v is None else f'{v:.3g}{unit}'


def main():
    sel = os.environ.get('FIG')
    figs = [int(sel)] if sel else sorted(FIGURES)
    lines = ['# hetero-tiering benchmarks', '',
             common.environment()['accelerator'], '']
    for n in figs:
        if n not in FIGURES:
            print(f'no figure {n}; have {sorted(FIGURES)}')
            return 2
        common.progress(f'figure {n}: {FIGURES[n]}')
        res = __import__(FIGURES[n]).main()
        lines += [f'## Figure {n}: {res["title"]}', '',
                  '| device | inflate GiB/s (min-max) | deflate GiB/s (min-max) '
                  '| host THPs split by the inflate | host THP bytes kept |',
                  '|---|---|---|---|---|']
        for name, d in res['devices'].items():
            i, o, k = d['inflate_gib_per_s'], d['deflate_gib_per_s'], d['thp_kept_fraction']
            sp = d['host_thp_splits']
            lines.append(f'| {name} | {fmt(i["median"])} ({fmt(i["min"])}-{fmt(i["max"])}) '
                         f'| {fmt(o["median"])} ({fmt(o["min"])}-{fmt(o["max"])}) '
                         f'| {fmt(sp["median"])} '
                         f'| {fmt(k["median"] and k["median"] * 100, "%")} |')
        lines += [''] + [f'- {k}: {v:.1f}x' for k, v in res['ratios'].items()] + ['']
    path = os.path.join(common.results_dir(), 'summary.md')
    with open(path, 'w') as f:
        f.write('\n'.join(lines))
    print('\n'.join(lines))
    return 0


if __name__ == '__main__':
    sys.exit(main())
