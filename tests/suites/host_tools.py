# SPDX-License-Identifier: GPL-2.0
"""Guest tools built and unit-tested on the host, and the tools themselves run
on the host (one NUMA node there, so every resident page is on node 0)."""
import glob
import json
import os
import re
import shutil
import subprocess
import tempfile

from ht import paths

# tests/host/test_NAME.c, each linked with all of guest-tools/lib
UNIT_TESTS = ['htutil', 'maps', 'vmstat', 'nodelist', 'pattern']
MiB = 1 << 20


def sh(args, timeout=60):
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout)


def json_lines(out):
    """Every line parsed as JSON; None when any line is not JSON."""
    try:
        return [json.loads(line) for line in out.splitlines()]
    except ValueError:
        return None


def unit_tests(t, tmp):
    lib = sorted(glob.glob(os.path.join(paths.TOP, 'guest-tools/lib/*.c')))
    for name in UNIT_TESTS:
        exe = os.path.join(tmp, f'test_{name}')
        src = os.path.join(paths.TOP, f'tests/host/test_{name}.c')
        r = sh(['gcc', '-O2', '-std=gnu11', '-Wall', '-Wextra', '-Werror',
                '-o', exe, src, *lib])
        if not t.ok(r.returncode == 0, f'{name}: unit tests build', r.stderr):
            continue
        r = sh([exe])
        points = 0
        for line in r.stdout.splitlines():
            if line.startswith(('ok ', 'not ok ')):
                points += 1
                desc = line.split(' - ', 1)[-1]
                t.ok(line.startswith('ok '), f'{name}: {desc}')
        plan = re.search(r'^1\.\.(\d+)$', r.stdout, re.M)
        t.ok(r.returncode == 0 and points > 0 and plan and
             int(plan.group(1)) == points,
             f'{name}: test program exits 0, plan matches', r.stdout + r.stderr)


def memplace(t, tools):
    r = sh([os.path.join(tools, 'memplace'), '--json', '8M'])
    try:
        res = json.loads(r.stdout)
    except ValueError:
        res = {}
    t.ok(res.get('pages') == 2048 and sum(res.get('nodes', {}).values()) == 2048,
         'memplace: 8 MiB touched = 2048 resident pages', r.stdout + r.stderr)
    # 3 parts of 2 MiB and a page left over, every page touched
    r = sh([os.path.join(tools, 'memplace'), '--json', '--stripes', '3',
            f'{6 * 1024 + 4}K'])
    try:
        res = json.loads(r.stdout)
    except ValueError:
        res = {}
    t.ok(res.get('pages') == 1537 and
         sum(res.get('nodes', {}).values()) == 1537,
         'memplace --stripes 3: 6 MiB + 4 KiB touched = 1537 resident pages',
         r.stdout + r.stderr)
    for bad in (['0'], ['12Q'], [], ['1M', '2M'], ['--stripes', '0', '1M'],
                ['--stripes', '65', '1M'], ['--stripes', '2x', '1M']):
        r = sh([os.path.join(tools, 'memplace'), *bad])
        t.ok(r.returncode == 2 and r.stderr, f'memplace rejects {bad}')


def gups_run(t, gups, args, desc):
    """Run gups --json; (params, intervals, events, summary, diag) or None."""
    r = sh([gups, '--json', *args])
    lines = json_lines(r.stdout)
    diag = f'rc {r.returncode}\n{r.stdout}{r.stderr}'
    if not t.ok(r.returncode == 0 and lines, f'gups {desc}: exits 0, every line is JSON',
                diag):
        return None
    params = lines[0].get('params', {})
    intervals = [x for x in lines if 'updates_per_s' in x and 't' in x]
    events = [x for x in lines if 'event' in x]
    summary = lines[-1].get('summary', {})
    t.ok(params and summary and len(intervals) + len(events) + 2 == len(lines),
         f'gups {desc}: params first, summary last, only intervals and events between',
         diag)
    return params, intervals, events, summary, diag


