"""atuin: a history.db with atuin's real schema, imported read-only and idempotently."""

from __future__ import annotations

import hashlib
from pathlib import Path

import apsw
import pytest

from cmdai.errors import HistoryImportError
from cmdai.history.importers import Problem, atuin, driver
from cmdai.history.store import Store

# atuin's migrations, verbatim in substance: 20210422143411_create_history.sql, then
# 20230319185725_deleted_at.sql; newer atuins add author, intent and shell columns.
CREATE = """
create table if not exists history (
    id text primary key,
    timestamp integer not null,
    duration integer not null,
    exit integer not null,
    command text not null,
    cwd text not null,
    session text not null,
    hostname text not null,

    unique(timestamp, cwd, command)
);
create index if not exists idx_history_timestamp on history(timestamp);
create index if not exists idx_history_command on history(command);
"""
DELETED_AT = "alter table history add column deleted_at integer;"
NEWER = (
    "alter table history add column author text; alter table history add column intent text;"
    " alter table history add column shell text;"
)

S = "0190f7d3a1b47c3e8f5d2a6b9c1e4f70"
ROWS = [
    # id, timestamp (ns), duration (ns), exit, command, cwd, session, hostname
    ("a1", 1_700_000_000_123_456_789, 1_500_000_000, 0, "cargo build", "/src/app", S, "box:me"),
    ("a2", 1_700_000_001_000_000_000, 2_000_000, 101, "cargo test\n--all", "/src/app", S, "box:me"),
    ("a3", 1_700_000_002_000_000_000, -1, -1, "echo 你好", "unknown", "imported", "box:me"),
    ("a4", 1_700_000_003_000_000_000, 0, 0, "ls", "/", "s2", "other-host:you"),
]


def make_db(path: Path, *, deleted_at: bool = True, newer: bool = False) -> Path:
    conn = apsw.Connection(str(path))
    conn.execute("PRAGMA journal_mode=WAL").fetchall()  # as atuin runs it
    conn.execute(CREATE)
    if deleted_at:
        conn.execute(DELETED_AT)
    if newer:
        conn.execute(NEWER)
    with conn:
        for row in ROWS:
            conn.execute(
                "insert into history (id, timestamp, duration, exit, command, cwd,"
                " session, hostname) values (?,?,?,?,?,?,?,?)",
                row,
            )
    conn.close()
    return path


def digest(directory: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.iterdir())}


def test_parse_maps_atuin_fields():
    rows = [
        (1, 5_000_000_000, 3_000_000, 2, b"make", b"/w", "s", b"host:user", None, "zsh"),
        (2, 6_000_000_000, -1, -1, b"ls", b"unknown", "s", b"host:user", None, None),
        (3, 7_000_000_000, 0, 0, b"rm secret", b"/", "s", b"h:u", 123, None),
        (4, 8_000_000_000, 0, 0, b"cat \xff", b"/", "s", b"h:u", None, None),
        (5, 9_000_000_000, 0, 0, b"   ", b"/", "s", b"h:u", None, None),
        (6, None, 0, 0, b"x", b"/", "s", b"h:u", None, None),
        (7, 10_000_000_000, 0, 0, b"pwd", b"/bad\xff", "s", b"nocolon", None, None),
    ]
    items = list(atuin.parse(rows))
    problems = [(p.line, p.reason) for p in items if isinstance(p, Problem)]
    entries = [e for e in items if not isinstance(e, Problem)]
    assert problems == [
        (3, "deleted in atuin"),
        (4, "not valid UTF-8 (byte 0xff at column 5)"),
        (5, "empty command"),
        (6, "bad timestamp None"),
    ]
    make, ls, pwd = entries
    assert (
        make.command,
        make.timestamp,
        make.duration_ms,
        make.exit,
        make.cwd,
        make.hostname,
        make.shell,
        make.session,
        make.source,
    ) == ("make", 5_000_000_000, 3, 2, "/w", "host", "zsh", "s", "atuin")
    assert (ls.duration_ms, ls.exit, ls.cwd) == (None, None, None)  # atuin's "unknown" markers
    assert (pwd.cwd, pwd.hostname) == (None, "nocolon")


