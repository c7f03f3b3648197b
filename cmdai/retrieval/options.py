"""The options of a utility that match a request, from its local documentation.

Small models pick the right tool more often than the right flag ("sort" without ``-n`` for
"numerically", ``grep`` without ``-L`` for "files that do not contain"). The flag is usually
described in the tool's own ``--help`` or man page in the words the user typed, so the option
lines that share the request's rarer words are shown to the model: one or two short lines, not
the whole help text (shown everything, small models copy it).

``--help`` is run only for a fixed list of standard utilities that are known to print help and do
nothing else; for any other program, and when ``--help`` does not describe its options (GNU
find), the man page is read instead (``man`` formats it; nothing is executed).
"""

from __future__ import annotations

import functools
import math
import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass

from cmdai.retrieval import stems

# utilities whose --help is safe to run (prints help, exits) on GNU and busybox systems
HELP_SAFE = frozenset({
    "awk", "basename", "cat", "chmod", "chown", "column", "comm", "cp", "cut", "date", "df",
    "diff", "dirname", "du", "echo", "env", "expand", "file", "find", "fold", "gawk", "grep",
    "gunzip", "gzip", "head", "id", "jq", "join", "ln", "ls", "md5sum", "mkdir", "mktemp", "mv",
    "nl", "numfmt", "od", "paste", "printf", "ps", "readlink", "realpath", "rev", "rm", "rmdir",
    "sed", "seq", "sha1sum", "sha256sum", "shuf", "sort", "split", "stat", "tac", "tail", "tar",
    "tee", "touch", "tr", "truncate", "uniq", "unzip", "wc", "xargs", "zip", "zcat",
})
MAX_DESC = 90
_GENERIC = frozenset(stems(
    "file files folder folders directory directories dir path content current under below tree "
    "entire system named name help"))


@dataclass(frozen=True)
class Option:
    utility: str
    flags: str  # "-n, --numeric-sort" or "%s" (a format sequence)
    description: str

    def line(self) -> str:
        return f"{self.utility} {self.flags}: {self.description}"


_HELP_LINE = re.compile(r"^\s{1,12}((?:-{1,2}|%|\+)[^\s].*?)(?:\s{2,}|\t+)(\S.*)$")
_HELP_CONT = re.compile(r"^\s{8,}(\S.*)$")


def parse_help(text: str, utility: str) -> list[Option]:
    """Option lines of a ``--help`` text: ``  -n, --numeric-sort   compare ...`` (+ continuations)."""
    out: list[Option] = []
    cur: list[str] | None = None
    for raw in text.expandtabs().splitlines():
        m = _HELP_LINE.match(raw)
        if m:
            if cur:
                out.append(Option(utility, cur[0], " ".join(cur[1:])))
            cur = [m.group(1).strip(), m.group(2).strip()]
            continue
        c = _HELP_CONT.match(raw)
        if cur and c and not c.group(1).startswith("-"):
            cur.append(c.group(1).strip())
        else:
            if cur:
                out.append(Option(utility, cur[0], " ".join(cur[1:])))
            cur = None
    if cur:
        out.append(Option(utility, cur[0], " ".join(cur[1:])))
    return [_short(o) for o in out]


def parse_man(text: str, utility: str) -> list[Option]:
    """Option entries of a formatted man page: an indented ``-flag ...`` line, then its text."""
    out: list[Option] = []
    lines = text.expandtabs().splitlines()
    i = 0
    while i < len(lines):
        m = re.match(r"^(\s{3,12})((?:-{1,2}|%)[A-Za-z0-9%].*)$", lines[i])
        if not m:
            i += 1
            continue
        indent = len(m.group(1))
        head = m.group(2).rstrip()
        same = re.match(r"^(\S.*?)\s{2,}(\S.*)$", head)  # "-n   text" on one line
        if not same:  # "-empty File is empty ...": a capitalised sentence after the flag
            same = re.match(r"^(-\S+(?: [a-z<\[]\S*)?) ([A-Z]\w*(?: \S+){2,})$", head)
        desc: list[str] = [same.group(2)] if same else []
        flags = same.group(1) if same else head
        j = i + 1
        while j < len(lines):
            line = lines[j]
            stripped = line.strip()
            if not stripped:
                if desc:
                    break
                j += 1
                continue
            if len(line) - len(line.lstrip()) <= indent:
                break
            desc.append(stripped)
            j += 1
        if desc:
            out.append(_short(Option(utility, flags, " ".join(desc))))
        i = max(j, i + 1)
    return out


def _short(opt: Option) -> Option:
    desc = re.sub(r"\s+", " ", opt.description)
    first = re.split(r"(?<=[a-z0-9)])\. ", desc, maxsplit=1)[0].rstrip(".")
    if len(first) > MAX_DESC:
        first = first[:MAX_DESC].rsplit(" ", 1)[0] + " ..."
    flags = re.sub(r"\s+", " ", opt.flags)
    return Option(opt.utility, flags, first)


def _run(argv: list[str]) -> str:
    env = dict(os.environ, LC_ALL="C", MANWIDTH="120", MAN_KEEP_FORMATTING="", MANPAGER="cat",
               PAGER="cat")
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=3, env=env, check=False,
                             stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        return ""
    text = out.stdout or out.stderr
    return re.sub(r".\x08", "", text)  # overstrike bold/underline, if a pager left any


