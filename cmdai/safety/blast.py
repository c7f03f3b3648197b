"""Blast radius: what a destructive command would touch, found without running it.

For commands that remove, overwrite, move, truncate or change permissions, the targets are
resolved against the working directory (globs expanded, paths stat'ed, directories walked when the
command is recursive) and summarised: "would remove 1,204 files (3.2 GB), 12 tracked by git".
Bounded in time; when a target cannot be known (a variable, a substitution) nothing is claimed.
"""

from __future__ import annotations

import glob
import os
import re
import stat
import struct
import time
from dataclasses import dataclass, field

from cmdai.safety.parse import Parsed, Simple

BUDGET_S = 0.05  # wall-clock budget for the whole estimate
MAX_ENTRIES = 200_000
_UNKNOWABLE = re.compile(r"[$`]|^/dev/fd/|^/(proc|sys|dev)(/|$)|\{\}")
_GLOB = re.compile(r"[*?\[]")


@dataclass
class _Tally:
    verb: str
    files: int = 0
    dirs: int = 0
    bytes: int = 0
    missing: list[str] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)  # absolute top-level targets
    truncated: bool = False


def _targets(s: Simple) -> tuple[str, list[str], bool] | None:
    """(verb, target words, recursive) for a command that changes files; None otherwise."""
    from cmdai.safety.rules import analyse

    prog = s.program
    v = analyse(s.argv, prog, None)
    rec = bool(v.flags & {"r", "R", "recursive"})
    pos = v.positionals
    if prog in ("rm", "unlink", "shred", "srm"):
        return "remove", pos, rec
    if prog == "rmdir":
        return "remove", pos, False
    if prog == "find" and "-delete" in s.argv:
        from cmdai.safety.parse import _find_roots

        roots, filtered = _find_roots(s.argv[1:])
        return (None if filtered else ("remove", roots, True))  # type: ignore[return-value]
    if prog == "mv" and len(pos) >= 2:
        return "move", pos[:-1], True
    if prog in ("chmod", "chown", "chgrp") and len(pos) >= 2:
        return "change permissions of", pos[1:], rec
    if prog == "truncate":
        return "truncate", [p for p in pos], False
    return None


def _expand(word: str, cwd: str) -> list[str]:
    path = os.path.expanduser(word)
    if not os.path.isabs(path):
        path = os.path.join(cwd, path)
    if _GLOB.search(word):
        return sorted(glob.glob(path))
    return [path]


def _walk(path: str, tally: _Tally, recursive: bool, deadline: float) -> None:
    try:
        st = os.lstat(path)
    except OSError:
        tally.missing.append(path)
        return
    tally.paths.append(path)
    if not stat.S_ISDIR(st.st_mode) or not recursive:
        if stat.S_ISDIR(st.st_mode):
            tally.dirs += 1
        else:
            tally.files += 1
            tally.bytes += st.st_size
        return
    tally.dirs += 1
    stack = [path]
    n = 0
    while stack:
        d = stack.pop()
        try:
            with os.scandir(d) as it:
                for e in it:
                    n += 1
                    if n % 256 == 0 and (time.perf_counter() > deadline or
                                         tally.files + tally.dirs > MAX_ENTRIES):
                        tally.truncated = True
                        return
                    try:
                        if e.is_dir(follow_symlinks=False):
                            tally.dirs += 1
                            stack.append(e.path)
                        else:
                            tally.files += 1
                            tally.bytes += e.stat(follow_symlinks=False).st_size
                    except OSError:
                        continue
        except OSError:
            continue


