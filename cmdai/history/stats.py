"""`cmdai stats`: what the history says about how the shell is used.

Most used programs and subcommands (``git commit``), commands per hour/day/month, the failure
rate and the busiest directories, over the last day, week, month or all of it. Times are bucketed
in local time. Wrappers (sudo, time, env, ...) and leading ``NAME=value`` assignments are looked
through: ``sudo -E apt install x`` counts as ``apt`` / ``apt install``.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from cmdai.history.store import Store

PERIODS: dict[str, int | None] = {"day": 1, "week": 7, "month": 30, "all": None}
WRAPPERS = frozenset({
    "sudo", "doas", "time", "nice", "nohup", "env", "command", "builtin", "exec", "caffeinate",
    "ionice", "stdbuf", "chronic", "unbuffer", "torsocks", "proxychains", "watch",
})
# programs whose second word is a subcommand worth counting on its own
SUBCOMMAND_TOOLS = frozenset({
    "git", "docker", "docker-compose", "podman", "kubectl", "helm", "cargo", "npm", "pnpm",
    "yarn", "bun", "deno", "pip", "pip3", "pipx", "uv", "poetry", "conda", "mamba", "apt",
    "apt-get", "dnf", "yum", "pacman", "brew", "snap", "flatpak", "systemctl", "journalctl",
    "go", "gh", "glab", "terraform", "tofu", "aws", "gcloud", "az", "nix", "rustup", "mix",
    "bundle", "rails", "rake", "dotnet", "mvn", "gradle", "kubeadm", "minikube", "kind", "ip",
    "cmdai", "hg", "svn", "jj", "just", "make", "ollama", "llm", "tmux", "vagrant", "heroku",
    "fly", "flyctl", "firebase", "wrangler", "vercel", "supabase", "stripe", "zfs", "zpool",
    "lxc", "virsh", "ufw", "firewall-cmd", "nmcli", "openssl", "ansible-galaxy", "pulumi",
})
# global options that take a value in the SUBCOMMAND_TOOLS that have them
OPTION_ARGS = frozenset({
    "-C", "-c", "--git-dir", "--work-tree", "-n", "--namespace", "--context", "--kubeconfig",
    "-H", "--host", "--config", "--kube-context", "--profile", "--region", "--project",
    "--manifest-path", "-f", "--file", "-p", "--project-name", "--project-directory",
})
_ASSIGN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")
_SUB = re.compile(r"[a-z][a-z0-9:_-]{0,30}")


def command_words(command: str) -> tuple[str, str | None]:
    """(program, subcommand or None) of a command line's first simple command."""
    words = command.split("\n", 1)[0].split()
    i = 0
    while i < len(words):
        w = words[i]
        if _ASSIGN.match(w):
            i += 1
            continue
        name = os.path.basename(w)
        if name in WRAPPERS:
            i += 1
            while i < len(words) and words[i].startswith("-"):  # the wrapper's own options
                i += 1
            continue
        break
    if i >= len(words):
        return "", None
    program = os.path.basename(words[i]).rstrip(";|&")
    sub = None
    if program in SUBCOMMAND_TOOLS:
        rest = iter(words[i + 1:i + 8])
        for w in rest:
            if w.startswith("-") or w.startswith("+"):  # options before the subcommand
                if w in OPTION_ARGS:
                    next(rest, None)  # git -C DIR status, kubectl -n NS get
                continue
            if _SUB.fullmatch(w):
                sub = f"{program} {w}"
            break
    return program, sub


@dataclass
class Stats:
    period: str
    since: int | None  # ns, or None for all
    until: int
    total: int = 0
    distinct: int = 0
    failed: int = 0
    with_exit: int = 0
    commands: list[tuple[str, int]] = field(default_factory=list)
    subcommands: list[tuple[str, int]] = field(default_factory=list)
    buckets: list[tuple[str, int]] = field(default_factory=list)
    bucket_unit: str = "day"
    directories: list[tuple[str, int]] = field(default_factory=list)

    @property
    def failure_rate(self) -> float | None:
        return self.failed / self.with_exit if self.with_exit else None

    def to_json(self) -> dict[str, Any]:
        def iso(ns: int | None) -> str | None:
            if ns is None:
                return None
            return dt.datetime.fromtimestamp(ns / 1e9, tz=dt.timezone.utc).isoformat(
                timespec="seconds").replace("+00:00", "Z")

        return {
            "period": self.period, "since": iso(self.since), "until": iso(self.until),
            "total": self.total, "distinct": self.distinct, "failed": self.failed,
            "with_exit": self.with_exit,
            "failure_rate": None if self.failure_rate is None else round(self.failure_rate, 4),
            "commands": [{"name": n, "count": c} for n, c in self.commands],
            "subcommands": [{"name": n, "count": c} for n, c in self.subcommands],
            "per": self.bucket_unit,
            "buckets": [{"label": n, "count": c} for n, c in self.buckets],
            "directories": [{"path": n, "count": c} for n, c in self.directories],
        }


