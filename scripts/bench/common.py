# SPDX-License-Identifier: GPL-2.0
"""Shared helpers of the benchmarks: results folder, repeated runs,
progress lines, JSON output."""
import datetime
import json
import os
import statistics
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, 'tests'))

from ht import paths  # noqa: E402,F401  (sets up QEMU's python path)

T0 = time.monotonic()


def progress(msg):
    print(f'[bench {time.monotonic() - T0:6.1f} s] {msg}', flush=True)


def results_dir():
    d = os.environ.get('HT_RESULTS') or os.path.join(
        TOP, 'results', datetime.date.today().isoformat())
    os.makedirs(d, exist_ok=True)
    return d


def summary(values):
    """Median with min/max of repeated measurements."""
    vals = [v for v in values if v is not None]
    if not vals:
        return {'median': None, 'min': None, 'max': None, 'n': 0}
    return {'median': statistics.median(vals), 'min': min(vals),
            'max': max(vals), 'n': len(vals), 'runs': vals}


def write_json(name, data):
    path = os.path.join(results_dir(), name)
    with open(path, 'w') as f:
        json.dump(data, f, indent=2)
    progress(f'wrote {path}')
    return path


def usable(runs):
    """The runs that measured something: neither unavailable nor failed."""
    return [r for r in runs if 'unavailable' not in r and 'error' not in r]


def why_unusable(runs):
    """Why a peer has no usable run: its first reason, or 'not run'."""
    return next((r.get('unavailable') or 'failed: ' + r['error'][:300]
                 for r in runs), 'not run')


def save_png(fig, name):
    """Lay out a matplotlib figure and write it into the results folder."""
    fig.tight_layout()
    path = os.path.join(results_dir(), name)
    fig.savefig(path, dpi=120)
    progress(f'wrote {path}')
    return path


def environment():
    return {'accelerator': 'TCG (software emulation): absolute times are '
                           'emulated-guest times, not tiered hardware',
            'host_cpus': os.cpu_count(),
            'date': datetime.datetime.now().isoformat(timespec='seconds')}