def gups_tests(t, tools):
    gups = os.path.join(tools, 'gups')
    res = gups_run(t, gups, ['--size', '64M', '--hot', '8M', '--duration', '2',
                             '--interval', '0.5'], 'basic')
    if res:
        params, intervals, _, summary, diag = res
        t.ok(params.get('size') == 64 * MiB and params.get('hot') == 8 * MiB and
             params.get('hot_offset') == 56 * MiB and params.get('interval_s') == 0.5,
             'gups: params echo size, hot, hot set at the end, interval', diag)
        t.ok(len(intervals) >= 3, f'gups: {len(intervals)} interval lines (>= 3)', diag)
        t.ok(intervals and all(x['updates_per_s'] > 0 and x['updates'] > 0
                               for x in intervals),
             'gups: updates/s > 0 in every interval', diag)
        times = [x['t'] for x in intervals]
        t.ok(times == sorted(times) and times and abs(times[-1] - 2.0) < 0.2 and
             abs(times[0] - 0.5) < 0.2, f'gups: interval times {times} end at --duration',
             diag)
        totals = [x['total'] for x in intervals]
        t.ok(totals and sum(x['updates'] for x in intervals) == totals[-1] and
             summary.get('updates') == totals[-1] and summary.get('updates_per_s', 0) > 0
             and abs(summary.get('duration_s', 0) - 2.0) < 0.2,
             'gups: summary adds up the intervals', diag)
        t.ok(intervals and all(x.get('hot_pages_sampled') == 2048 and
                               x['hot_node_frac_sampled'].get('0', 0) > 0.99
                               for x in intervals),
             'gups: whole hot set (2048 pages) sampled, on node 0', diag)

    res = gups_run(t, gups, ['--size', '64M', '--hot', '8M', '--duration', '2',
                             '--interval', '0.5', '--shift-at', '1'], 'shift')
    if res:
        params, intervals, events, summary, diag = res
        shifts = [x for x in events if x.get('event') == 'shift']
        t.ok(len(shifts) == 1 and shifts[0].get('from_offset') == 56 * MiB and
             shifts[0].get('to_offset') == 0 and abs(shifts[0].get('t', 0) - 1.0) < 0.2
             and params.get('shift_to_offset') == 0 and summary.get('shifts') == 1,
             'gups --shift-at 1: one shift from the end to offset 0 at 1 s', diag)
        t.ok(intervals and all(x['hot_offset'] == (56 * MiB if x['t'] < 1.2 else 0)
                               for x in intervals),
             'gups --shift-at: intervals report the hot set before and after', diag)

    res = gups_run(t, gups, ['--size', '32M', '--elem', '4096', '--threads', '2',
                             '--thp', '--membind', '0', '--hot-at', 'start',
                             '--hot-frac', '1', '--duration', '0.6', '--interval',
                             '0.3', '--hot-sample', '16'],
                   'elem 4096, 2 threads, thp, membind 0, hot-sample 16')
    if res:
        params, intervals, _, summary, diag = res
        t.ok(params.get('thp') is True and params.get('membind') == 0 and
             params.get('hot_offset') == 0 and params.get('threads') == 2 and
             summary.get('updates', 0) > 0 and len(intervals) == 2 and
             all(x['hot_node_frac_sampled'].get('0', 0) > 0.99 for x in intervals),
             'gups: elem 4096, 2 threads, --thp, --membind 0 run and report', diag)
        t.ok(params.get('hot_sample') == 16 and
             all(x.get('hot_pages_sampled') == 16 for x in intervals),
             'gups --hot-sample 16: each report queries 16 pages of the hot set', diag)

    r = sh([gups, '--size', '16M', '--duration', '1', '--interval', '0.25',
            '--shift-at', '0.5'])
    out = r.stdout
    t.ok(r.returncode == 0 and
         len(re.findall(r'^ +[\d.]+ s +[\d.]+ Mupd/s +total +[\d.]+ M, hot on node0 1\.000',
                        out, re.M)) == 4 and
         re.search(r'^gups: pid \d+, size 16M, hot 2M at offset 14M', out, re.M) and
         re.search(r'shift: hot set moved from offset 14M to 0', out) and
         re.search(r'^summary: [\d.]+ s, [1-9]\d* updates', out, re.M),
         'gups text output: params, 4 interval lines, shift, summary',
         out + r.stderr)

    for args, opt in ((['--size', '12Q'], '--size'),
                      (['--size', '64M', '--hot', '128M'], '--hot'),
                      (['--hot-frac', '1.5'], '--hot-frac'),
                      (['--hot-at', 'middle'], '--hot-at'),
                      (['--threads', '0'], '--threads'),
                      (['--duration', '0'], '--duration'),
                      (['--interval', 'x'], '--interval'),
                      (['--hot-sample', '0'], '--hot-sample'),
                      (['--duration', '5', '--shift-at', '20'], '--shift-at'),
                      (['--elem', '16'], '--elem'),
                      (['--membind', '99'], '--membind'),
                      (['--seed', '-3'], '--seed'),
                      (['--bogus'], '--bogus'),
                      (['--size'], '--size')):
        r = sh([gups, *args])
        t.ok(r.returncode == 2 and opt in r.stderr and not r.stdout,
             f'gups {" ".join(args)}: exit 2 naming {opt}',
             f'rc {r.returncode}\n{r.stdout}{r.stderr}')


