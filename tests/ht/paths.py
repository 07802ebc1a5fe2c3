# SPDX-License-Identifier: GPL-2.0
"""Where the build products live (mirrors scripts/lib.sh)."""
import os
import sys

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CACHE = os.environ.get('HT_CACHE') or os.path.join(
    os.environ.get('XDG_CACHE_HOME') or os.path.expanduser('~/.cache'),
    'hetero-tiering')
KCONFIG = os.environ.get('HT_KCONFIG', 'default')
OUT = os.path.join(CACHE, 'out')
LINUX_SRC = os.path.join(CACHE, 'git', 'linux')
QEMU_SRC = os.path.join(CACHE, 'git', 'qemu')
QEMU_BUILD = os.path.join(CACHE, 'build', 'qemu')
QEMU = os.environ.get('HT_QEMU') or os.path.join(QEMU_BUILD, 'qemu-system-x86_64')
RUN_VM = os.path.join(TOP, 'scripts', 'run-vm')

# QEMU's own QMP library, from the QEMU source tree we build.
sys.path.insert(0, os.path.join(QEMU_SRC, 'python'))
PY = os.environ.get('HT_PY', '/usr/bin/python3')
