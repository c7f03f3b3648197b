"""Run a command in a throwaway copy of the fixture tree and compare it with a reference.

Each run gets a fresh copy, no network, a minimal environment, no stdin and a time limit, inside
a bubblewrap sandbox whose file system is read-only except that copy (see ``sandboxed``). A candidate is right when its normalized output and the
tree's changes match the reference's, as the task's ``match`` mode says:

  lines (default) the output lines as a multiset, and the tree
  ordered         the output lines in order, and the tree
  number          the first integer of the output, and the tree
  word            the first word of the output, and the tree
  first           the basename of the first word of the first line, and the tree
  tree            the tree only (content, mode, symlink target); output ignored
  tree_names      the set of paths only (archives embed timestamps)
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

TIMEOUT = 5.0


BWRAP = shutil.which("bwrap")


def sandboxed(argv: list[str], work: Path, home: Path) -> list[str]:
    """Model output is run here, possibly as root: with bubblewrap the whole file system is
    read-only except the task's copy (no network, own pid namespace); without it, refuse what
    the safety engine rates high or critical, and cut the network with unshare."""
    if BWRAP:
        return [BWRAP, "--ro-bind", "/", "/", "--tmpfs", "/tmp", "--bind", str(home), str(home),
                "--dev", "/dev", "--proc", "/proc", "--unshare-net", "--unshare-pid",
                "--die-with-parent", "--chdir", str(work), *argv]
    from cmdai.safety import check

    if check(argv[-1], cwd=str(work), blast_radius=False).level in ("high", "critical"):
        return ["false"]
    return ["unshare", "-rn", *argv] if NO_NETWORK else argv


def _unshare_ok() -> bool:
    try:
        return subprocess.run(["unshare", "-rn", "true"], capture_output=True,
                              timeout=5).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


NO_NETWORK = _unshare_ok()


@dataclass(frozen=True)
class Run:
    stdout: str
    code: int
    tree: tuple
    timed_out: bool = False


def snapshot(root: Path) -> tuple:
    items = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(dirnames + filenames):
            p = Path(dirpath) / name
            rel = str(p.relative_to(root))
            if p.is_symlink():
                items.append((rel, "link", os.readlink(p)))
            elif p.is_dir():
                items.append((rel, "dir", oct(p.stat().st_mode & 0o777)))
            else:
                digest = hashlib.sha256(p.read_bytes()).hexdigest()[:16]
                items.append((rel, "file", oct(p.stat().st_mode & 0o777), digest))
    return tuple(items)


def run(command: str, fixture: Path, setup: str = "") -> Run:
    with tempfile.TemporaryDirectory(prefix="cmdai-eval-") as tmp:
        work = Path(tmp) / "project"
        shutil.copytree(fixture, work, symlinks=True)
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
               "HOME": tmp, "PWD": str(work), "TZ": "UTC"}
        if setup:
            subprocess.run(["bash", "-c", setup], cwd=work, env=env, capture_output=True,
                           timeout=TIMEOUT)
        argv = sandboxed(["bash", "-c", command], work, Path(tmp))
        proc = subprocess.Popen(argv, cwd=work, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                                start_new_session=True)
        try:
            raw, _ = proc.communicate(timeout=TIMEOUT)
            out = raw.decode("utf-8", "replace")
            code, timed_out = proc.returncode, False
        except subprocess.TimeoutExpired:
            # the whole process group: a `find /` left behind would run on for minutes
            os.killpg(proc.pid, 9)
            raw, _ = proc.communicate()
            out = (raw or b"").decode("utf-8", "replace")
            code, timed_out = -1, True
        tree = snapshot(work)
        return Run(out, code, tree, timed_out)


def _lines(text: str) -> list[str]:
    out = []
    for line in text.splitlines():
        line = re.sub(r"(^|\s)\./", r"\1", " ".join(line.split()))
        if line:
            out.append(line)
    return out


def same(task: dict, ref: Run, cand: Run) -> bool:
    mode = task.get("match", "lines")
    if cand.timed_out:
        return False
    if mode == "tree_names":
        return {t[0] for t in ref.tree} == {t[0] for t in cand.tree}
    if ref.tree != cand.tree:
        return False
    if mode == "tree":
        return True
    r, c = _lines(ref.stdout), _lines(cand.stdout)
    if mode == "ordered":
        return r == c
    if mode == "number":
        rn, cn = re.search(r"-?\d+", ref.stdout), re.search(r"-?\d+", cand.stdout)
        return bool(rn and cn and rn.group() == cn.group())
    if mode == "word":
        return bool(r and c and r[0].split()[0] == c[0].split()[0])
    if mode == "first":
        return bool(r and c and os.path.basename(r[0].split()[0]) == os.path.basename(c[0].split()[0]))
    return sorted(r) == sorted(c)