def vmstat_names(prefixes):
    with open('/proc/vmstat', encoding='ascii') as f:
        names = [line.split()[0] for line in f]
    return {n for n in names if n.startswith(tuple(prefixes))}


def tierstat_tests(t, tools):
    tierstat = os.path.join(tools, 'tierstat')
    sleeper = subprocess.Popen(['sleep', '30'])
    try:
        pid = str(sleeper.pid)
        r = sh([tierstat, pid])
        m = re.search(r'^node0 (\d+) ', r.stdout, re.M)
        t.ok(r.returncode == 0 and m and int(m.group(1)) > 0 and
             re.match(rf'pid {pid}: \d+ mappings', r.stdout),
             'tierstat PID (sleep): pages per node, node0 > 0', r.stdout + r.stderr)
        r = sh([tierstat, '--json', pid])
        try:
            res = json.loads(r.stdout)
        except ValueError:
            res = {}
        nodes = res.get('nodes', {})
        t.ok(r.returncode == 0 and res.get('pid') == sleeper.pid and
             nodes.get('0', 0) > 0 and sum(nodes.values()) == res.get('resident') and
             res.get('pages', 0) >= res.get('resident', 1) and
             res.get('skipped_mappings', 0) >= 1,
             'tierstat --json PID: parses, node0 > 0, resident = sum of nodes',
             r.stdout + r.stderr)

        prefixes = ['numa_', 'pgmigrate']
        want = vmstat_names(prefixes)
        r = sh([tierstat, '--json', '--vmstat', 'numa_', '--vmstat', 'pgmigrate',
                '--interval', '0.2', pid])
        try:
            res = json.loads(r.stdout)
        except ValueError:
            res = {}
        vm = res.get('vmstat', {})
        deltas = vm.get('deltas', {})
        t.ok(r.returncode == 0 and want and set(deltas) == want and
             all(isinstance(v, int) for v in deltas.values()) and
             0.19 <= vm.get('interval_s', 0) < 1 and res.get('nodes', {}).get('0', 0) > 0,
             f'tierstat --vmstat numa_ --vmstat pgmigrate: deltas of {len(want)} counters',
             r.stdout + r.stderr)
    finally:
        sleeper.kill()
        sleeper.wait()

    r = sh([tierstat, '--vmstat', 'nr_free_', '--interval', '0.1'])
    t.ok(r.returncode == 0 and re.search(r'^nr_free_pages -?\d+$', r.stdout, re.M) and
         'vmstat deltas over' in r.stdout and 'pid' not in r.stdout,
         'tierstat --vmstat without PID: system-wide deltas only', r.stdout + r.stderr)

    r = sh([tierstat, '999999999'])
    t.ok(r.returncode == 1 and 'no such process' in r.stderr and not r.stdout,
         'tierstat 999999999: exit 1, no such process', f'rc {r.returncode}\n{r.stderr}')
    for args in (['--fast-node', '64', '1'], ['--range', '12', '1'],
                 ['--range', '2000-1000', '1'], ['--interval', 'x', '1'],
                 ['abc'], ['--bogus', '1'], [], ['1', '2'], ['--range', '1000-2000']):
        r = sh([tierstat, *args])
        t.ok(r.returncode == 2 and r.stderr and not r.stdout,
             f'tierstat {" ".join(args)}: exit 2', f'rc {r.returncode}\n{r.stderr}')

    # gups as a helper whose hot set address we know from its params line
    helper = subprocess.Popen([os.path.join(tools, 'gups'), '--json', '--size', '32M',
                               '--hot', '4M', '--duration', '30', '--interval', '10'],
                              stdout=subprocess.PIPE, text=True)
    try:
        try:
            params = json.loads(helper.stdout.readline())['params']
        except (ValueError, KeyError):
            params = {}
        if not t.ok(params.get('pid') == helper.pid, 'gups helper prints its params'):
            return
        pid, hot = str(helper.pid), params['hot_range']
        r = sh([tierstat, '--json', '--range', hot, pid])
        try:
            res = json.loads(r.stdout)
        except ValueError:
            res = {}
        rng = res.get('range', {})
        t.ok(r.returncode == 0 and rng.get('pages') == 1024 and
             rng.get('resident') == 1024 and rng.get('nodes', {}).get('0') == 1024 and
             rng.get('fast_node') == 0 and rng.get('fast_frac') == 1.0,
             'tierstat --range (gups hot set): 1024 pages, fraction 1.0 on node 0',
             r.stdout + r.stderr)
        t.ok(res.get('resident', 0) >= 32 * MiB // 4096,
             'tierstat: process resident pages cover the 32 MiB buffer',
             r.stdout + r.stderr)
        r = sh([tierstat, '--json', '--range', hot, '--fast-node', '1', pid])
        try:
            rng = json.loads(r.stdout).get('range', {})
        except ValueError:
            rng = {}
        t.ok(r.returncode == 0 and rng.get('fast_node') == 1 and rng.get('fast_frac') == 0.0,
             'tierstat --range --fast-node 1: fraction 0.0 (nothing on node 1)',
             r.stdout + r.stderr)
        start = int(params['buf'], 16)
        r = sh([tierstat, '--range', f'{start:x}-{start + 32 * MiB:x}', pid])
        t.ok(r.returncode == 0 and
             re.search(r'^range 0x[0-9a-f]+-0x[0-9a-f]+: 8192 pages, 8192 resident',
                       r.stdout, re.M) and
             re.search(r'^fast node 0: 1\.0000 of resident$', r.stdout, re.M),
             'tierstat --range (whole gups buffer, text): 8192 pages, 1.0000 on node 0',
             r.stdout + r.stderr)
    finally:
        helper.kill()
        helper.wait()
        helper.stdout.close()


