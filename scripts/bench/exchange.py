#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Figure 5: folio exchange vs paired migration (a promotion plus a
demotion with move_pages(2)): pages moved per second and TLB flushes, with
free FMEM and with FMEM full (filled to its watermark).  guest-tools/xchgbench
does the work; the TLB flushes are the tlb:tlb_flush trace events of the
timed part, by reason.  Exchange runs twice: contents swapped by the guest
CPU (virtio_hballoon.exchange_offload=0) and by the host through
virtio-hballoon's exchange queue, whose host time is reported too."""
import json
import os
import re

import common
from common import progress
from ht.guest import Guest

MiB = 1 << 20
PAGES = int(os.environ.get('HT_BENCH_XCHG_PAGES', '8192'))    # 32 MiB each way
RUNS = int(os.environ.get('BENCH_RUNS') or os.environ.get('HT_BENCH_RUNS') or '3')
T = '/sys/kernel/tracing'
PARAMS = '/sys/module/virtio_hballoon/parameters'
# (name, FMEM full?, xchgbench arguments)
CASES = [
    ('exchange, 8 pairs/write', False, '--method exchange --step 8'),
    ('exchange, 512 pairs/write', False, '--method exchange --step 512'),
    ('exchange via host, 512 pairs/write', False, '--method exchange --step 512'),
    ('migrate, 8+8 pages/call', False, '--method migrate --step 8'),
    ('migrate, 512+512 pages/call', False, '--method migrate --step 512'),
    ('exchange, 8 pairs/write', True, '--method exchange --step 8'),
    ('exchange, 512 pairs/write', True, '--method exchange --step 512'),
    ('exchange via host, 512 pairs/write', True, '--method exchange --step 512'),
    ('migrate, 8+8 pages/call', True, '--method migrate --step 8 --demote-first'),
    ('migrate, 512+512 pages/call', True,
     '--method migrate --step 512 --demote-first'),
    ('migrate, all pages in one call each, promote first', True,
     f'--method migrate --step {min(PAGES, 8192)}'),
]
REASONS = {'local mm shootdown': 'local_page', 'local shootdown': 'local_full',
           'remote shootdown': 'remote', 'remote ipi send': 'ipi_sent',
           'flush on task switch': 'task_switch'}


def tlb_counts(g):
    out = g.out(f"grep -o 'reason:[a-z ]*' {T}/trace | sort | uniq -c")
    got = {v: 0 for v in REASONS.values()}
    for n, reason in re.findall(r'(\d+) reason:([a-z ]+?)\s*$', out, re.M):
        got[REASONS.get(reason, reason)] = int(n)
    # flushes done: single pages and whole TLBs, here and on other CPUs
    got['flushes'] = got['local_page'] + got['local_full'] + got['remote']
    return got


def one(g, args, full, host):
    g.out(f'echo {int(host)} > {PARAMS}/exchange_offload; '
          f'echo 0 > {PARAMS}/exchange_min_kb; echo > {T}/trace')
    cmd = f'xchgbench --pages {PAGES} --trace-tlb {args}'
    if full:
        cmd += ' --fill-fmem 0'
    h0 = g.qmp.cmd('query-hballoon-exchange')
    out = g.out(cmd, timeout=600)
    h1 = g.qmp.cmd('query-hballoon-exchange')
    r = json.loads(out.strip().splitlines()[-1])
    r['tlb'] = tlb_counts(g)
    r['command'] = cmd
    keys = ('requests', 'entries', 'bytes', 'host-ns', 'delay-ns')
    r['host'] = {k: h1[k] - h0[k] for k in keys}
    return r


def main():
    res = {'figure': 5, 'title': 'Exchange vs paired migration (promote + demote)',
           'env': common.environment(), 'pages_each_way': PAGES, 'runs': RUNS,
           'fmem': '512M', 'smem': '1G', 'cases': []}
    todo = len(CASES) * RUNS
    progress('booting the guest (FMEM 512M, SMEM 1G)')
    with Guest(fmem='512M', smem='1G', boot_timeout=120,
               qemu_args=['-device', 'virtio-hballoon-pci,id=hb']) as g:
        g.out(f'mount -t tracefs nodev {T} 2>/dev/null; '
              f'echo 0 > {T}/tracing_on; echo 8192 > {T}/buffer_size_kb; '
              f'echo 1 > {T}/events/tlb/tlb_flush/enable')
        done = 0
        for name, full, args in CASES:
            runs = []
            for i in range(RUNS):
                progress(f'{name}, {"FMEM full" if full else "free FMEM"}: '
                         f'run {i + 1}/{RUNS} ({done}/{todo} done)')
                runs.append(one(g, args, full, 'via host' in name))
                done += 1
            res['cases'].append({
                'name': name, 'fmem_full': full, 'args': args,
                'pages_moved_per_s': common.summary(
                    [r['pages_moved_per_s'] for r in runs]),
                'tlb_flushes': common.summary([r['tlb']['flushes'] for r in runs]),
                'tlb_page_flushes': common.summary([r['tlb']['local_page']
                                                    for r in runs]),
                'tlb_full_flushes': common.summary(
                    [r['tlb']['local_full'] + r['tlb']['remote'] for r in runs]),
                'fmem_free_kb': common.summary([r['fmem_free_kb'] for r in runs]),
                'ipis_sent': common.summary([r['tlb']['ipi_sent'] for r in runs]),
                'pairs_moved': common.summary([r['pairs_moved'] for r in runs]),
                'corrupt_pages': sum(r['corrupt_pages'] for r in runs),
                'host_ms': common.summary([r['host']['host-ns'] / 1e6
                                           for r in runs]),
                'host_pairs': common.summary([r['host']['entries']
                                              for r in runs]),
                'runs': runs})
            c = res['cases'][-1]
            progress(f'  {c["pages_moved_per_s"]["median"]:.0f} pages/s, '
                     f'{c["tlb_flushes"]["median"]} TLB flushes, '
                     f'{c["pairs_moved"]["median"]} of {PAGES} pairs moved')
    res['ratios'] = {}
    rate = lambda c: c['pages_moved_per_s']['median'] or 0  # noqa: E731
    for full in (False, True):
        cs = [c for c in res['cases'] if c['fmem_full'] == full
              and 'promote first' not in c['name']]
        xs = [c for c in cs if c['name'].startswith('exchange')]
        mig = [c for c in cs if c['name'].startswith('migrate')]
        x, best = max(xs, key=rate), max(mig, key=rate)
        key = 'fmem_full' if full else 'free_fmem'
        # the same batch size: exchange STEP pairs vs migrate STEP+STEP
        same = {}
        for c in xs:
            step = c['args'].split('--step ')[1].split()[0]
            m = next((m for m in mig if f'--step {step}' in m['args']), None)
            if m and rate(m):
                same[c['name']] = rate(c) / rate(m)
        res['ratios'][key] = {
            'exchange_over_best_migrate': rate(x) / rate(best),
            'best_exchange': x['name'], 'best_migrate': best['name'],
            'exchange_over_same_step_migrate': same}
    res['goal'] = 'exchange >= 1.5x paired migration (issue 4)'
    common.write_json('fig5-exchange.json', res)
    plot(res)
    return res


