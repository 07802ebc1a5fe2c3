#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""make bench: run the benchmark figures (FIG=n for one, FIG=3,4 for some), write
results/<date>/*.json, *.png and summary.md."""
import os
import sys

import common

FIGURES = {1: 'hballoon', 2: 'timeline', 3: 'detection', 4: 'overhead', 5: 'exchange',
           6: 'multivm', 7: 'programs', 8: 'tieremu'}


def main():
    sel = os.environ.get('FIG')
    try:
        figs = [int(n) for n in sel.split(',')] if sel else sorted(FIGURES)
    except ValueError:
        print(f'FIG={sel}: give figure numbers, e.g. FIG=3 or FIG=3,4')
        return 2
    lines = ['# hetero-tiering benchmarks', '',
             common.environment()['accelerator'], '']
    for n in figs:
        if n not in FIGURES:
            print(f'no figure {n}; have {sorted(FIGURES)}')
            return 2
        common.progress(f'figure {n}: {FIGURES[n]}')
        mod = __import__(FIGURES[n])
        res = mod.main()
        lines += [f'## Figure {n}: {res["title"]}', ''] + mod.summary(res) + ['']
    path = os.path.join(common.results_dir(), 'summary.md')
    with open(path, 'w') as f:
        f.write('\n'.join(lines))
    print('\n'.join(lines))
    return 0


if __name__ == '__main__':
    sys.exit(main())