@functools.lru_cache(maxsize=128)
def options_of(utility: str) -> tuple[Option, ...]:
    """The documented options of ``utility`` on this machine (cached per process)."""
    if not re.fullmatch(r"[A-Za-z0-9][\w.+-]*", utility) or not shutil.which(utility):
        return ()
    found: list[Option] = []
    if utility in HELP_SAFE:
        found = parse_help(_run([utility, "--help"]), utility)
    if len(found) < 5 and shutil.which("man"):
        from_man = parse_man(_run(["man", "-P", "cat", utility]), utility)
        if len(from_man) > len(found):
            found = from_man
    return tuple(found)


def _match(a: str, b: str) -> bool:
    """Same stem, or one a prefix of the other ("numer" ~ "numeric"), but not "under" ~ "understood"."""
    if a == b:
        return True
    short, long_ = (a, b) if len(a) <= len(b) else (b, a)
    return len(short) >= 5 and len(long_) - len(short) <= 3 and long_.startswith(short)


def _request_stems(text: str) -> list[str]:
    # file names and paths in the request ("numbers.txt", "src/") say nothing about options
    words = [w for w in text.split() if "/" not in w and not re.search(r"\w\.\w", w)]
    return [s for s in stems(" ".join(words)) if s not in _GENERIC]


def relevant(text: str, utilities: Sequence[str], limit: int = 2,
             min_score: float = 2.0) -> list[Option]:
    """The options of ``utilities`` whose descriptions share the request's rarer words.

    A word found in an option's description counts fully, one found only in its long name
    ("--numeric-sort") half; rarer words (within that utility's options) count more, and an
    option is shown only when its description has one of the request's rare words.
    """
    req = _request_stems(text)
    scored: list[tuple[float, int, Option]] = []
    order = 0
    for util in utilities:
        opts = options_of(util)
        if not opts:
            continue
        descs = [set(stems(o.description)) for o in opts]
        names = [set(stems(o.flags.replace("-", " "))) for o in opts]
        n = len(opts)
        util_stems = set(stems(util))
        rare = max(3, n // 6)
        for opt, desc, name in zip(opts, descs, names):
            score = 0.0
            distinctive = False
            for r in req:
                if r in util_stems:
                    continue  # the utility's own name says nothing about the option
                in_desc = any(_match(r, w) for w in desc)
                if not in_desc and not any(_match(r, w) for w in name):
                    continue
                df = sum(1 for d, m in zip(descs, names) if any(_match(r, w) for w in d | m))
                score += math.log(1 + n / df) * (1.0 if in_desc else 0.5)
                distinctive = distinctive or (in_desc and df <= rare)
            if distinctive and score >= min_score:
                scored.append((score, order, opt))
            order += 1
    scored.sort(key=lambda t: (-t[0], t[1]))
    return [opt for _, _, opt in scored[:limit]]


# find's operators and the predicates its man page names only in prose
_FIND_EXTRA = {"-not", "-and", "-or", "-a", "-o", "-false", "-true", "-print", "-prune", "-quit",
               "-mount", "-depth", "-ls", "-delete", "-executable", "-readable", "-writable",
               "-uid", "-gid", "-user", "-group", "-nouser", "-nogroup"}
_FIND_RUNS = {"-exec", "-execdir", "-ok", "-okdir"}


def _find_predicates() -> dict[str, bool] | None:
    """find's predicates -> whether they take an argument (None: no documentation here)."""
    opts = options_of("find")
    if len(opts) < 20:
        return None
    preds: dict[str, bool] = dict.fromkeys(_FIND_EXTRA, False)
    preds.update({"-uid": True, "-gid": True, "-user": True, "-group": True})
    for opt in opts:
        for part in opt.flags.split(", "):
            words = part.split()
            if words and re.fullmatch(r"-[A-Za-z][\w]*", words[0]):
                preds[words[0]] = preds.get(words[0], False) or (
                    len(words) > 1 and words[1][0].islower())
    return preds


def unknown_option(words: Sequence[str]) -> str | None:
    """The first option of one simple command (``words``) that its documentation here does not
    know: find's predicates, and the long options (``--x``) of the standard tools; None when all
    are known or the tool is undocumented here (unknown means "cannot tell", not "wrong")."""
    if not words:
        return None
    util = words[0]
    if util == "find":
        preds = _find_predicates()
        if preds is None:
            return None
        i, n = 1, len(words)
        while i < n:
            w = words[i]
            if w in _FIND_RUNS:
                while i < n and words[i] not in (";", "+", "\\;"):
                    i += 1
            elif w.startswith("-") and len(w) > 1 and not w[1].isdigit():
                if re.fullmatch(r"-newer[a-zA-Z]{2}", w):
                    i += 1
                elif w not in preds:
                    return w
                elif preds[w]:
                    i += 1  # its argument
            i += 1
        return None
    if util not in HELP_SAFE or util in ("xargs", "env"):  # their options are a command's
        return None
    longs = [w.split("=", 1)[0] for w in words[1:] if w.startswith("--") and len(w) > 2]
    if not longs:
        return None
    known = {m for o in options_of(util) for m in re.findall(r"--[A-Za-z0-9][\w-]*", o.flags)}
    if len(known) < 3:
        return None
    for w in longs:
        if w not in known and not any(k.startswith(w) for k in known):  # GNU allows prefixes
            return w
    return None
