"""The CLI as a user meets it: whole processes, exit codes, JSON shapes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from cmdai.errors import ExitCode
from cmdai.history import spool
from cmdai.history.entry import Entry


def run(*args, input=None, env_extra=None):
    env = dict(os.environ, **(env_extra or {}))
    return subprocess.run([sys.executable, "-m", "cmdai", *args], capture_output=True,
                          text=True, input=input, env=env)


def write_spool(cmdai_home, *entries: Entry) -> None:
    sp = cmdai_home / "data" / "spool"
    sp.mkdir(parents=True, exist_ok=True)
    with open(sp / "box-s1.tsv", "a") as fh:
        for e in entries:
            fh.write(spool.encode(e))


def E(cmd, t, **kw):
    kw.setdefault("session", "s1")
    kw.setdefault("shell", "zsh")
    kw.setdefault("cwd", "/work")
    kw.setdefault("exit", 0)
    kw.setdefault("duration_ms", 10)
    return Entry(command=cmd, timestamp=t * 1_000_000_000, **kw)


def test_version():
    out = run("--version")
    assert out.returncode == 0 and out.stdout.startswith("cmdai, version ")


def test_history_list_json_shape(cmdai_home):
    write_spool(cmdai_home, E("git status", 1_700_000_000), E("make", 1_700_000_100, exit=2))
    out = run("history", "list", "--json")
    assert out.returncode == 0, out.stderr
    entries = json.loads(out.stdout)
    assert [e["command"] for e in entries] == ["git status", "make"]
    assert set(entries[0]) == {"id", "command", "cwd", "exit", "duration_ms", "timestamp",
                               "session", "hostname", "shell", "source"}
    assert entries[1]["timestamp"] == "2023-11-14T22:15:00.000Z"
    assert entries[1]["exit"] == 2 and entries[1]["hostname"] == "box"
    out = run("history", "list", "--json", "--exit", "2")
    assert [e["command"] for e in json.loads(out.stdout)] == ["make"]


def test_search_modes_and_filters(cmdai_home):
    write_spool(cmdai_home, E("git status", 1), E("git push", 2, cwd="/other"),
                E("cat .gitignore", 3))
    ft = json.loads(run("search", "--json", "git").stdout)
    # ranked (hybrid by default, see tests/search), one row per command
    assert sorted(e["command"] for e in ft) == ["cat .gitignore", "git push", "git status"]
    px = json.loads(run("search", "--json", "--mode", "prefix", "git").stdout)
    assert [e["command"] for e in px] == ["git push", "git status"]
    cw = json.loads(run("search", "--json", "--cwd", "/other", "git").stdout)
    assert [e["command"] for e in cw] == ["git push"]
    assert run("search", "--mode", "nope", "x").returncode == ExitCode.USAGE


def test_bad_spool_line_is_reported_not_lost(cmdai_home):
    write_spool(cmdai_home, E("ok", 1))
    with open(cmdai_home / "data" / "spool" / "box-s1.tsv", "a") as fh:
        fh.write("v1\tzsh\ts1\tnot-a-time\t0\t1\t/\tbroken\n")
    out = run("history", "list", "--json")
    assert out.returncode == 0
    assert [e["command"] for e in json.loads(out.stdout)] == ["ok"]
    assert "1 recorded line(s) could not be read" in out.stderr
    assert "box-s1.tsv:2: bad start time" in out.stderr
    assert "broken" in (cmdai_home / "data" / "quarantine.tsv").read_text()


def test_history_delete(cmdai_home):
    # (a real secret would be redacted at ingest: the word "secret" alone is not one)
    write_spool(cmdai_home, E("curl https://x/secret", 1), E("ls", 2))
    assert run("history", "delete").returncode == ExitCode.USAGE
    out = run("history", "delete", "--match", "secret", "--yes")
    assert out.returncode == 0 and "deleted 1 entry" in out.stderr
    assert [e["command"] for e in json.loads(run("history", "list", "--json").stdout)] == ["ls"]
    out = run("history", "delete", "--match", "ls", input="n\n")
    assert out.returncode == ExitCode.CANCELLED


def test_config_errors_map_to_usage_exit(cmdai_home):
    cfg = cmdai_home / "config" / "config.toml"
    cfg.parent.mkdir(parents=True)
    cfg.write_text("[search]\nlimt = 3\n")
    out = run("search", "x")
    assert out.returncode == ExitCode.USAGE
    assert out.stderr.startswith(f"cmdai: {cfg}: unknown key 'search.limt'")
    assert "Traceback" not in out.stderr
    assert "Traceback" in run("--debug", "search", "x").stderr


def test_config_commands(cmdai_home):
    assert run("config", "path").stdout.strip() == str(cmdai_home / "config" / "config.toml")
    assert run("config", "set", "search.limit", "3").returncode == 0
    assert run("config", "get", "search.limit").stdout.strip() == "3"
    assert json.loads(run("config", "show", "--json").stdout)["search"]["limit"] == 3
    out = run("config", "set", "search.limit", "x")
    assert out.returncode == ExitCode.USAGE and "must be int" in out.stderr


def test_doctor(cmdai_home):
    out = run("doctor", "--json", env_extra={"CMDAI_SESSION": "17.1.2"})
    report = json.loads(out.stdout)
    checks = {c["name"]: c for c in report["checks"]}
    assert checks["hooks"]["ok"] and "17.1.2" in checks["hooks"]["detail"]
    assert report["paths"]["data"] == str(cmdai_home / "data")
    # the generation backends, in the configured order, with why one cannot answer
    assert [b["backend"] for b in report["backends"]] == ["llama_cpp", "openai"]
    llama = report["backends"][0]
    assert not llama["ok"] and "cmdai model install" in llama["detail"]
    assert not checks["daemon"]["ok"] and "not running" in checks["daemon"]["detail"]
    env = {k: v for k, v in os.environ.items() if k != "CMDAI_SESSION"}
    out = subprocess.run([sys.executable, "-m", "cmdai", "doctor"], capture_output=True,
                         text=True, env=env)
    assert "not active in this shell" in out.stdout
    assert "backends (generate.backends, tried in order):" in out.stdout


def test_unknown_command_is_a_usage_error():
    out = run("frobnicate")
    assert out.returncode == ExitCode.USAGE and "No such command" in out.stderr