def compute(store: Store, period: str = "week", *, now: float | None = None, top: int = 10) -> Stats:
    if period not in PERIODS:
        raise ValueError(f"unknown period {period!r}")
    now = time.time() if now is None else now
    days = PERIODS[period]
    since = None if days is None else int((now - days * 86400) * 1e9)
    stats = Stats(period=period, since=since, until=int(now * 1e9))
    sql = "SELECT timestamp, command, cwd, exit FROM history WHERE deleted_at IS NULL"
    args: tuple = ()
    if since is not None:
        sql += " AND timestamp >= ? AND timestamp <= ?"
        args = (since, stats.until)
    programs: Counter[str] = Counter()
    subs: Counter[str] = Counter()
    dirs: Counter[str] = Counter()
    distinct: set[str] = set()
    stamps: list[int] = []
    for ts, command, cwd, exit_ in store.conn.execute(sql, args):
        stats.total += 1
        distinct.add(command)
        stamps.append(ts)
        if exit_ is not None:
            stats.with_exit += 1
            stats.failed += exit_ != 0
        program, sub = command_words(command)
        if program:
            programs[program] += 1
        if sub:
            subs[sub] += 1
        if cwd:
            dirs[cwd] += 1
    stats.distinct = len(distinct)
    stats.commands = programs.most_common(top)
    stats.subcommands = subs.most_common(top)
    home = os.path.expanduser("~")
    stats.directories = [
        ("~" + d[len(home):] if home != "/" and (d == home or d.startswith(home + "/")) else d, c)
        for d, c in dirs.most_common(top)
    ]
    stats.bucket_unit, stats.buckets = _buckets(stamps, period, now)
    return stats


def _buckets(stamps: list[int], period: str, now: float) -> tuple[str, list[tuple[str, int]]]:
    local = [dt.datetime.fromtimestamp(ts / 1e9) for ts in stamps]
    today = dt.datetime.fromtimestamp(now)
    if period == "day":
        start = today.replace(minute=0, second=0, microsecond=0) - dt.timedelta(hours=23)
        counts = Counter(t.replace(minute=0, second=0, microsecond=0) for t in local)
        return "hour", [(f"{h:%H}:00", counts.get(h, 0))
                        for h in (start + dt.timedelta(hours=i) for i in range(24))]
    days = [t.date() for t in local]
    if period in ("week", "month"):
        n = PERIODS[period] or 0
        first = today.date() - dt.timedelta(days=n - 1)
    else:
        if not days:
            return "day", []
        first = min(days)
    span = (today.date() - first).days + 1
    if span <= 62:
        counts = Counter(days)
        return "day", [(f"{d:%a %m-%d}", counts.get(d, 0))
                       for d in (first + dt.timedelta(days=i) for i in range(span))]
    months = Counter((d.year, d.month) for d in days)
    y, m = first.year, first.month
    out = []
    while (y, m) <= (today.year, today.month):
        out.append((f"{y:04d}-{m:02d}", months.get((y, m), 0)))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return "month", out


_EIGHTHS = " ▏▎▍▌▋▊▉"


def bar(value: int, top: int, width: int = 40) -> str:
    """A horizontal bar of ``value`` against ``top`` in ``width`` cells (eighth-block steps)."""
    if top <= 0 or value <= 0:
        return ""
    eighths = max(1, round(value / top * width * 8))
    full, rest = divmod(eighths, 8)
    return "█" * full + (_EIGHTHS[rest] if rest else "")


def render(stats: Stats, width: int = 40) -> list[str]:
    label = {"day": "the last 24 hours", "week": "the last 7 days", "month": "the last 30 days",
             "all": "all history"}[stats.period]
    lines = [f"{stats.total} commands in {label} ({stats.distinct} distinct)"]
    if stats.failure_rate is not None:
        lines.append(f"failure rate {stats.failure_rate:.1%} ({stats.failed} of {stats.with_exit} "
                     "with a known exit status)")
    if not stats.total:
        return lines

    def table(title: str, rows: list[tuple[str, int]]) -> None:
        if not rows:
            return
        lines.append("")
        lines.append(title)
        w = max(len(n) for n, _ in rows)
        top = rows[0][1]
        for n, c in rows:
            lines.append(f"  {n:<{w}}  {c:>6}  {bar(c, top, width // 2)}")

    table("most used commands", stats.commands)
    table("most used subcommands", stats.subcommands)
    if stats.buckets:
        lines.append("")
        lines.append(f"commands per {stats.bucket_unit}")
        top = max(c for _, c in stats.buckets)
        w = max(len(n) for n, _ in stats.buckets)
        for n, c in stats.buckets:
            lines.append(f"  {n:<{w}} │{bar(c, top, width):<{width}} {c}")
    table("directories", stats.directories)
    return lines
