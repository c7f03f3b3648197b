"""`cmdai stats` on a seeded history (fixed clock: no wall-clock dependence)."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys

import pytest

from cmdai.history.entry import Entry
from cmdai.history.stats import bar, command_words, compute, render
from cmdai.history.store import Store

NOW = dt.datetime(2025, 3, 14, 15, 30).timestamp()  # local time


def at(days_ago: float, hour: int = 10) -> int:
    t = dt.datetime.fromtimestamp(NOW).replace(hour=hour, minute=0) - dt.timedelta(days=days_ago)
    return int(t.timestamp() * 1e9)


@pytest.fixture
def store(tmp_path):
    rows = []
    n = 0

    def add(cmd, days_ago, exit_=0, cwd="/home/u/app", hour=10):
        nonlocal n
        n += 1
        rows.append(Entry(command=cmd, timestamp=at(days_ago, hour) + n, session="s", exit=exit_,
                          cwd=cwd, shell="zsh"))

    for _ in range(5):
        add("git status", 0)
    add("git commit -m 'x'", 0)
    add("git commit -am y", 1)
    add("sudo -E apt install jq", 2, cwd="/tmp")
    add("make test", 3, exit_=2)
    add("FOO=1 python -m pytest", 3, exit_=1)
    add("ls", 20)
    add("ls -la", 40, cwd="/etc")
    add("docker compose up -d", 0, hour=14, exit_=None)
    s = Store.open(tmp_path / "h.db")
    s.insert(rows)
    yield s
    s.close()


def test_command_words():
    assert command_words("git -C repo commit -m x") == ("git", "git commit")
    assert command_words("sudo -E apt install jq") == ("apt", "apt install")
    assert command_words("A=1 B=2 /usr/bin/python3 x.py") == ("python3", None)
    assert command_words("git ./path") == ("git", None)
    assert command_words("time nice make build") == ("make", "make build")
    assert command_words("   ") == ("", None)
    assert command_words("kubectl -n prod get pods") == ("kubectl", "kubectl get")
    assert command_words("npm -g install x") == ("npm", "npm install")


def test_week(store):
    s = compute(store, "week", now=NOW)
    assert (s.total, s.distinct) == (11, 7)
    assert (s.failed, s.with_exit) == (2, 10) and s.failure_rate == pytest.approx(0.2)
    assert s.commands[0] == ("git", 7)
    assert dict(s.subcommands) == {"git status": 5, "git commit": 2, "apt install": 1,
                                   "make test": 1, "docker compose": 1}
    assert s.bucket_unit == "day" and len(s.buckets) == 7
    assert [c for _, c in s.buckets] == [0, 0, 0, 2, 1, 1, 7]
    assert dict(s.directories) == {"/home/u/app": 10, "/tmp": 1}


def test_day_is_per_hour_and_all_covers_everything(store):
    day = compute(store, "day", now=NOW)
    assert day.bucket_unit == "hour" and len(day.buckets) == 24
    assert dict(day.buckets)["10:00"] == 6 and dict(day.buckets)["14:00"] == 1
    everything = compute(store, "all", now=NOW)
    assert everything.total == 13 and sum(c for _, c in everything.buckets) == 13
    assert compute(store, "month", now=NOW).total == 12


def test_render_and_bars(store):
    text = "\n".join(render(compute(store, "week", now=NOW), width=20))
    assert "11 commands in the last 7 days (7 distinct)" in text
    assert "failure rate 20.0% (2 of 10" in text
    assert "git status" in text and "commands per day" in text
    assert bar(10, 10, 20) == "█" * 20 and bar(0, 10) == "" and bar(1, 16, 2) == "▏"


def test_stats_cli_json(cmdai_home):
    from cmdai import paths

    with Store.open(paths.db_file()) as s:
        s.insert([Entry(command="git push", timestamp=int((dt.datetime.now().timestamp() - 60) * 1e9),
                        session="s", exit=0, cwd="/w", shell="bash")])
    env = {"CMDAI_HOME": str(cmdai_home), "PATH": "/usr/bin:/bin", "HOME": str(cmdai_home)}
    out = subprocess.run([sys.executable, "-m", "cmdai", "stats", "all", "--json"], env=env,
                         capture_output=True, text=True, check=True)
    data = json.loads(out.stdout)
    assert data["total"] == 1 and data["subcommands"] == [{"name": "git push", "count": 1}]
    out = subprocess.run([sys.executable, "-m", "cmdai", "stats"], env=env, capture_output=True,
                         text=True, check=True)
    assert "git push" in out.stdout and "commands per day" in out.stdout