def fmt(v):
    return '-' if v is None else f'{v:.3g}'


def summary(res):
    lines = [f'{res["pages_each_way"]} pages each way (4 KiB, anonymous), '
             'TCG guest: absolute rates are emulated-guest rates.', '',
             '| case | FMEM (free MiB) | pages/s (min-max) | TLB flushes: '
             'single page + full | IPIs | pairs moved | host ms (pairs) |',
             '|---|---|---|---|---|---|---|']
    for c in res['cases']:
        p = c['pages_moved_per_s']
        lines.append(f'| {c["name"]} | {"full" if c["fmem_full"] else "free"} '
                     f'({c["fmem_free_kb"]["median"] / 1024:.0f}) '
                     f'| {fmt(p["median"])} ({fmt(p["min"])}-{fmt(p["max"])}) '
                     f'| {fmt(c["tlb_page_flushes"]["median"])} + '
                     f'{fmt(c["tlb_full_flushes"]["median"])} '
                     f'| {fmt(c["ipis_sent"]["median"])} '
                     f'| {fmt(c["pairs_moved"]["median"])} '
                     f'| {fmt(c["host_ms"]["median"])} '
                     f'({fmt(c["host_pairs"]["median"])}) |')
    lines.append('')
    for k, r in res['ratios'].items():
        same = ', '.join(f'{name} {v:.2f}x' for name, v in
                         r['exchange_over_same_step_migrate'].items())
        lines.append(f'- {k.replace("_", " ")}: best exchange ({r["best_exchange"]}) '
                     f'/ best paired migration ({r["best_migrate"]}) = '
                     f'{r["exchange_over_best_migrate"]:.2f}x; with the same '
                     f'batch: {same} (goal: >= 1.5x)')
    bad = sum(c['corrupt_pages'] for c in res['cases'])
    lines.append(f'- pages with wrong contents after moving: {bad}')
    return lines


def plot(res):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    cs = res['cases']
    labels = [f'{c["name"]}\n({"FMEM full" if c["fmem_full"] else "free FMEM"})'
              for c in cs]
    colors = ['tab:blue' if c['name'].startswith('exchange') else 'tab:gray'
              for c in cs]
    fig, axes = plt.subplots(1, 2, figsize=(13, 5))
    ax = axes[0]
    med = [c['pages_moved_per_s']['median'] or 0 for c in cs]
    lo = [m - (c['pages_moved_per_s']['min'] or 0) for c, m in zip(cs, med)]
    hi = [(c['pages_moved_per_s']['max'] or 0) - m for c, m in zip(cs, med)]
    ax.bar(range(len(cs)), med, yerr=[lo, hi], capsize=4, color=colors)
    ax.set_yscale('log')
    ax.set_ylabel('pages moved / s (log)')
    ax.set_title(f'{res["pages_each_way"]} pages each way')
    ax = axes[1]
    page = [c['tlb_page_flushes']['median'] or 0 for c in cs]
    full = [c['tlb_full_flushes']['median'] or 0 for c in cs]
    ax.bar(range(len(cs)), page, color='silver', label='single-page flushes')
    ax.bar(range(len(cs)), full, bottom=page, color='tab:red',
           label='full flushes (local + remote)')
    ax.set_ylabel('TLB flushes (medians)')
    ax.set_ylim(0, 1.3 * max([p + f for p, f in zip(page, full)] + [1]))
    ax.set_title('tlb:tlb_flush events in the timed part')
    ax.legend(fontsize=7, loc='upper left')
    for ax in axes:
        ax.set_xticks(range(len(cs)))
        ax.set_xticklabels(labels, rotation=60, ha='right', fontsize=7)
    fig.suptitle('Exchange vs promote + demote (TCG guest; median, min-max)')
    common.save_png(fig, 'fig5-exchange.png')


if __name__ == '__main__':
    print('\n'.join(summary(main())))
