# SPDX-License-Identifier: GPL-2.0
"""Implementation of scripts/check-pebs.sh (see there)."""
import argparse
import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', 'tests'))
from ht.guest import Guest  # noqa: E402

D = '/sys/kernel/mm/hplacement'
PMUS = '/sys/bus/event_source/devices'


def host_facts():
    flags = ''
    with open('/proc/cpuinfo') as f:
        m = re.search(r'^flags\s*:\s*(.*)$', f.read(), re.M)
        flags = m.group(1).split() if m else []
    pmus = sorted(os.listdir(PMUS)) if os.path.isdir(PMUS) else []
    kvm = os.access('/dev/kvm', os.R_OK | os.W_OK)
    return {'cpu_pmu': any(p in pmus for p in ('cpu', 'cpu_core', 'cpu_atom')),
            'ibs_op': 'ibs_op' in pmus, 'pebs_flag': 'pebs' in flags,
            'ibs_flag': 'ibs' in flags, 'pmus': pmus, 'kvm': kvm}


def guest_check(seconds, accel):
    with Guest(run_vm_args=['--accel', accel, '--kvm-timeout', '20']) as g:
        console = g.console()
        res = {'accel': accel,
               'pmus': g.out(f'ls {PMUS}').split(),
               'pebs_flag': ' pebs' in g.read('/proc/cpuinfo'),
               'ibs_flag': ' ibs' in g.read('/proc/cpuinfo'),
               'perf_log': [l for l in console.splitlines()
                            if 'Performance Events' in l or 'PEBS' in l][:6]}
        g.out(f'echo auto > {D}/source; echo 1 > {D}/enabled')
        v0 = g.vmstat()
        g.out(f'gups --size 256M --hot 32M --membind 1 --duration {seconds} '
              '> /dev/null 2>&1', timeout=seconds + 120)
        time.sleep(1.5)
        v1 = g.vmstat()
        res['source'] = re.search(r'^source (\w+)', g.read(f'{D}/stats'),
                                  re.M).group(1)
        res['deltas'] = {k: v1[k] - v0.get(k, 0) for k in v1
                         if k.startswith('hpl_samples') or
                         k in ('hpl_promotions', 'hpl_exchanges')}
        g.out(f'echo 0 > {D}/enabled')
        return res


def main():
    ap = argparse.ArgumentParser(description='Do real PMU samples reach '
                                 'HPlacement in a KVM guest?')
    ap.add_argument('--seconds', type=int, default=10)
    ap.add_argument('--json', help='also write the report here')
    a = ap.parse_args()
    rep = {'host': host_facts()}
    print('check-pebs: host: ' + json.dumps(rep['host']), flush=True)
    # Without a host PMU no guest can have one: the guest is still booted,
    # under TCG, to show what HPlacement falls back to.
    accel = 'kvm' if rep['host']['cpu_pmu'] and rep['host']['kvm'] else 'tcg'
    print(f'check-pebs: booting the guest ({accel}) ...', flush=True)
    try:
        rep['guest'] = guest_check(a.seconds, accel)
    except Exception as e:  # pylint: disable=broad-except
        if accel != 'kvm':
            raise
        rep['verdict'] = f'nothing to check here: the KVM guest did not come up ({e})'
        print(json.dumps(rep, indent=1))
        print(f'check-pebs: {rep["verdict"]}')
        return 77
    d = rep['guest']['deltas']
    pmu_samples = d.get('hpl_samples_pebs', 0) + d.get('hpl_samples_ibs', 0)
    if pmu_samples > 0:
        rep['verdict'] = f'PMU samples flow: {pmu_samples} in {a.seconds} s'
        rc = 0
    elif rep['guest']['source'] in ('pebs', 'ibs'):
        rep['verdict'] = (f'source {rep["guest"]["source"]} runs but no '
                          'sample arrived')
        rc = 1
    else:
        why = []
        if not rep['host']['cpu_pmu']:
            why.append('the host has no CPU PMU')
        if not rep['host']['kvm']:
            why.append('no usable /dev/kvm')
        if rep['guest']['accel'] != 'kvm':
            why.append('the guest ran under TCG, which has no PMU')
        if not (rep['guest']['pebs_flag'] or rep['guest']['ibs_flag']):
            why.append('the guest CPU shows neither pebs nor ibs')
        rep['verdict'] = ('nothing to check here: ' + '; '.join(why or
                          ['the guest offers no PMU source']) +
                          f'; HPlacement sampled with {rep["guest"]["source"]}')
        rc = 77
    print(json.dumps(rep, indent=1))
    if a.json:
        with open(a.json, 'w') as f:
            json.dump(rep, f, indent=1)
    print(f'check-pebs: {rep["verdict"]}')
    return rc


if __name__ == '__main__':
    sys.exit(main())