@pytest.mark.parametrize(
    "deleted_at,newer",
    [(False, False), (True, False), (True, True)],
    ids=["2021-schema", "with-deleted_at", "newest-schema"],
)
def test_import_atuin_db_read_only_and_idempotent(tmp_path, deleted_at, newer):
    atuin_dir = tmp_path / "atuin"
    atuin_dir.mkdir()
    db = make_db(atuin_dir / "history.db", deleted_at=deleted_at, newer=newer)
    if deleted_at:
        conn = apsw.Connection(str(db))
        conn.execute("update history set deleted_at = 1 where id = 'a4'")
        conn.close()
    before = digest(atuin_dir)
    ours = tmp_path / "cmdai.db"
    source = driver.Source("atuin", db, "--file")

    (result,) = driver.run([source], store_path=ours)
    assert digest(atuin_dir) == before  # not a byte changed, no -wal/-shm left behind
    kept = 3 if deleted_at else 4
    assert (result.read, result.imported, result.present, result.skipped) == (4, kept, 0, 4 - kept)

    with Store.open(ours, readonly=True) as store:
        got = store.conn.execute(
            "SELECT command, timestamp, duration, exit, cwd, session, hostname, source"
            " FROM history ORDER BY timestamp"
        ).fetchall()
    assert got[:3] == [
        ("cargo build", 1_700_000_000_123_456_789, 1500, 0, "/src/app", S, "box", "atuin"),
        ("cargo test\n--all", 1_700_000_001_000_000_000, 2, 101, "/src/app", S, "box", "atuin"),
        ("echo 你好", 1_700_000_002_000_000_000, None, None, None, "imported", "box", "atuin"),
    ]

    (again,) = driver.run([source], store_path=ours)
    assert (again.imported, again.present) == (0, kept)
    assert digest(atuin_dir) == before


def test_rows_still_in_atuins_wal_are_imported(tmp_path):
    """While atuin has the database open, committed rows may live in history.db-wal only."""
    db = make_db(tmp_path / "history.db")
    writer = apsw.Connection(str(db))
    writer.execute("PRAGMA wal_autocheckpoint=0").fetchall()
    writer.execute(
        "insert into history values ('a5', 1800000000000000000, 0, 0, 'in the wal',"
        " '/', 's', 'box:me', null)"
    )
    try:
        assert (tmp_path / "history.db-wal").stat().st_size > 0
        (result,) = driver.run(
            [driver.Source("atuin", db, "--file")], store_path=tmp_path / "cmdai.db"
        )
        assert result.imported == 5
        with Store.open(tmp_path / "cmdai.db", readonly=True) as store:
            assert store.search_prefix("in the wal")[0].timestamp == 1_800_000_000 * 10**9
    finally:
        writer.close()


def test_dry_run_stores_nothing(tmp_path):
    db = make_db(tmp_path / "history.db")
    ours = tmp_path / "cmdai.db"
    (result,) = driver.run([driver.Source("atuin", db, "--file")], store_path=ours, dry_run=True)
    assert (result.imported, result.present) == (4, 0)
    assert not ours.exists()


def test_not_an_atuin_database(tmp_path):
    other = tmp_path / "other.db"
    conn = apsw.Connection(str(other))
    conn.execute("create table history (id integer, what text)")
    conn.close()
    with pytest.raises(HistoryImportError, match="does not look like atuin's database"):
        driver.run([driver.Source("atuin", other, "--file")], store_path=tmp_path / "c.db")
    text = tmp_path / "history.txt"
    text.write_text("ls\n")
    with pytest.raises(HistoryImportError, match="not a readable SQLite database"):
        driver.run([driver.Source("atuin", text, "--file")], store_path=tmp_path / "c.db")
