# SPDX-License-Identifier: GPL-2.0
"""`make series`: the exported mails apply with git am onto the pristine
trees and give exactly the trees we build; checkpatch is clean."""
import glob
import os
import re
import subprocess
import tempfile

from ht import paths

MAINTAINER = 'hetero-tiering@example.org'
# checkpatch runs scripts/spdxcheck.py with the python3 of PATH; Debian's
# has python3-ply (make deps), a python3 of another origin may not.
SYSTEM_PYTHON = {**os.environ, 'PATH': '/usr/bin:/bin:' + os.environ.get('PATH', '')}
CHECKPATCH = {
    'linux': ['scripts/checkpatch.pl', '--strict'],
    'qemu': ['scripts/checkpatch.pl'],
}


def git(repo, *args, **kw):
    return subprocess.run(['git', '-C', repo, *args], capture_output=True,
                          text=True, **kw)


def covered(tree, repo, mail):
    """checkpatch asks whether MAINTAINERS needs updating whenever a patch
    adds a file and leaves MAINTAINERS alone.  The answer is no when an
    existing entry of ours already covers every file added: then that
    question, and only it, is not asked."""
    if tree != 'linux':
        return []
    with open(mail) as f:
        added = re.findall(r'^ create mode \d+ (\S+)$', f.read(), re.M)
    if not added:
        return []
    for path in added:
        r = subprocess.run(['scripts/get_maintainer.pl', '--nogit',
                            '--nogit-fallback', '--norolestats', '-f', path],
                           cwd=repo, capture_output=True, text=True)
        if MAINTAINER not in r.stdout:
            return []
    return ['--ignore', 'FILE_PATH_CHANGES']


def trace_header_only(tree, mail):
    """TRACE_EVENT() blocks are laid out as every header under
    include/trace/events/ lays them out, which --strict flags as open-ended
    lines and misaligned arguments: those two checks, and only them, are
    not asked of a patch whose only C source is such a header."""
    if tree != 'linux':
        return []
    with open(mail) as f:
        files = re.findall(r'^ (\S+\.[ch]) +\|', f.read(), re.M)
    if files and all(p.startswith('include/trace/events/') for p in files):
        return ['--ignore', 'OPEN_ENDED_LINE,PARENTHESIS_ALIGNMENT']
    return []


def run(t):
    out = tempfile.mkdtemp(prefix='ht-series-')
    r = subprocess.run([os.path.join(paths.TOP, 'scripts/series.sh'), out],
                       capture_output=True, text=True)
    if not t.ok(r.returncode == 0, 'make series', r.stdout + r.stderr):
        return
    for tree in ('linux', 'qemu'):
        repo = os.path.join(paths.CACHE, 'git', tree)
        mails = sorted(glob.glob(os.path.join(out, tree, '*.patch')))
        t.ok(len(mails) >= 2 and mails[0].endswith('0000-cover-letter.patch'),
             f'{tree}: cover letter and {len(mails) - 1} patches', mails)
        wt = os.path.join(out, f'wt-{tree}')
        git(repo, 'worktree', 'prune')
        r = git(repo, 'worktree', 'add', '-q', '--detach', wt, 'pristine')
        if not t.ok(r.returncode == 0, f'{tree}: worktree at pristine', r.stderr):
            continue
        try:
            r = git(wt, '-c', 'user.name=t', '-c', 'user.email=t@t', 'am', '-q',
                    *mails[1:])
            t.ok(r.returncode == 0, f'{tree}: git am of the series', r.stdout + r.stderr)
            got = git(wt, 'rev-parse', 'HEAD^{tree}').stdout.strip()
            want = git(repo, 'rev-parse', 'patched^{tree}').stdout.strip()
            t.eq(got, want, f'{tree}: git am result equals the built tree')
            for m in mails[1:]:
                r = subprocess.run([*CHECKPATCH[tree], *covered(tree, repo, m),
                                    *trace_header_only(tree, m), m],
                                   cwd=repo, capture_output=True, text=True,
                                   env=SYSTEM_PYTHON)
                t.ok(r.returncode == 0, f'{tree}: checkpatch {os.path.basename(m)}',
                     r.stdout + r.stderr)
        finally:
            git(repo, 'worktree', 'remove', '--force', wt)