def _human(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1024 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def _git_root(path: str) -> str | None:
    p = path
    for _ in range(64):
        if os.path.isdir(os.path.join(p, ".git")):
            return p
        parent = os.path.dirname(p)
        if parent == p:
            return None
        p = parent
    return None


def git_tracked(root: str, deadline: float) -> list[str] | None:
    """Paths in the git index of the work tree at ``root`` (read directly, no git process)."""
    try:
        with open(os.path.join(root, ".git", "index"), "rb") as f:
            data = f.read(64 * 1024 * 1024)
    except OSError:
        return None
    if len(data) < 12 or data[:4] != b"DIRC":
        return None
    version, count = struct.unpack(">II", data[4:12])
    if version not in (2, 3, 4):
        return None
    out: list[str] = []
    pos = 12
    prev = b""
    for i in range(count):
        if i % 4096 == 0 and time.perf_counter() > deadline:
            return None
        start = pos
        if pos + 62 > len(data):
            return None
        flags = struct.unpack(">H", data[pos + 60:pos + 62])[0]
        pos += 62
        if version >= 3 and flags & 0x4000:
            pos += 2
        if version == 4:
            # git's offset varint
            b = data[pos]
            pos += 1
            strip = b & 0x7F
            while b & 0x80:
                b = data[pos]
                pos += 1
                strip = ((strip + 1) << 7) | (b & 0x7F)
            end = data.index(b"\0", pos)
            name = prev[:len(prev) - strip] + data[pos:end]
            pos = end + 1
        else:
            end = data.index(b"\0", pos)
            name = data[pos:end]
            pos = start + ((end - start + 8) // 8) * 8
        prev = name
        out.append(name.decode("utf-8", "surrogateescape"))
    return out


def estimate(parsed: Parsed, cwd: str, budget_s: float = BUDGET_S) -> str | None:
    deadline = time.perf_counter() + budget_s
    tallies: list[_Tally] = []
    for s in parsed.commands:
        if s.synthetic or not s.argv or "unparsed" in s.via or s.input_args:
            continue  # guessed words, or targets that arrive on input (xargs): not knowable
        t = _targets(s)
        if t is None:
            continue
        verb, words, recursive = t
        if not words or any(_UNKNOWABLE.search(w) for w in words):
            continue
        tally = _Tally(verb)
        for w in words:
            for path in _expand(w, cwd):
                _walk(path, tally, recursive, deadline)
                if tally.truncated:
                    break
        tallies.append(tally)
    for s in parsed.commands:
        for op, target in s.redirects:
            if op in (">", ">|", "&>") and target and not _UNKNOWABLE.search(target):
                path = target if os.path.isabs(target) else os.path.join(cwd, os.path.expanduser(target))
                try:
                    st = os.stat(path)
                except OSError:
                    continue
                if stat.S_ISREG(st.st_mode) and st.st_size > 0:
                    t2 = _Tally("overwrite", files=1, bytes=st.st_size, paths=[path])
                    tallies.append(t2)
    if not tallies:
        return None
    parts = []
    all_paths: list[str] = []
    for t in tallies:
        all_paths += t.paths
        if not t.paths:
            parts.append(f"would {t.verb} nothing: no such file")
            continue
        what = f"{t.files:,} file{'s' if t.files != 1 else ''}"
        if t.dirs:
            what += f" in {t.dirs:,} director{'ies' if t.dirs != 1 else 'y'}"
        if t.truncated:
            what = "at least " + what + f" (counting stopped after {int(budget_s * 1000)} ms)"
        parts.append(f"would {t.verb} {what}, {_human(t.bytes)}")
    text = "; ".join(parts)
    tracked = _tracked_count(all_paths, cwd, deadline)
    if tracked:
        text += f"; {tracked:,} tracked by git"
    return text


def _tracked_count(paths: list[str], cwd: str, deadline: float) -> int:
    if not paths:
        return 0
    root = _git_root(os.path.abspath(cwd))
    if root is None:
        return 0
    index = git_tracked(root, deadline)
    if not index:
        return 0
    rels = []
    for p in paths:
        rel = os.path.relpath(os.path.normpath(p), root)
        if rel.startswith(".."):
            continue
        rels.append("" if rel == "." else rel)
    n = 0
    for entry in index:
        for rel in rels:
            if rel == "" or entry == rel or entry.startswith(rel + "/"):
                n += 1
                break
    return n
