# SPDX-License-Identifier: GPL-2.0
"""A booted hetero-tiering guest: QMP through QEMU's python library, shell
commands through the agent on the guest's second serial port."""
import base64
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time

from . import paths
from qemu.qmp.legacy import QEMUMonitorProtocol  # noqa: E402
from qemu.qmp.protocol import ConnectError  # noqa: E402


class GuestError(Exception):
    pass


class GuestTimeout(GuestError):
    """A marker did not come in time (the guest may still be running)."""


class Guest:
    """Boots scripts/run-vm in agent mode; use as a context manager."""

    def __init__(self, fmem='1G', smem='2G', cpus=2, run='agent',
                 run_vm_args=(), qemu_args=(), boot_timeout=60, incoming=None):
        self.dir = tempfile.mkdtemp(prefix='ht-guest-')
        self.console_path = os.path.join(self.dir, 'console.log')
        self.qmp_path = os.path.join(self.dir, 'qmp.sock')
        self.cmd_path = os.path.join(self.dir, 'cmd.sock')
        self.run = run
        self.argv = [paths.RUN_VM, '--fmem', fmem, '--smem', smem,
                     '--cpus', str(cpus), '--run', run,
                     '--console', self.console_path, '--qmp', self.qmp_path,
                     '--cmd', self.cmd_path, *run_vm_args]
        # incoming: a migration stream (file) to resume from instead of
        # booting; the agent is then already running.
        self.incoming = incoming
        if incoming:
            qemu_args = [*qemu_args, '-incoming', f'file:{incoming}']
        if qemu_args:
            self.argv += ['--', *qemu_args]
        self.boot_timeout = boot_timeout
        self.proc = None
        self.qmp = None
        self.sock = None
        self.buf = b''
        self.seq = 0
        self.boot_seconds = None

    # --- life cycle -----------------------------------------------------
    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        t0 = time.monotonic()
        self.qemu_log = open(os.path.join(self.dir, 'qemu.log'), 'w')
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL,
                                     stdout=self.qemu_log,
                                     stderr=subprocess.STDOUT)
        self._connect()
        if self.incoming:
            self._wait_running(t0 + self.boot_timeout)
        if self.run != 'agent' or self.incoming:
            return
        try:
            self._wait_ready(t0 + self.boot_timeout)
        except GuestTimeout:
            raise
        except GuestError:
            # Asked for KVM where it hangs, run-vm kills that QEMU and
            # starts one under TCG on the same sockets.
            if not self._fell_back():
                raise
            print('# guest: KVM did not reach user space; run-vm fell back '
                  'to TCG')
            self._connect()
            self._wait_ready(t0 + self.boot_timeout)
        self.boot_seconds = time.monotonic() - t0

    def _connect(self):
        """Command channel, then QMP.  QEMU waits for us on the command
        channel before it starts the guest, so nothing the agent writes is
        lost.  A killed QEMU leaves its socket files behind: retry until
        one accepts.  A connected command channel is kept while its QEMU
        lives (it may be running the guest already)."""
        self._close_channels()
        self.buf = b''
        deadline = time.monotonic() + 30
        while True:
            if self.sock and self._peer_gone():
                self._close_channels()
            if (self.sock or self._connect_cmd()) and self._connect_qmp():
                return
            if time.monotonic() > deadline:
                raise GuestError(f'QEMU did not accept on {self.dir}')
            time.sleep(0.05)

    def _connect_cmd(self):
        self._wait_path(self.cmd_path)
        sock = socket.socket(socket.AF_UNIX)
        try:
            sock.connect(self.cmd_path)
        except ConnectionRefusedError:
            sock.close()
            return False
        self.sock = sock
        return True

    def _connect_qmp(self):
        self._wait_path(self.qmp_path)
        qmp = QEMUMonitorProtocol(self.qmp_path)
        try:
            qmp.connect()
        except ConnectError:
            qmp.close()
            return False
        self.qmp = qmp
        return True

    def _peer_gone(self):
        """Has the QEMU at the other end of the command channel exited?"""
        self.sock.setblocking(False)
        try:
            return self.sock.recv(1, socket.MSG_PEEK) == b''
        except BlockingIOError:
            return False
        except OSError:
            return True
        finally:
            self.sock.setblocking(True)

    def _fell_back(self):
        """Did run-vm give up on KVM?  It says so after it has reaped the
        QEMU whose channel we saw close."""
        deadline = time.monotonic() + 10
        while self.proc.poll() is None and time.monotonic() < deadline:
            if 'falling back to TCG' in self.qemu_output():
                return True
            time.sleep(0.05)
        return 'falling back to TCG' in self.qemu_output()

    def _wait_ready(self, deadline):
        """The agent's READY line.  Once in a few hundred boots it never
        came, though user space was up (ht-init's line on the console):
        then, once, a newline on the command port, which the agent skips
        and whose receive interrupt also makes an 8250 send what it holds
        (should a transmit interrupt have been lost).  A timeout reports
        where the vCPUs were."""
        nudged = False
        while True:
            step = deadline if nudged else min(deadline, time.monotonic() + 20)
            try:
                self._read_until(b'@@HT-READY\n', step)
            except GuestTimeout as e:
                if time.monotonic() >= deadline:
                    raise GuestTimeout(f'{e}\n{self._vcpus()}') from None
                if not nudged and 'ht-init: user space up' in self.console():
                    self.sock.sendall(b'\n')
                    nudged = True
                    print('# guest: agent silent 20 s after user space came '
                          'up; sent a newline on the command port')
                continue
            if nudged:
                print('# guest: the agent answered after the newline')
            return

    def _vcpus(self):
        """QEMU's run state and the vCPUs' instruction pointers."""
        try:
            state = self.qmp.cmd('query-status')
            regs = self.qmp.cmd('human-monitor-command',
                                **{'command-line': 'info registers -a'})
        except Exception as e:  # pylint: disable=broad-except
            return f'(QMP: {e})'
        rips = [ln.split()[0] for ln in regs.splitlines()
                if ln.startswith('RIP=')]
        return f'QEMU {state}; vCPU {" ".join(rips)}'

    def _wait_path(self, path):
        deadline = time.monotonic() + 30
        while not os.path.exists(path):
            if self.proc.poll() is not None:
                raise GuestError(f'QEMU exited ({self.proc.returncode}):\n'
                                 + self.qemu_output() + self.console())
            if time.monotonic() > deadline:
                raise GuestError(f'{path} did not appear')
            time.sleep(0.05)

    def _wait_running(self, deadline):
        while self.qmp.cmd('query-status')['status'] != 'running':
            if time.monotonic() > deadline:
                raise GuestError('incoming migration did not finish: '
                                 + str(self.qmp.cmd('query-migrate')))
            time.sleep(0.1)

    def migrate_to_file(self, path, timeout=300):
        """Save the running guest to a file (QEMU stays paused)."""
        self.qmp.cmd('migrate', uri=f'file:{path}')
        deadline = time.monotonic() + timeout
        while True:
            st = self.qmp.cmd('query-migrate').get('status')
            if st == 'completed':
                return
            if st in ('failed', 'cancelled') or time.monotonic() > deadline:
                raise GuestError(f'migration to {path}: {st}')
            time.sleep(0.1)

    def wait_exit(self, timeout=60):
        """Wait for QEMU to exit on its own (guest powered off)."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise GuestError('guest did not power off:\n' + self.console())

    def stop(self):
        if self.proc and self.proc.poll() is None:
            try:
                if self.qmp:
                    self.qmp.cmd('quit')
            except Exception:  # pylint: disable=broad-except
                pass
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._close_channels()
        if self.proc:
            self.qemu_log.close()
        if os.environ.get('HT_KEEP_LOGS'):
            print(f'# guest logs kept in {self.dir}')
        else:
            shutil.rmtree(self.dir, ignore_errors=True)

    def _close_channels(self):
        for c in (self.qmp, self.sock):
            try:
                if c:
                    c.close()
            except Exception:  # pylint: disable=broad-except
                pass
        self.qmp = self.sock = None

    def qemu_output(self):
        """What QEMU and run-vm printed."""
        try:
            with open(os.path.join(self.dir, 'qemu.log'), errors='replace') as f:
                return f.read()
        except OSError:
            return ''

    def console(self):
        try:
            with open(self.console_path, errors='replace') as f:
                return f.read()
        except OSError:
            return ''

    # --- command channel ------------------------------------------------
    def _read_until(self, marker, deadline):
        while marker not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise GuestTimeout(f'timeout waiting for {marker!r}; '
                                   'console:\n' + self.console()[-3000:])
            self.sock.settimeout(min(left, 1.0))
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                if self.proc.poll() is not None:
                    raise GuestError('QEMU exited; console:\n'
                                     + self.console()[-3000:])
                continue
            if not data:
                raise GuestError('command channel closed; console:\n'
                                 + self.console()[-3000:])
            self.buf += data
        head, _, self.buf = self.buf.partition(marker)
        return head

    def sh(self, script, timeout=60):
        """Run a shell script in the guest; returns (exit status, output)."""
        self.seq += 1
        enc = base64.b64encode(script.encode()).decode()
        self.sock.sendall(f'{self.seq} {enc}\n'.encode())
        out = self._read_until(f'@@HT-RC {self.seq} '.encode(),
                               time.monotonic() + timeout)
        rc = self._read_until(b'\n', time.monotonic() + 5)
        return int(rc), out.decode(errors='replace')

    def out(self, script, timeout=60):
        """Run a script that must succeed; returns its output."""
        rc, out = self.sh(script, timeout)
        if rc != 0:
            raise GuestError(f'guest command failed ({rc}): {script}\n{out}')
        return out

    def read(self, path):
        return self.out(f'cat {path}').strip()

    def vmstat(self):
        """/proc/vmstat as {name: value}."""
        return {k: int(v) for k, v in re.findall(r'^(\w+) (-?\d+)$',
                                                 self.read('/proc/vmstat'), re.M)}

    def node_meminfo(self, node):
        """/sys/devices/system/node/nodeN/meminfo as {field: bytes}."""
        out = self.read(f'/sys/devices/system/node/node{node}/meminfo')
        return {k: int(v) * 1024 for k, v in
                re.findall(r'Node \d+ (\w+):\s+(\d+) kB', out)}
