#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Figure 7: real programs from Debian's packages in the guest.  Each
program's data is first placed on SMEM, then a placement peer runs while a
load generator drives the program for a fixed time: the program's
throughput (as its own counters or the tool report it) and the FMEM share
of its resident memory (/proc/PID/numa_maps) over time, per peer.

Workloads (HT_BENCH_PROGRAMS, comma-separated; default "redis,sysbench"):

- redis: redis-server (Debian's redis-tools binary) with 160000 keys of
  1000 bytes (~190 MiB resident) loaded in key order by one Lua EVAL;
  redis-benchmark GETs on the first 20000 keys (~24 MiB: the hot set) over
  127.0.0.1; throughput from the server's total_commands_processed;
- redis-uniform: the same, GETs on all 160000 keys (no hot set: the working
  set is twice the free FMEM);
- sysbench: sysbench (Debian's, LuaJIT) running a Lua event loop: 4096
  read-modify-writes of 8 bytes per event at offsets from sysbench's Pareto
  generator (h = 0.2: the first 10 % of the 192 MiB buffer take ~73 % of
  them); throughput from sysbench's 1 s reports.  (sysbench's own memory
  test needs a power-of-two buffer and does block/8 random writes per event:
  one event of a 128 MiB buffer takes 5-18 s under TCG, too coarse.)

Placement (the memory policy): every program runs with the default
mempolicy, so that every peer may move its pages (numactl --membind would
forbid promotion to node 0, and the guest kernel has no cgroups for a
cpuset).  Its data goes to SMEM because node 0 is full while it loads: a
cold filler holds all but 96 MiB of FMEM (above node 0's high watermark)
for the whole run, as in figure 3, and a second, temporary filler holds
all but 2 MiB of the rest during the load; it exits before the peer
starts, so 96 MiB of FMEM are free and only the peer moves the program's
pages.  The oracle's temporary filler holds only 16 MiB: the first ~80 MiB
the program touches (redis: the hot keys, loaded first; sysbench: the
start of its buffer, where Pareto is hot) take FMEM, the rest spills to
SMEM, 16 MiB stay free, and nothing moves it.

The program and its load generator are pinned to vCPU 1 together (PIN).
Peers are those of figure 3 (detection.py).  Every (workload, peer, run)
boots a fresh guest (FMEM 256M, SMEM 1G, 2 vCPUs) with QEMU's TCG tier
emulation on.  Besides the rate, each run has the rate per host CPU second
of QEMU (the host is shared; figure 8 uses the same measure), QEMU's count
of SMEM accesses that missed its emulated cache per operation, and
/proc/vmstat migration counters.  Absolute rates are TCG (emulated guest)
rates."""
import datetime
import hashlib
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import time

import common
from common import progress
from ht import paths
from ht.guest import Guest
import detection
from detection import Unavailable

MiB = 1 << 20
FMEM, SMEM = '256M', '1G'
FREE_FMEM = 96 * MiB
LOAD_MARGIN = 2 * MiB       # FMEM left free by the temporary filler
ORACLE_HEADROOM = 16 * MiB  # FMEM the oracle's temporary filler holds
DURATION = int(os.environ.get('HT_BENCH_PROGRAMS_S', '20'))
RUNS = int(os.environ.get('BENCH_RUNS') or os.environ.get('HT_BENCH_RUNS') or '2')
TIER_EMU = os.environ.get('HT_BENCH_TIER_EMU', '1') != '0'
# SMEM misses per operation are also given over the window's last END_S s.
END_S = 5
WORKLOAD_NAMES = [w for w in os.environ.get(
    'HT_BENCH_PROGRAMS', 'redis,sysbench').replace(' ', ',').split(',') if w]
INITRD = os.path.join(paths.OUT, 'initramfs-bench.cpio.gz')
# The program and its load generator run on vCPU 1 together: a request
# that crosses vCPUs costs an IPI round trip under TCG, and where the guest
# scheduler put the two decided redis' rate by 10x (4 k or 50 k GET/s)
# more than any placement did.  vCPU 0 is left to the peers' threads.
PIN = 'taskset -c 1'
VMSTAT = ['pgpromote_success', 'pgdemote_kswapd', 'pgdemote_direct',
          'pgmigrate_success', 'numa_hint_faults', 'hpl_promotions',
          'hpl_exchanges', 'hpl_demotions', 'exchange_success']

# Sum of the N0= / N1= page counts over the anonymous mappings of
# /proc/$P/numa_maps (heap, stack, mmap'ed data; not the program's text and
# libraries, which are initramfs page cache on node 0).
NUMA_AWK = (r"""awk '/ file=/ {next} {for (i = 2; i <= NF; i++) {if ($i ~ /^N0=/) """
            r"""a += substr($i, 4); else if ($i ~ /^N1=/) b += substr($i, 4)}} """
            r"""END {print a + 0, b + 0}'""")


class Redis:
    name = 'redis'
    label = 'redis GET, hot 20000 of 160000 keys'
    progs = ['redis-check-rdb', 'redis-cli', 'redis-benchmark']
    unit = 'GET/s'
    KEYS, VALUE = 160000, 1000
    hot = 20000
    CLIENT = 'redis-benchmark -t get -c 8 -P 4 -n 1000000000 -q'
    counter = ("redis-cli info stats | awk -F: "
               "'/^total_commands_processed:/ {print $2 + 0}'")

    def describe(self):
        return {'program': 'redis-server 7 (redis-check-rdb started as redis-server)',
                'load': f'EVAL: SET key:%012d to {self.VALUE} bytes for '
                        f'{self.KEYS} keys in key order',
                'client': f'{self.CLIENT} -r {self.hot}',
                'throughput': 'server total_commands_processed per second '
                              '(GETs; the sampler adds 1 INFO per second)'}

    def start(self, g):
        # Debian's redis-server is a link to redis-check-rdb, which picks
        # its role by the name it runs under.
        g.out('ln -sf redis-check-rdb /usr/bin/redis-server; '
              f'({PIN} redis-server --save "" --appendonly no --protected-mode no '
              '--bind 127.0.0.1 --port 6379 > /tmp/server.log 2>&1 &); '
              'for i in $(seq 200); do redis-cli ping 2>/dev/null | grep -q PONG '
              '&& break; sleep 0.1; done; redis-cli ping | grep -q PONG', timeout=60)
        script = ('for i = 0, tonumber(ARGV[1]) - 1 do redis.call("SET", '
                  'string.format("key:%012d", i), string.rep("x", tonumber(ARGV[2]))) '
                  'end return redis.call("DBSIZE")')
        out = g.out(f"redis-cli EVAL '{script}' 0 {self.KEYS} {self.VALUE}", timeout=300)
        if str(self.KEYS) not in out:
            raise RuntimeError(f'redis load: {out}')
        return int(g.out('pidof redis-server || pidof redis-check-rdb').split()[0])

    def client(self, duration):
        return (f'{PIN} timeout {duration} {self.CLIENT} -r {self.hot} '
                '> /tmp/client.out 2>&1')

    def finish(self, g):
        st = g.out('redis-cli info stats')
        hits = int(re.search(r'keyspace_hits:(\d+)', st).group(1))
        miss = int(re.search(r'keyspace_misses:(\d+)', st).group(1))
        if not hits:
            raise RuntimeError('redis served no GET: ' + g.out('tail -5 /tmp/client.out'))
        return {'keyspace_hits': hits, 'keyspace_misses': miss,
                'used_memory': int(re.search(r'used_memory:(\d+)', g.out(
                    'redis-cli info memory')).group(1))}


class RedisUniform(Redis):
    name = 'redis-uniform'
    label = 'redis GET, all 160000 keys (uniform)'
    hot = Redis.KEYS


class Sysbench:
    name = 'sysbench'
    label = 'sysbench Lua: Pareto-random updates, 192 MiB'
    progs = ['sysbench']
    unit = 'updates/s'
    counter = None
    SIZE_MIB, OPS = 192, 4096
    # sysbench's Lua API: its Pareto generator (sysbench.rand.pareto, h =
    # 0.2: the first 10 % of the buffer take ~73 % of the updates) over a
    # buffer zeroed in order by thread_init; an event is OPS updates.
    LUA = """ffi = require("ffi")
ffi.cdef[[void *malloc(size_t size); void *memset(void *s, int c, size_t n);]]
sysbench.cmdline.options = {size = {"buffer MiB", 192}, ops = {"updates per event", 4096}}
function thread_init()
  n = sysbench.opt.size * 131072
  buf = ffi.cast("uint64_t *", ffi.C.malloc(n * 8))
  ffi.C.memset(buf, 1, n * 8)
end
function event()
  for i = 1, sysbench.opt.ops do
    local k = sysbench.rand.pareto(0, n - 1)
    buf[k] = buf[k] + 1
  end
end
"""
    ARGS = (f'/tmp/pareto.lua --size={SIZE_MIB} --ops={OPS} --rand-pareto-h=0.2 '
            '--threads=1 --report-interval=1 --time=0')

    def describe(self):
        return {'program': 'sysbench 1.0.20 (LuaJIT) running a Lua workload',
                'command': f'sysbench {self.ARGS} run',
                'lua': self.LUA,
                'throughput': "sysbench's events/s reports (1 s) x "
                              f'{self.OPS} updates, over the reports that lie '
                              'inside the measured window'}

    def start(self, g):
        # sysbench's reports count from "Threads started!", after
        # thread_init zeroed the buffer: the uptime then is their origin
        g.out(f"cat > /tmp/pareto.lua <<'EOF'\n{self.LUA}EOF\n"
              f'({PIN} sysbench {self.ARGS} run > /tmp/client.out 2>&1 &); '
              'for i in $(seq 1200); do grep -q "Threads started" /tmp/client.out && '
              'break; sleep 0.05; done; '
              'echo $(cut -d" " -f1 /proc/uptime) > /tmp/client.t0; '
              'grep -q "Threads started" /tmp/client.out', timeout=120)
        return int(g.out('pidof sysbench').split()[0])

    def client(self, duration):
        return f'sleep {duration}; kill $(pidof sysbench); sleep 0.5; grep -q eps /tmp/client.out'

    def finish(self, g):
        out = g.read('/tmp/client.out')
        t0 = float(g.read('/tmp/client.t0'))
        reports = [(float(a), float(b) * self.OPS) for a, b in
                   re.findall(r'^\[ (\d+)s \] thds: \d+ eps: ([\d.]+)', out, re.M)]
        return {'start_uptime': t0, 'reports': reports}


WORKLOADS = {w.name: w for w in (Redis(), RedisUniform(), Sysbench())}


class Oracle(detection.Peer):
    name = 'oracle'
    label = 'oracle (hot data loaded first, into FMEM)'
    note = ('a 16 MiB temporary filler during the load: the first ~80 MiB the program '
            'touches (redis: the hot keys, loaded first; sysbench: the start of '
            'its buffer, where Pareto is hot) take FMEM, the rest SMEM; nothing '
            'moves it. An upper bound, not a policy')


def peers():
    plist = [detection.NoManagement(), detection.LinuxTiering(), detection.Damon(),
             detection.HPlacement(10000), detection.HPlacement(200000), Oracle()]
    sel = os.environ.get('HT_BENCH_PEERS')
    return [p for p in plist if p.name in sel.split(',')] if sel else plist


KERNEL = os.path.join(paths.OUT, f'bzImage-{paths.KCONFIG}')


def kernel_id(path=KERNEL):
    """Which kernel a bzImage is."""
    with open(path, 'rb') as f:
        digest = hashlib.sha256(f.read()).hexdigest()[:16]
    return {'path': path, 'sha256_16': digest,
            'mtime': datetime.datetime.fromtimestamp(
                os.path.getmtime(path)).isoformat(timespec='seconds')}


def build_initramfs(workloads):
    progs = sorted({p for w in workloads for p in w.progs})
    progress(f'building {INITRD} with {" ".join(progs)}')
    env = dict(os.environ, HT_INITRAMFS_PROGS=' '.join(progs))
    subprocess.run([os.path.join(common.TOP, 'scripts', 'mkinitramfs.sh'), INITRD],
                   env=env, check=True)
    return {'path': INITRD, 'programs': progs, 'bytes': os.path.getsize(INITRD)}


def node0_usable(g):
    """Free bytes of node 0 above the high watermark of its zones, the DMA
    zone left out (user allocations do not reach it): what a process can
    take without waking kswapd."""
    free = 0
    for zone, body in re.findall(r'^Node 0, zone\s+(\w+)\n(.*?)(?=^Node |\Z)',
                                 g.read('/proc/zoneinfo'), re.M | re.S):
        f = re.search(r'pages free\s+(\d+)', body)
        h = re.search(r'^\s+high\s+(\d+)', body, re.M)
        if zone != 'DMA' and f and h:
            free += max(int(f.group(1)) - int(h.group(1)), 0) * 4096
    return free


def hold(g, size, tag):
    """A process that touches SIZE on node 0 and holds it; returns its pid."""
    g.out(f'numactl --membind=0 memplace --json --hold 3600 {size // MiB}M '
          f'> /tmp/{tag}.json 2>&1 & echo $! > /tmp/{tag}.pid')
    g.out(f'for i in $(seq 600); do grep -q addr /tmp/{tag}.json && break; '
          f'sleep 0.1; done; grep -q addr /tmp/{tag}.json', timeout=120)
    return int(g.read(f'/tmp/{tag}.pid'))


def sampler(pid, counter):
    cnt = f'$({counter})' if counter else '-'
    return (f'smp() {{ while [ -e /tmp/sampling ]; do echo "S $(cut -d" " -f1 /proc/uptime) '
            f'$({NUMA_AWK} /proc/{pid}/numa_maps 2>/dev/null) {cnt}"; sleep 1; done; }}\n')


def qemu_cpu_s(g):
    """Host CPU seconds of the guest's QEMU (run-vm execs it)."""
    with open(f'/proc/{g.proc.pid}/stat') as f:
        st = f.read().rsplit(')', 1)[1].split()
    return (int(st[11]) + int(st[12])) / os.sysconf('SC_CLK_TCK')


def smem_misses(g):
    """Node-1 accesses that missed the emulated cache since the reset."""
    n1 = [n for n in g.qmp.cmd('query-tier-access-stats')['nodes'] if n['node'] == 1]
    if not n1:
        raise RuntimeError('query-tier-access-stats has no node 1')
    return n1[0]['load-misses'] + n1[0]['store-misses']


def run_polled(g, script, timeout):
    """Run SCRIPT in the background in the guest; every second until it
    ends, read QEMU's SMEM misses (QMP) and the host time.  Returns the
    script's output and [{'t': s since it started, 'misses': ...}]."""
    g.out(f"cat > /tmp/client.sh << 'EOF'\n{script}\nEOF\n"
          '(sh /tmp/client.sh > /tmp/client.run 2>&1; touch /tmp/client.end) '
          '> /dev/null 2>&1 &')
    t0 = time.monotonic()
    polls = []
    while True:
        polls.append({'t': round(time.monotonic() - t0, 3), 'misses': smem_misses(g)})
        if g.sh('test -e /tmp/client.end', 30)[0] == 0:
            break
        if time.monotonic() - t0 > timeout:
            raise RuntimeError(f'client did not end in {timeout} s')
        time.sleep(max(0.0, polls[-1]['t'] + 1 - (time.monotonic() - t0)))
    return g.read('/tmp/client.run'), polls


def one_run(wl, peer, duration, kernel):
    args = ['--initrd', INITRD, '--kernel', kernel]
    if TIER_EMU:
        args += ['--tcg-opts', 'tier-emulation=on']
    # The same machine as figure 3's: with virtio-hballoon, whose exchange
    # queue only HPlacement uses (the host copies for it).
    with Guest(fmem=FMEM, smem=SMEM, cpus=2, run_vm_args=args,
               qemu_args=detection.DEVICE, boot_timeout=180) as g:
        g.out('echo "root:x:0:0:root:/root:/bin/sh" > /etc/passwd; '
              'echo "root:x:0:" > /etc/group; ip link set lo up; '
              'echo 1 > /proc/sys/vm/overcommit_memory')
        run = {'peer': peer.name, 'workload': wl.name}
        filler = max(node0_usable(g) - FREE_FMEM, 0)
        hold(g, filler, 'filler')
        run['filler'] = filler
        # during the load a second filler leaves LOAD_MARGIN (the oracle:
        # ORACLE_HEADROOM stays held, so that FMEM is not at its watermark
        # afterwards)
        keep = LOAD_MARGIN if peer.name != 'oracle' else ORACLE_HEADROOM
        run['load_filler'] = (max(node0_usable(g) - keep, 0) if peer.name != 'oracle'
                              else keep)
        temp = hold(g, run['load_filler'], 'loadfill')
        run['fmem_free_at_load'] = node0_usable(g)
        pid = wl.start(g)
        g.out(f'kill {temp}; for i in $(seq 100); do kill -0 {temp} 2>/dev/null '
              '|| break; sleep 0.1; done')
        run['fmem_free_at_start'] = node0_usable(g)
        try:
            run['setup'] = peer.setup(g)
        except Unavailable as e:
            run['unavailable'] = str(e)
            return run
        vm0 = g.vmstat()
        if TIER_EMU:
            g.qmp.cmd('query-tier-access-stats', reset=True)
        cpu0, wall0 = qemu_cpu_s(g), time.monotonic()
        script = (sampler(pid, wl.counter) + 'touch /tmp/sampling; smp > /tmp/samples & sp=$!\n'
                  f'{wl.client(duration)}; rc=$?\n'
                  'echo "end $(cut -d" " -f1 /proc/uptime)"\n'
                  'rm /tmp/sampling; wait $sp; echo "rc $rc"')
        if TIER_EMU:
            out, run['smem_miss_polls'] = run_polled(g, script, duration * 4 + 120)
        else:
            out = g.out(script, timeout=duration * 4 + 120)
        run['client_rc'] = int(re.search(r'rc (\d+)', out).group(1))
        end = float(re.search(r'end ([\d.]+)', out).group(1))
        run['qemu_cpu_s'] = qemu_cpu_s(g) - cpu0
        run['qemu_cpu_wall_s'] = time.monotonic() - wall0
        if TIER_EMU:
            st = g.qmp.cmd('query-tier-access-stats')
            run['tier_access'] = {str(n['node']): {k: n[k] for k in (
                'loads', 'stores', 'load-misses', 'store-misses', 'delay-ns')}
                for n in st['nodes']}
        vm1 = g.vmstat()
        run['vmstat'] = {k: vm1.get(k, 0) - vm0.get(k, 0) for k in VMSTAT}
        run['client_tail'] = g.out('tail -c 600 /tmp/client.out | tr "\\r" "\\n" '
                                   '| tail -4')
        samples = []
        for line in g.read('/tmp/samples').splitlines():
            f = line.split()
            # samples taken while the client ran and the program lived
            if (len(f) == 5 and f[0] == 'S' and float(f[1]) <= end
                    and int(f[2]) + int(f[3]) > 0):
                samples.append({'uptime': float(f[1]), 'n0': int(f[2]), 'n1': int(f[3]),
                                'count': None if f[4] == '-' else int(f[4])})
        run['samples'] = samples
        run['result'] = wl.finish(g)
        run['fmem_free_at_end'] = node0_usable(g)
        if isinstance(peer, detection.Damon):
            run['damon_stats'] = peer.stats(g)
        if isinstance(peer, detection.HPlacement):
            run['hpl_stats_end'] = g.read(f'{detection.HPL}/stats')
        if len(samples) < 2:
            raise RuntimeError(f'{wl.name}: {len(samples)} samples; client rc '
                               f'{run["client_rc"]}: {run["client_tail"]}')
    series(wl, run)
    return run


def series(wl, run):
    """Per sample: seconds since the window started, FMEM share of the
    program's resident pages, throughput in the interval before it."""
    s = run['samples']
    t0 = s[0]['uptime']
    out = []
    for a, b in zip([None] + s[:-1], s):
        x = {'t': round(b['uptime'] - t0, 3),
             'fmem_frac': b['n0'] / (b['n0'] + b['n1']) if b['n0'] + b['n1'] else None,
             'resident_mib': (b['n0'] + b['n1']) * 4096 / MiB}
        if a and a['count'] is not None and b['count'] is not None:
            x['ops_per_s'] = (b['count'] - a['count']) / (b['uptime'] - a['uptime'])
        out.append(x)
    if isinstance(wl, Sysbench):
        # sysbench's 1 s reports (seconds since its start: the end of each
        # interval); those wholly inside the window count
        r = run['result']
        off = r['start_uptime'] - t0
        span = s[-1]['uptime'] - t0
        inside = [(t + off, v) for t, v in r['reports'] if t + off - 1 >= 0 and t + off <= span]
        for t, v in inside:
            out.append({'t': round(t, 3), 'ops_per_s': v, 'report': True})
        out.sort(key=lambda x: x['t'])
        run['throughput'] = (sum(v for _, v in inside) / len(inside)) if inside else None
        run['reports_in_window'] = len(inside)
    else:
        span = s[-1]['uptime'] - s[0]['uptime']
        run['throughput'] = ((s[-1]['count'] - s[0]['count']) / span
                             if span > 0 and s[0]['count'] is not None else None)
    run['series'] = out
    # Load-independent measure (as figure 8): operations per host CPU
    # second of QEMU over the window; the host's other guests and builds
    # slow the guest, but not this.
    # QEMU's CPU seconds per second over the window, with the window
    # measured on the host around the same guest command
    run['qemu_cpus'] = run['qemu_cpu_s'] / run['qemu_cpu_wall_s']
    run['ops_per_qemu_cpu_s'] = (run['throughput'] / run['qemu_cpus']
                                 if run['throughput'] and run['qemu_cpus'] else None)
    n1 = run.get('tier_access', {}).get('1')
    if n1 and run['throughput']:
        ops = run['throughput'] * (s[-1]['uptime'] - s[0]['uptime'])
        run['smem_accesses_per_op'] = (n1['loads'] + n1['stores']) / ops if ops else None
        run['smem_misses_per_op'] = ((n1['load-misses'] + n1['store-misses']) / ops
                                     if ops else None)
    run['smem_misses_per_op_end'] = misses_per_op_end(run)


def misses_per_op_end(run, last_s=END_S):
    """SMEM misses per operation over the window's last LAST_S seconds:
    where the placement got to, rather than what moving cost on the way
    (the kernel's copies from SMEM count as misses too): the median of the
    seconds' miss rates over the mean operation rate.  The host's polls
    and the guest's samples both count from the window's start."""
    polls, s = run.get('smem_miss_polls'), run['samples']
    if not polls or len(polls) < 2 or s[0]['count'] is None:
        return None
    t_end = s[-1]['uptime'] - s[0]['uptime']
    a = [x for x in s if s[-1]['uptime'] - x['uptime'] >= last_s]
    if not a or t_end < last_s:
        return None
    a = a[-1]
    ops = s[-1]['count'] - a['count']
    t_a = a['uptime'] - s[0]['uptime']
    pa = [p for p in polls if p['t'] <= t_a]
    pb = [p for p in polls if p['t'] <= t_end]
    if not pa or not pb or ops <= 0 or pb[-1]['t'] - pa[-1]['t'] < last_s / 2:
        return None
    # The median second: a burst of migration copies is not where the
    # placement got to.
    span = [p for p in polls if pa[-1]['t'] <= p['t'] <= pb[-1]['t']]
    rates = [(y['misses'] - x['misses']) / (y['t'] - x['t'])
             for x, y in zip(span, span[1:]) if y['t'] > x['t']]
    return statistics.median(rates) * (s[-1]['uptime'] - a['uptime']) / ops


usable = common.usable


def fracs(r):
    v = [x['fmem_frac'] for x in r['series'] if x.get('fmem_frac') is not None]
    return v or [None]


def over_none(runs, base, key):
    """Per run index: this peer's KEY over no management's in the same
    run (the peers of one run index are booted back to back)."""
    out = []
    for i, r in enumerate(runs):
        b = base[i] if i < len(base) else None
        if (usable([r]) and b and usable([b]) and b.get(key)
                and r.get(key) is not None):
            out.append(r[key] / b[key])
    return common.summary(out)


def reduce(runs_by_peer):
    out = {}
    base = runs_by_peer.get('none', [])
    for name, runs in runs_by_peer.items():
        ok = usable(runs)
        if not ok:
            out[name] = {'unavailable': common.why_unusable(runs)}
            continue
        out[name] = {
            'runs': len(ok), 'failed_runs': len([r for r in runs if 'error' in r]),
            'throughput': common.summary([r.get('throughput') for r in ok]),
            'over_none_same_run': over_none(runs, base, 'throughput'),
            'ops_per_qemu_cpu_s': common.summary([r.get('ops_per_qemu_cpu_s')
                                                  for r in ok]),
            'per_cpu_over_none_same_run': over_none(runs, base, 'ops_per_qemu_cpu_s'),
            'fmem_frac_start': common.summary([fracs(r)[0] for r in ok]),
            'fmem_frac_end': common.summary([fracs(r)[-1] for r in ok]),
            'resident_mib': common.summary([r['series'][0]['resident_mib'] for r in ok]),
            'smem_accesses_per_op': common.summary(
                [r.get('smem_accesses_per_op') for r in ok]),
            'smem_misses_per_op': common.summary(
                [r.get('smem_misses_per_op') for r in ok]),
            'smem_misses_per_op_end': common.summary(
                [r.get('smem_misses_per_op_end') for r in ok]),
            'pages_migrated': common.summary(
                [r['vmstat'].get('pgmigrate_success', 0) for r in ok]),
            'fmem_free_at_start': common.summary([r['fmem_free_at_start'] for r in ok])}
    return out


def measure(wls, plist, runs, duration, kernel):
    total = runs * len(plist) * len(wls)
    est = {'redis': 34, 'redis-uniform': 34, 'sysbench': 28}
    left = runs * len(plist) * sum(est[w.name] + duration - 20 for w in wls)
    res = {w.name: {p.name: [] for p in plist} for w in wls}
    done = 0
    for i in range(runs):
        for wl in wls:
            for p in plist:
                progress(f'{wl.name}: run {i + 1}/{runs}, {p.label}: booting '
                         f'({done}/{total} done, ~{left:.0f} s left)')
                for attempt in (1, 2):
                    try:
                        r = one_run(wl, p, duration, kernel)
                        break
                    except Exception as e:  # pylint: disable=broad-except
                        progress(f'  run failed ({type(e).__name__}: '
                                 f'{str(e).splitlines()[0][:200] if str(e) else ""})'
                                 + ('; retrying' if attempt == 1 else ''))
                        r = {'peer': p.name, 'workload': wl.name, 'error': str(e)[-3000:]}
                done += 1
                left -= est[wl.name] + duration - 20
                if 'unavailable' in r:
                    progress(f'  {p.name} UNAVAILABLE: {r["unavailable"]}')
                elif 'error' not in r:
                    f = fracs(r)
                    progress(f'  {r["throughput"]:.4g} {wl.unit}; FMEM share of '
                             f'{r["series"][-1]["resident_mib"]:.0f} MiB resident: '
                             f'{f[0]:.2f} -> {f[-1]:.2f}; '
                             f'{r["vmstat"]["pgmigrate_success"]} pages migrated')
                res[wl.name][p.name].append(r)
    return res


def main():
    wls = []
    for n in WORKLOAD_NAMES:
        if n not in WORKLOADS:
            raise SystemExit(f'HT_BENCH_PROGRAMS: no workload {n}; have {sorted(WORKLOADS)}')
        wls.append(WORKLOADS[n])
    plist = peers()
    initrd = build_initramfs(wls)
    # Every run boots the same kernel: a copy taken now, so that a rebuild
    # of the kernel while the figure runs does not mix two kernels.
    os.makedirs(os.path.join(paths.CACHE, 'tmp'), exist_ok=True)
    kdir = tempfile.mkdtemp(prefix='fig7-', dir=os.path.join(paths.CACHE, 'tmp'))
    kcopy = os.path.join(kdir, 'bzImage')
    shutil.copy2(KERNEL, kcopy)
    try:
        kernel = kernel_id(kcopy)
        kernel['copied_from'] = KERNEL
        raw = measure(wls, plist, RUNS, DURATION, kcopy)
    finally:
        shutil.rmtree(kdir, ignore_errors=True)
    kernel_end = kernel_id()
    if kernel_end['sha256_16'] != kernel['sha256_16']:
        progress(f'note: {KERNEL} was rebuilt while the figure ran; every run booted '
                 f'the copy taken at its start ({kernel["sha256_16"]})')
    res = {'figure': 7, 'title': 'Real programs: throughput and FMEM coverage per peer',
           'env': common.environment(),
           'tier_emulation': ('QEMU TCG tier emulation on: node 1 accesses pay '
                              'the HMAT latency difference (FMEM 80 ns, SMEM 250 ns)'
                              if TIER_EMU else 'off: SMEM is as fast as FMEM'),
           'fmem': FMEM, 'smem': SMEM, 'free_fmem': FREE_FMEM,
           'load_margin': LOAD_MARGIN, 'duration_s': DURATION, 'runs': RUNS,
           'initramfs': initrd, 'kernel': kernel, 'kernel_source_at_end': kernel_end,
           'policy': ('default mempolicy; data placed on SMEM by filling FMEM during '
                      'the load (a temporary filler), so that every peer may move it'),
           'peers': {p.name: {'label': p.label, 'note': p.note} for p in plist},
           'workloads': {}}
    for wl in wls:
        res['workloads'][wl.name] = {'label': wl.label, 'unit': wl.unit,
                                     **wl.describe(),
                                     'peers': reduce(raw[wl.name]),
                                     'raw': raw[wl.name]}
    common.write_json('fig7-programs.json', res)
    plot(res)
    return res


def fmt(v):
    return '-' if v is None else f'{v:.3g}'


def rng(s, scale=1.0):
    if s['median'] is None:
        return '-'
    return (f'{fmt(s["median"] * scale)} ({fmt(s["min"] * scale)}-'
            f'{fmt(s["max"] * scale)})')


def summary(res):
    lines = [f'FMEM {res["fmem"]} with {res["free_fmem"] // MiB} MiB free (a cold filler '
             f'holds the rest), SMEM {res["smem"]}; program data first on SMEM, default '
             f'mempolicy; {res["duration_s"]} s per run, {res["runs"]} run(s): median '
             f'(min-max); rates are TCG guest rates, "per CPU-s" is per host CPU second '
             f'of QEMU (less sensitive to the host\'s load); tier emulation '
             f'{"on" if "on" in res["tier_emulation"] else "off"}; SMEM misses = '
             f'node-1 accesses that missed the emulated cache, per operation.', '']
    if res['kernel_source_at_end']['sha256_16'] != res['kernel']['sha256_16']:
        lines += [f'The guest kernel was rebuilt while the figure ran; every run booted '
                  f'the copy taken at its start (bzImage {res["kernel"]["sha256_16"]}, '
                  f'{res["kernel"]["mtime"]}).', '']
    for w in res['workloads'].values():
        lines += [f'{w["label"]} (`{w.get("client") or w.get("command")}`):', '',
                  f'| peer | {w["unit"]} | per CPU-s | / none (per CPU-s, same run) '
                  f'| FMEM share start -> end | SMEM misses per op | the same, last {END_S} s '
                  '| pages migrated |',
                  '|---|---|---|---|---|---|---|---|']
        for name, d in w['peers'].items():
            label = res['peers'][name]['label']
            if 'unavailable' in d:
                lines.append(f'| {label} | unavailable: {d["unavailable"]} | | | | | | |')
                continue
            fail = f' ({d["failed_runs"]} run(s) failed)' if d['failed_runs'] else ''
            lines.append(f'| {label}{fail} | {rng(d["throughput"])} '
                         f'| {rng(d["ops_per_qemu_cpu_s"])} '
                         f'| {rng(d["per_cpu_over_none_same_run"])} '
                         f'| {fmt(d["fmem_frac_start"]["median"])} -> '
                         f'{rng(d["fmem_frac_end"])} '
                         f'| {rng(d["smem_misses_per_op"])} '
                         f'| {rng(d["smem_misses_per_op_end"])} '
                         f'| {fmt(d["pages_migrated"]["median"])} |')
        lines.append('')
    return lines


def median_series(runs, key):
    import statistics
    ok = [[x for x in r['series'] if x.get(key) is not None and not x.get('report')]
          if key != 'report' else [x for x in r['series'] if x.get('report')]
          for r in usable(runs)]
    ok = [s for s in ok if s]
    if not ok:
        return [], []
    n = min(len(s) for s in ok)
    k = 'ops_per_s' if key == 'report' else key
    return ([statistics.median(s[i]['t'] for s in ok) for i in range(n)],
            [statistics.median(s[i][k] for s in ok) for i in range(n)])


def plot(res):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    wls = list(res['workloads'].items())
    fig, axes = plt.subplots(len(wls), 2, figsize=(12, 4 * len(wls)), squeeze=False)
    for (wname, w), (ax_c, ax_t) in zip(wls, axes):
        for name, runs in w['raw'].items():
            label = res['peers'][name]['label']
            style = dict(label=label, color=detection.COLORS.get(name),
                         linestyle='--' if name == 'oracle' else '-')
            t, c = median_series(runs, 'fmem_frac')
            if t:
                ax_c.plot(t, c, **style)
            t, u = median_series(runs, 'report' if wname == 'sysbench' else 'ops_per_s')
            if t:
                ax_t.plot(t, u, drawstyle='steps-pre', **style)
        ax_c.set_ylim(-0.02, 1.02)
        ax_t.set_ylim(bottom=0)
        ax_c.set_ylabel('FMEM share of resident memory')
        ax_c.set_title(f'{w["label"]}: placement (median of runs)', fontsize=10)
        ax_t.set_ylabel(w['unit'] + (' (sysbench 1 s reports)' if wname == 'sysbench'
                                     else ''))
        ax_t.set_title(f'{wname} throughput (TCG)')
        for ax in (ax_c, ax_t):
            ax.set_xlabel('seconds since the peer started (TCG guest)')
        ax_c.legend(fontsize=7)
    fig.suptitle(f'Real programs, data first on SMEM; FMEM {res["fmem"]} with '
                 f'{res["free_fmem"] // MiB} MiB free (TCG, tier emulation '
                 f'{"on" if "on" in res["tier_emulation"] else "off"})')
    common.save_png(fig, 'fig7-programs.png')


if __name__ == '__main__':
    print('\n'.join(summary(main())))
