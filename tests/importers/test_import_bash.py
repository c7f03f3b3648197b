"""bash: a parse table of nasty input, and files written by the real bash (``history -w`` with
HISTTIMEFORMAT) imported and compared entry by entry."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from cmdai.history.entry import Entry
from cmdai.history.importers import NS, STEP_NS, Problem, bash, driver
from cmdai.history.store import Store
from tests.importers import parsed as parsed_items

T = 1_700_000_000


def parsed(data: bytes) -> list[tuple]:
    return parsed_items(bash.parse(data))


TABLE = [
    ("plain", b"ls\ncd /tmp\n", [("ls", 0), ("cd /tmp", 0)]),
    ("timestamps", b"#1700000000\nls\n#1700000005\npwd\n", [("ls", T), ("pwd", T + 5)]),
    (
        "multi-line entry between timestamps (lithist)",
        b"#1700000000\nfor f in *; do\n  echo $f\ndone\n#1700000001\nls\n",
        [("for f in *; do\n  echo $f\ndone", T), ("ls", T + 1)],
    ),
    (
        "untimed lines before the first timestamp are one entry each",
        b"old1\nold2\n#1700000000\nnew\n",
        [("old1", T - 1), ("old2", T - 1), ("new", T)],
    ),
    (
        "no timestamp on the first line: every line is a command (as bash reads it)",
        b"ls\n#1700000000\nfor f in *; do\ndone\n",
        [("ls", T - 1), ("for f in *; do", T), ("done", T)],
    ),
    (
        "a comment the user typed is a command",
        b"#1700000000\n# just a note\n",
        [("# just a note", T)],
    ),
    (
        "#digits right after a timestamp is a command",
        b"#1700000000\n#12345\n#1700000001\nls\n",
        [("#12345", T), ("ls", T + 1)],
    ),
    ("#digits with text is a command", b"#123 abc\n", [("#123 abc", 0)]),
    ("timestamp with CR", b"#1700000000\r\nls\n", [("ls", T)]),
    (
        "timestamp overflow keeps the command, untimed",
        b"#1700000000\nls\n#99999999999999999999999\npwd\n",
        [("ls", T), ("!", 3, "timestamp 99999999999999999999999 out of range"), ("pwd", T)],
    ),
    (
        "huge digit run",
        b"#" + b"9" * 5000 + b"\nls\n",
        [("!", 1, "timestamp " + "9" * 30 + "... out of range"), ("ls", 0)],
    ),
    (
        "invalid UTF-8",
        b"ls\ncat \xff\xfe\npwd\n",
        [("ls", 0), ("!", 2, "not valid UTF-8 (byte 0xff at column 5)"), ("pwd", 0)],
    ),
    (
        "invalid UTF-8 on the second line of an entry",
        b"#1700000000\necho a\necho \xe9\n",
        [("!", 3, "not valid UTF-8 (byte 0xe9 at column 6)")],
    ),
    (
        "NUL byte",
        b"a\x00b\nc\n",
        [("!", 1, "contains a NUL byte (binary data? at column 2)"), ("c", 0)],
    ),
    ("non-ASCII", "echo «ça» 你好 🚀\n".encode(), [("echo «ça» 你好 🚀", 0)]),
    ("no final newline", b"#1700000000\nls", [("ls", T)]),
    ("truncated after a timestamp", b"#1700000000\nls\n#1700000001\n", [("ls", T)]),
    ("blank lines are not commands", b"\n  \nls\n\n", [("ls", 0)]),
    (
        "trailing blank lines of an entry are dropped",
        b"#1700000000\nls\n\n\n#1700000001\npwd\n",
        [("ls", T), ("pwd", T + 1)],
    ),
    ("empty file", b"", []),
]


@pytest.mark.parametrize("name,data,expected", TABLE, ids=[t[0] for t in TABLE])
def test_parse_table(name, data, expected):
    assert parsed(data) == expected


def test_untimed_file_keeps_order_with_distinct_times():
    entries = list(bash.parse(b"a\nb\na\n"))
    assert [e.timestamp for e in entries] == [STEP_NS, 2 * STEP_NS, 3 * STEP_NS]
    assert len({e.dedup_key() for e in entries}) == 3


def test_appending_never_moves_earlier_entries():
    data = b"old\n#1700000000\nls\n#1700000000\nls\n"
    more = data + b"#1700000000\nls\n#1700000002\nnew\n"
    first, grown = list(bash.parse(data)), list(bash.parse(more))
    assert grown[: len(first)] == first
    assert len({e.dedup_key() for e in grown}) == len(grown) == 5


def test_binary_garbage_and_a_one_megabyte_line():
    items = list(bash.parse(os.urandom(8192) + b"\n" + b"y" * (1 << 20) + b"\n"))
    assert all(isinstance(i, (Entry, Problem)) for i in items)
    assert items[-1] == Entry(
        "y" * (1 << 20), items[-1].timestamp, "import-bash", shell="bash", source="bash"
    )


# -- the real bash ------------------------------------------------------------------------
BASH = shutil.which("bash")
needs_bash = pytest.mark.skipif(BASH is None, reason="bash is not installed")

NASTY = [
    "echo hi",
    "echo a\necho b",
    'for f in *.log; do\n  gzip "$f"\n\ndone',
    "echo 你好 «ça» 🚀",
    "# a comment",
    "#12345",
    "echo trail\\",
    "echo 'tab\there'",
    "echo hi",
    ": 1700000000:0;looks like zsh",
]

# bash records commands with `history -s`, stamped with the current time, and writes the file
# with `history -w` (or appends with `history -a`); HISTTIMEFORMAT makes it write #<epoch> lines
# and lithist keeps multi-line commands multi-line.
SCRIPT = r"""
HISTFILE=$HOME/.bash_history HISTSIZE=1000 HISTFILESIZE=1000
{timeformat}
shopt -s lithist cmdhist
# one line: it is read before `set -o history` runs, so bash does not record it as a command
set -o history; while IFS= read -r -d '' c; do history -s -- "$c"; done < "$CMDS"; history -{mode}; unset HISTFILE
"""


def run_bash(tmp: Path, commands: list[str], mode: str = "w", timestamps: bool = True) -> Path:
    home = tmp / "home"
    home.mkdir(exist_ok=True)
    cmds = tmp / "cmds"
    cmds.write_bytes(b"".join(c.encode() + b"\0" for c in commands))
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "CMDS": str(cmds)}
    script = SCRIPT.format(timeformat="HISTTIMEFORMAT='%F %T '" if timestamps else "", mode=mode)
    subprocess.run(
        [BASH, "--norc", "--noprofile", "-c", script],
        env=env,
        check=True,
        capture_output=True,
        timeout=30,
    )
    return home / ".bash_history"


def stored(db: Path) -> list[tuple]:
    with Store.open(db, readonly=True) as store:
        return store.conn.execute(
            "SELECT command, timestamp, session, shell, source FROM history ORDER BY timestamp, id"
        ).fetchall()


@needs_bash
def test_file_written_by_bash_parses_entry_by_entry(tmp_path):
    before = int(time.time())
    histfile = run_bash(tmp_path, NASTY)
    after = int(time.time())
    assert histfile.read_bytes().count(b"\n#") >= len(NASTY) - 1  # bash wrote its #<epoch> lines
    entries = list(bash.parse(histfile.read_bytes()))
    assert [e.command for e in entries] == NASTY
    assert all(before - 1 <= e.timestamp // NS <= after + 1 for e in entries)
    times = [e.timestamp for e in entries]
    assert times == sorted(times) and len(set(times)) == len(times)


@needs_bash
def test_plain_file_written_by_bash(tmp_path):
    # without timestamps bash itself reads "#12345" as a timestamp, and splits multi-line ones
    one_line = [c for c in NASTY if "\n" not in c and c != "#12345"]
    histfile = run_bash(tmp_path, one_line, timestamps=False)
    assert not re.search(rb"^#\d{10}$", histfile.read_bytes(), re.MULTILINE)  # no #<epoch> lines
    assert [e.command for e in bash.parse(histfile.read_bytes())] == one_line


@needs_bash
def test_import_is_faithful_idempotent_and_incremental(tmp_path):
    histfile = run_bash(tmp_path, NASTY)
    db = tmp_path / "history.db"
    source = driver.Source("bash", histfile, "--file")
    (first,) = driver.run([source], store_path=db)
    assert (first.read, first.imported, first.present, first.skipped) == (10, 10, 0, 0)
    expected = [
        (e.command, e.timestamp, e.session, e.shell, e.source)
        for e in bash.parse(histfile.read_bytes())
    ]
    assert stored(db) == expected

    (again,) = driver.run([source], store_path=db)
    assert (again.imported, again.present) == (0, 10)

    before = histfile.read_bytes()
    run_bash(tmp_path, ["echo later", "echo hi"], mode="a")  # history -a appends the new ones
    assert histfile.read_bytes().startswith(before) and histfile.read_bytes() != before
    (grown,) = driver.run([source], store_path=db)
    assert (grown.imported, grown.present) == (2, 10)
    assert stored(db)[:10] == expected
    assert [r[0] for r in stored(db)[10:]] == ["echo later", "echo hi"]