def integrity_summary(r):
    """The summary object of an integrity run, {} when there is none."""
    for line in r.stdout.splitlines():
        try:
            return json.loads(line)['summary']
        except (ValueError, KeyError):
            continue
    return {}


def integrity_tests(t, tools):
    """integrity on the host (one node, no exchange): the racers that need
    no tiering kernel run and find nothing; a page corrupted behind its
    writer's back is found, at its address, and classified."""
    exe = os.path.join(tools, 'integrity')
    r = sh([exe, '--size', '16M', '--duration', '2', '--fork', '--munmap',
            '--mprotect', '--split', '--seed', '3'])
    s = integrity_summary(r)
    ops = {k: s.get(k, 0) for k in ('verified', 'rewrites', 'child_verified',
                                   'final_verified', 'forks', 'munmaps',
                                   'remaps', 'mremaps', 'mprotects')}
    ops.update({f'split_{k}': v for k, v in s.get('splits', {}).items()})
    t.ok(r.returncode == 0 and s.get('corruptions') == 0 and s.get('errors') == 0,
         'integrity (host, fork/munmap/mprotect/split racing): exit 0, no corruption',
         r.stdout + r.stderr[-2000:])
    t.ok(len(ops) == 13 and all(ops.values()),
         'integrity: every racer acted and pages were verified', ops)
    for how, kind in (('flip', 'torn'), ('zero', 'zero')):
        r = sh([exe, '--size', '16M', '--duration', '3', '--fork', '--mprotect',
                '--inject', how, '--inject-at', '0.5'])
        s = integrity_summary(r)
        first = s.get('first_corruption') or {}
        inj = s.get('injected') or {}
        t.ok(r.returncode == 1 and s.get('corruptions', 0) >= 1 and
             first.get('addr') == inj.get('addr') and first.get('kind') == kind and
             s.get('duration_s', 9) < 2.5,
             f'integrity --inject {how}: caught at the injected address as {kind}, '
             f'run stopped, exit 1', r.stdout + r.stderr[-2000:])
    r = sh([exe, '--size', '12M'])
    t.ok(r.returncode == 2 and '--size' in r.stderr,
         'integrity: a size that is no multiple of 8M is refused (exit 2)', r.stderr)


def header_sync(t):
    """QEMU's copy of each protocol header is the Linux uapi header put
    through QEMU's scripts/update-linux-headers.sh rules."""
    for name in ('virtio_hballoon.h',):
        with open(os.path.join(paths.TOP, 'kernel/include/uapi/linux', name)) as f:
            want = f.read()
        want = re.sub(r'__le(\d+)', r'uint\1_t', want)
        want = re.sub(r'<linux/([^>]*)>', r'"standard-headers/linux/\1"', want)
        with open(os.path.join(paths.TOP, 'qemu/include/standard-headers/linux',
                               name)) as f:
            got = f.read()
        t.ok(got == want, f'{name}: QEMU standard-headers copy matches the Linux uapi header')


def run(t):
    header_sync(t)
    tmp = tempfile.mkdtemp(prefix='ht-host-')
    try:
        tools = os.path.join(paths.OUT, 'guest-tools')
        r = sh(['make', '-s', '-C', os.path.join(paths.TOP, 'guest-tools'),
                f'O={tools}'], timeout=300)
        if not t.ok(r.returncode == 0, 'guest tools build', r.stdout + r.stderr):
            return
        unit_tests(t, tmp)
        memplace(t, tools)
        gups_tests(t, tools)
        tierstat_tests(t, tools)
        integrity_tests(t, tools)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
