"""zsh: a parse table of nasty input, and files written by the real zsh imported entry by entry."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from cmdai.history.entry import Entry
from cmdai.history.importers import NS, STEP_NS, Problem, driver, zsh
from cmdai.history.store import Store
from tests.importers import parsed as parsed_items


def parsed(data: bytes) -> list[tuple]:
    return parsed_items(zsh.parse(data), with_duration=True)


T = 1_700_000_000

# (name, file bytes, expected): every row is a trap zsh's files really contain, or a damaged file
TABLE = [
    ("extended", b": 1700000000:3;git status\n", [("git status", T, 3000)]),
    ("plain", b"ls -la\ncd /tmp\n", [("ls -la", 0, None), ("cd /tmp", 0, None)]),
    ("no final newline", b": 1700000000:0;ls", [("ls", T, 0)]),
    (
        "continuation",
        b": 1700000000:0;for f in *; do\\\n  echo $f\\\ndone\n",
        [("for f in *; do\n  echo $f\ndone", T, 0)],
    ),
    ("backslash before the newline", b": 1700000000:0;x\\\\\ny\n", [("x\\\ny", T, 0)]),
    (
        "command ending in a backslash gets a space",
        b": 1700000000:0;echo trail\\ \n",
        [("echo trail\\", T, 0)],
    ),
    ("command ending in backslash-space", b": 1700000000:0;echo a\\  \n", [("echo a\\ ", T, 0)]),
    ("metafied CJK", b": 1700000000:0;echo \xe4\xbd\x83\x80\xe5\xa5\xbd\n", [("echo 你好", T, 0)]),
    ("metafied path", b"ls ~/\xe9\x83\xbf\xb3\xe4\xb9\x83\xb0\n", [("ls ~/音乐", 0, None)]),
    ("command that looks like a prefix", b": 1700000000:0;: 1:2;x\n", [(": 1:2;x", T, 0)]),
    ("colon command, not extended", b": > file\n", [(": > file", 0, None)]),
    (
        "plain zsh escapes a leading colon",
        b"\\: 1:2;x\n\\:y\n",
        [(": 1:2;x", 0, None), (":y", 0, None)],
    ),
    ("extended zsh does not", b": 1700000000:0;\\:x\n", [("\\:x", T, 0)]),
    ("non-numeric metadata stays a command", b": foo:bar;baz\n", [(": foo:bar;baz", 0, None)]),
    ("negative elapsed", b": 1700000000:-5;sleep 1\n", [("sleep 1", T, None)]),
    ("semicolons in the command", b": 1700000000:10;a; b; c\n", [("a; b; c", T, 10000)]),
    (
        "invalid UTF-8",
        b": 1700000000:0;ok\n: 1700000001:0;cat caf\xe9\n",
        [("ok", T, 0), ("!", 2, "not valid UTF-8 (byte 0xe9 at column 23)")],
    ),
    (
        "invalid UTF-8 in a continuation line",
        b"echo a\\\nb\xff\nls\n",
        [("!", 2, "not valid UTF-8 (byte 0xff at column 2)"), ("ls", 0, None)],
    ),
    (
        "Meta byte ending a line",
        b"echo \x83\nls\n",
        [
            ("!", 1, "zsh Meta byte (0x83) at the end of a line (truncated write? at column 6)"),
            ("ls", 0, None),
        ],
    ),
    (
        "NUL byte",
        b"ls\x00rm\nok\n",
        [("!", 1, "contains a NUL byte (binary data? at column 3)"), ("ok", 0, None)],
    ),
    (
        "timestamp overflow",
        b": 99999999999999999999:0;boom\n: 1700000000:0;ok\n",
        [("!", 1, "timestamp 99999999999999999999 out of range"), ("ok", T, 0)],
    ),
    ("empty file", b"", []),
    ("blank lines", b"\n\n   \n", []),
    (
        "truncated in a continuation",
        b": 1700000000:0;echo a\\\necho b\\",
        [("echo a\necho b", T, 0)],
    ),
    ("CRLF kept (zsh keeps it too)", b": 1700000000:0;ls\r\n", [("ls\r", T, 0)]),
]


@pytest.mark.parametrize("name,data,expected", TABLE, ids=[t[0] for t in TABLE])
def test_parse_table(name, data, expected):
    assert parsed(data) == expected


def test_untimed_entries_sit_before_the_first_known_time_in_file_order():
    entries = [e for e in zsh.parse(b"a\nb\n: 1700000000:0;c\nd\n") if isinstance(e, Entry)]
    assert [e.command for e in entries] == ["a", "b", "c", "d"]
    times = [e.timestamp for e in entries]
    assert times == sorted(times) and len(set(times)) == 4
    assert times[1] < T * NS == times[2] < times[3] < (T + 1) * NS


def test_same_command_in_the_same_second_stays_two_entries():
    entries = list(zsh.parse(b": 1700000000:0;ls\n: 1700000000:0;ls\n: 1699999999:0;ls\n"))
    assert [e.timestamp for e in entries] == [T * NS, T * NS + STEP_NS, (T - 1) * NS]
    assert len({e.dedup_key() for e in entries}) == 3


def test_entries_remember_their_source():
    (entry,) = zsh.parse(b": 1700000000:0;ls\n")
    assert (entry.session, entry.shell, entry.source) == ("import-zsh", "zsh", "zsh")


def test_binary_garbage_never_raises_and_every_row_is_accounted_for():
    garbage = bytes(range(256)) * 64 + b"\n" + os.urandom(4096)
    items = list(zsh.parse(garbage))
    assert items  # reported, not silently empty
    assert all(isinstance(i, (Entry, Problem)) for i in items)


def test_a_one_megabyte_line_is_one_entry():
    big = "x" * (1 << 20)
    (entry,) = zsh.parse(f": 1700000000:0;echo {big}\n".encode())
    assert entry.command == f"echo {big}"


def test_fast_and_slow_paths_agree():
    """The whole-file decode and the per-line decode give the same entries on valid input."""
    clean = b"".join(row[1] for row in TABLE if not any(e[0] == "!" for e in row[2]))
    fast = list(zsh.parse(clean))
    slow = [e for e in zsh.parse(clean + b"\xff\n") if isinstance(e, Entry)]
    assert slow == fast


# -- the real zsh -------------------------------------------------------------------------
ZSH = shutil.which("zsh")
needs_zsh = pytest.mark.skipif(ZSH is None, reason="zsh is not installed (apt install zsh)")

NASTY = [
    "echo hi",
    "echo a\necho b",
    "echo 你好 ü 🚀",
    "ls ~/音乐",
    "echo trail\\",
    "echo trail2\\\\",
    "x\\\ny",
    "echo trailspace\\ ",
    ": 123:0;fake",
    "echo 'tab\there'",
    'for f in *.log; do\n  gzip "$f"\ndone',
    "echo hi",  # again, same second
    "echo $'\\x83 meta'",
]


def run_zsh(
    tmp: Path, script: str, commands: list[str] | None = None
) -> subprocess.CompletedProcess:
    """Run SCRIPT in an interactive zsh (history is only written when interactive) with no rc
    files and HOME/ZDOTDIR in TMP; COMMANDS are passed NUL-separated in the file $CMDS."""
    home = tmp / "home"
    home.mkdir(exist_ok=True)
    cmds = tmp / "cmds"
    cmds.write_bytes(b"".join(c.encode() + b"\0" for c in commands or []))
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "ZDOTDIR": str(home),
        "TERM": "dumb",
        "CMDS": str(cmds),
    }
    return subprocess.run(
        [ZSH, "-f", "-i", "-c", script], env=env, capture_output=True, timeout=30, check=True
    )


WRITE = r"""
HISTFILE=$HOME/.zsh_history SAVEHIST=1000 HISTSIZE=1000
{extended}
for c in "${{(@0)$(<$CMDS)}}"; do [[ -n $c ]] && print -rs -- "$c"; done
fc -{mode}
"""

# zsh's own reading of a history file: the commands NUL-separated, then one time per event
READ = r"""
HISTSIZE=1000
fc -R $HOME/.zsh_history
for n in {1..$HISTCMD}; do print -rn -- "$history[$n]"; print -n '\0'; done
print -n '\0'
fc -lt %s 1 | while read -r n t rest; do print -r -- $t; done
"""


def zsh_reads(tmp: Path) -> tuple[list[str], list[int]]:
    out = run_zsh(tmp, READ).stdout
    commands, _, times = out.partition(b"\0\0")
    return commands.decode().split("\0") if commands else [], [int(t) for t in times.split()]


@needs_zsh
@pytest.mark.parametrize("extended", [True, False], ids=["extended", "plain"])
def test_file_written_by_zsh_parses_as_zsh_reads_it(tmp_path, extended):
    before = int(time.time())
    run_zsh(
        tmp_path,
        WRITE.format(extended="setopt EXTENDED_HISTORY" if extended else "", mode="W"),
        NASTY,
    )
    after = int(time.time())
    histfile = tmp_path / "home" / ".zsh_history"
    data = histfile.read_bytes()
    assert b"\x83" in data  # zsh metafied the non-ASCII commands: the test covers unmetafy

    entries = list(zsh.parse(data))
    assert all(isinstance(e, Entry) for e in entries)
    want_commands, want_times = zsh_reads(tmp_path)
    assert [e.command for e in entries] == want_commands == NASTY
    if extended:
        assert [e.timestamp // NS for e in entries] == want_times
        assert all(before - 1 <= e.timestamp // NS <= after + 1 for e in entries)
        assert all(e.duration_ms == 0 for e in entries)
    else:
        assert all(e.timestamp < NS for e in entries)  # no known time: before any real one
    times = [e.timestamp for e in entries]
    assert times == sorted(times) and len(set(times)) == len(times)


def stored(db: Path) -> list[tuple]:
    with Store.open(db, readonly=True) as store:
        return store.conn.execute(
            "SELECT command, timestamp, duration, session, shell, source FROM history"
            " ORDER BY timestamp, id"
        ).fetchall()


@needs_zsh
def test_import_of_a_real_zsh_file_is_faithful_idempotent_and_incremental(tmp_path):
    run_zsh(tmp_path, WRITE.format(extended="setopt EXTENDED_HISTORY", mode="W"), NASTY)
    histfile = tmp_path / "home" / ".zsh_history"
    db = tmp_path / "history.db"
    source = driver.Source("zsh", histfile, "--file")

    (first,) = driver.run([source], store_path=db)
    assert (first.read, first.imported, first.present, first.skipped) == (13, 13, 0, 0)
    rows = stored(db)
    assert [r[0] for r in rows] == NASTY
    expected = [
        (e.command, e.timestamp, e.duration_ms, e.session, e.shell, e.source)
        for e in zsh.parse(histfile.read_bytes())
    ]
    assert rows == expected

    (again,) = driver.run([source], store_path=db)
    assert (again.imported, again.present) == (0, 13)
    assert stored(db) == expected

    # a later zsh appends two more commands to the same file (fc -A, as on exit)
    before = histfile.read_bytes()
    run_zsh(
        tmp_path,
        WRITE.format(extended="setopt EXTENDED_HISTORY", mode="A"),
        ["echo appended 1", "echo hi"],
    )
    assert histfile.read_bytes().startswith(before) and histfile.read_bytes() != before
    (grown,) = driver.run([source], store_path=db)
    assert (grown.imported, grown.present) == (2, 13)
    assert [r[0] for r in stored(db)][-2:] == ["echo appended 1", "echo hi"]
    assert stored(db)[:13] == expected
