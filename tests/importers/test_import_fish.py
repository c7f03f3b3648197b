"""fish: a parse table of fish_history records, and a history written by the real fish (driven
in a pty with its own HOME and XDG dirs) imported and compared entry by entry."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from cmdai.history.entry import Entry
from cmdai.history.importers import NS, Problem, driver, fish
from cmdai.history.store import Store
from tests.importers import parsed as parsed_items

T = 1_700_000_000


def parsed(data: bytes) -> list[tuple]:
    return parsed_items(fish.parse(data))


TABLE = [
    ("record", b"- cmd: ls\n  when: 1700000000\n", [("ls", T)]),
    (
        "paths are skipped",
        (
            b"- cmd: ls /tmp\n  when: 1700000000\n  paths:\n    - /tmp\n"
            b"- cmd: pwd\n  when: 1700000001\n"
        ),
        [("ls /tmp", T), ("pwd", T + 1)],
    ),
    ("escaped newline", b"- cmd: echo a\\necho b\n  when: 1700000000\n", [("echo a\necho b", T)]),
    (
        "escaped backslash",
        b"- cmd: echo back\\\\slash\n  when: 1700000000\n",
        [("echo back\\slash", T)],
    ),
    ("escaped backslash before n", b"- cmd: echo \\\\n\n  when: 1700000000\n", [("echo \\n", T)]),
    ("unknown escape kept", b"- cmd: echo \\t\\x\n  when: 1700000000\n", [("echo \\t\\x", T)]),
    ("lone backslash at the end kept", b"- cmd: echo \\\n  when: 1700000000\n", [("echo \\", T)]),
    ("no when", b"- cmd: ls\n- cmd: pwd\n  when: 1700000000\n", [("ls", T - 1), ("pwd", T)]),
    ("unknown keys ignored", b"- cmd: ls\n  when: 1700000000\n  exit: 0\n", [("ls", T)]),
    ("non-ASCII", "- cmd: echo 你好 «ça»\n  when: 1700000000\n".encode(), [("echo 你好 «ça»", T)]),
    ("colon in the command", b"- cmd: echo a: b\n  when: 1700000000\n", [("echo a: b", T)]),
    (
        "truncated when",
        b"- cmd: ls\n  when: 17000\n- cmd: pwd\n  wh",
        [("ls", 17000), ("pwd", 17000)],
    ),
    (
        "garbled when",
        b"- cmd: ls\n  when: soon\n",
        [("!", 2, "fish 'when:' is not a number (truncated file?)"), ("ls", 0)],
    ),
    (
        "when overflow",
        b"- cmd: ls\n  when: 99999999999999999999\n",
        [("!", 2, "timestamp 99999999999999999999 out of range"), ("ls", 0)],
    ),
    (
        "invalid UTF-8 in cmd",
        (
            b"- cmd: cat \xff\n  when: 1700000000\n  paths:\n    - x\n"
            b"- cmd: ok\n  when: 1700000001\n"
        ),
        [("!", 1, "not valid UTF-8 (byte 0xff at column 12)"), ("ok", T + 1)],
    ),
    (
        "stray line",
        b"garbage here\n- cmd: ls\n  when: 1700000000\n",
        [("!", 1, "not a fish history record: 'garbage here'"), ("ls", T)],
    ),
    ("empty cmd", b"- cmd: \n  when: 1700000000\n", []),
    ("empty file", b"", []),
]


@pytest.mark.parametrize("name,data,expected", TABLE, ids=[t[0] for t in TABLE])
def test_parse_table(name, data, expected):
    assert parsed(data) == expected


def test_escaping_round_trips_like_fish_writes_it():
    for command in ["a\\nb", "a\nb", "\\\\", "tab\tx", "\\", "x\\\ny"]:
        escaped = command.replace("\\", "\\\\").replace("\n", "\\n")  # fish's escape_yaml
        (entry,) = fish.parse(f"- cmd: {escaped}\n  when: 1\n".encode())
        assert entry.command == command


def test_binary_garbage_and_a_one_megabyte_command():
    items = list(fish.parse(os.urandom(4096) + b"\n- cmd: " + b"z" * (1 << 20) + b"\n"))
    assert any(isinstance(i, Problem) for i in items)
    assert isinstance(items[-1], Entry) and items[-1].command == "z" * (1 << 20)


# -- the real fish ------------------------------------------------------------------------
FISH = shutil.which("fish")
needs_fish = pytest.mark.skipif(FISH is None, reason="fish is not installed (apt install fish)")

# What is typed at the prompt (\r is Enter; inside quotes fish continues the line), and what
# fish records for it.
TYPED = [
    ("echo hi", "echo hi"),
    ("echo 'a\rb'", "echo 'a\nb'"),
    ("echo back\\\\slash", "echo back\\\\slash"),
    ("echo 'lit\\nn'", "echo 'lit\\nn'"),
    ("echo 你好 «ça» 🚀", "echo 你好 «ça» 🚀"),
    ("echo /tmp", "echo /tmp"),
    ("echo hi", "echo hi"),
]


def fish_writes_history(tmp: Path, typed: list[str]) -> Path:
    pexpect = pytest.importorskip("pexpect")
    home = tmp / "home"
    config = home / ".config" / "fish"
    config.mkdir(parents=True, exist_ok=True)
    # no greeting, a prompt we can wait for, and no first-run completion generation
    (config / "config.fish").write_text(
        "set -g fish_greeting\nfunction fish_prompt; echo -n 'READY> '; end\n"
    )
    (config / "fish_variables").write_text("SETUVAR __fish_initialized:3400\n")
    # fish's first interactive start spawns a man page parser in the background unless this
    # exists; left running, it races with the checks below
    (home / ".local/share/fish/generated_completions").mkdir(parents=True, exist_ok=True)
    child = pexpect.spawn(
        FISH, ["-i"], env=fish_env(home), encoding="utf-8", timeout=20, cwd=str(home)
    )
    try:
        child.expect("READY> ")
        for line in typed:
            child.send(line + "\r")
            child.expect("READY> ")
        child.send("exit\r")
        child.expect(pexpect.EOF)
        child.wait()  # the tty closes before fish has finished saving its history
    finally:
        child.close(force=True)
    return home / ".local/share/fish/fish_history"


def fish_env(home: Path) -> dict[str, str]:
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "TERM": "dumb",
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local/share"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "LANG": "C.UTF-8",
    }


def fish_reads(tmp: Path, newest: int) -> list[str]:
    """fish's `history search`: "<epoch> <command>" per entry, newest first, de-duplicated.

    A fish session hides entries stamped at or after its own start second (they belong to
    sessions running alongside it), so this starts fish only once the newest entry's second is
    over."""
    while time.time() < newest + 1.05:
        time.sleep(0.05)
    out = subprocess.run(
        [FISH, "-c", 'history search --null --show-time="%s "'],
        env=fish_env(tmp / "home"),
        capture_output=True,
        check=True,
        timeout=30,
    )
    return [r for r in out.stdout.decode().split("\0") if r]


@needs_fish
def test_history_written_by_fish_imports_entry_by_entry(tmp_path):
    before = int(time.time())
    histfile = fish_writes_history(tmp_path, [t for t, _ in TYPED])
    after = int(time.time())
    data = histfile.read_bytes()
    assert b"\\n" in data and b"\\\\" in data  # fish escaped the newline and the backslashes

    entries = list(fish.parse(data))
    assert all(isinstance(e, Entry) for e in entries)
    assert {e.command for e in entries} == {r for _, r in TYPED} | {"exit"}
    # the shell stamps entries with its own clock call (within a second of ours)
    assert all(before - 1 <= e.timestamp // NS <= after + 1 for e in entries)
    # fish's own reading of its file: newest first, one per command, with its time
    latest: dict[str, int] = {}
    for e in entries:  # the last occurrence of a command is the one fish shows, where it was
        latest.pop(e.command, None)
        latest[e.command] = e.timestamp // NS
    ours = [f"{t} {c}" for c, t in reversed(latest.items())]
    assert fish_reads(tmp_path, max(latest.values())) == ours

    db = tmp_path / "history.db"
    source = driver.Source("fish", histfile, "--file")
    (first,) = driver.run([source], store_path=db)
    assert (first.imported, first.present, first.skipped) == (len(entries), 0, 0)
    with Store.open(db, readonly=True) as store:
        rows = store.conn.execute(
            "SELECT command, timestamp, session, shell, source FROM history ORDER BY timestamp, id"
        ).fetchall()
    assert rows == [(e.command, e.timestamp, "import-fish", "fish", "fish") for e in entries]

    (again,) = driver.run([source], store_path=db)
    assert (again.imported, again.present) == (0, len(entries))

    # a second fish session appends its commands to the same file
    fish_writes_history(tmp_path, ["echo later"])
    # fish rewrites its file (merging sessions), so what is new is what the file now holds
    # beyond the first import: "echo later" and the second session's "exit"
    now = [e for e in fish.parse(histfile.read_bytes()) if isinstance(e, Entry)]
    old = {(e.command, e.timestamp) for e in entries}
    new = [(e.command, e.timestamp) for e in now if (e.command, e.timestamp) not in old]
    assert ("echo later" in [c for c, _ in new]) and len(now) == len(entries) + len(new)
    (grown,) = driver.run([source], store_path=db)
    assert (grown.imported, grown.present) == (len(new), len(entries))
    with Store.open(db, readonly=True) as store:
        rows = set(store.conn.execute("SELECT command, timestamp FROM history"))
    assert rows == old | set(new)
