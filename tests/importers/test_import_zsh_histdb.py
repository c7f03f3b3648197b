"""zsh-histdb: its SQLite schema (from zsh-histdb's sqlite-history.zsh), imported read-only."""

from __future__ import annotations

from pathlib import Path

import apsw

from cmdai.history.importers import NS, STEP_NS, Problem, driver, zsh_histdb
from cmdai.history.store import Store

SCHEMA = """
create table commands (id integer primary key autoincrement, argv text,
                       unique(argv) on conflict ignore);
create table places   (id integer primary key autoincrement, host text, dir text,
                       unique(host, dir) on conflict ignore);
create table history  (id integer primary key autoincrement,
                       session int,
                       command_id int references commands (id),
                       place_id int references places (id),
                       exit_status int,
                       start_time int,
                       duration int);
create index hist_time on history(start_time);
create index place_dir on places(dir);
create index place_host on places(host);
create index history_command_place on history(command_id, place_id);
"""


def make_db(path: Path) -> Path:
    conn = apsw.Connection(str(path))
    conn.execute(SCHEMA)
    with conn:
        conn.execute(
            "insert into commands values (1, 'pwd'), (2, 'curl example.com'),"
            " (3, 'echo 你好'), (4, X'6361742066ff')"
        )
        conn.execute("insert into places values (1, 'mbp16.local', '/home/noyez')")
        conn.execute(
            "insert into history values (1, 0, 1, 1, 0, 1651497918, 1),"
            " (2, 0, 2, 1, 7, 1651497918, 1), (3, 1, 3, 1, NULL, 1651497930, NULL),"
            " (4, 1, 4, 1, 0, 1651497931, 0), (5, 1, 99, 1, 0, 1651497932, 0),"
            " (6, 1, 1, 1, 0, 1651497918, 0)"
        )
    conn.close()
    return path


def test_parse_rows():
    rows = [
        (1, 100, 2, 0, 0, b"ls", b"h", b"/d"),
        (2, 100, None, None, 0, b"ls", b"h", b"/d"),
        (3, None, 0, 0, 0, b"x", b"h", b"/d"),
        (4, 101, 0, 0, 0, None, None, None),
    ]
    items = list(zsh_histdb.parse(rows))
    assert [(p.line, p.reason) for p in items if isinstance(p, Problem)] == [
        (3, "bad start_time None"),
        (4, "no command (its commands row is missing)"),
    ]
    a, b = [e for e in items if not isinstance(e, Problem)]
    assert (a.timestamp, b.timestamp) == (100 * NS, 100 * NS + STEP_NS)
    assert (a.duration_ms, a.exit, a.cwd, a.hostname, a.session) == (
        2000,
        0,
        "/d",
        "h",
        "zsh-histdb-0",
    )
    assert (b.duration_ms, b.exit) == (None, None)


def test_import_histdb(tmp_path):
    db = make_db(tmp_path / "zsh-history.db")
    before = db.read_bytes()
    ours = tmp_path / "cmdai.db"
    source = driver.Source("zsh-histdb", db, "--file")
    (result,) = driver.run([source], store_path=ours)
    assert db.read_bytes() == before  # read-only, and no journal files left next to it
    assert [p.name for p in tmp_path.iterdir() if not p.name.startswith("cmdai")] == [db.name]
    assert (result.read, result.imported, result.present) == (6, 4, 0)
    assert sorted((p.line, p.reason) for p in result.problems) == [
        (4, "not valid UTF-8 (byte 0xff at column 6)"),
        (5, "no command (its commands row is missing)"),
    ]
    with Store.open(ours, readonly=True) as store:
        rows = store.conn.execute(
            "SELECT command, timestamp, duration, exit, cwd, hostname, session, shell, source"
            " FROM history ORDER BY timestamp, id"
        ).fetchall()
    t = 1651497918 * NS
    assert rows == [
        ("pwd", t, 1000, 0, "/home/noyez", "mbp16.local", "zsh-histdb-0", "zsh", "zsh-histdb"),
        (
            "curl example.com",
            t + STEP_NS,
            1000,
            7,
            "/home/noyez",
            "mbp16.local",
            "zsh-histdb-0",
            "zsh",
            "zsh-histdb",
        ),
        (
            "pwd",
            t + 2 * STEP_NS,
            0,
            0,
            "/home/noyez",
            "mbp16.local",
            "zsh-histdb-1",
            "zsh",
            "zsh-histdb",
        ),
        (
            "echo 你好",
            1651497930 * NS,
            None,
            None,
            "/home/noyez",
            "mbp16.local",
            "zsh-histdb-1",
            "zsh",
            "zsh-histdb",
        ),
    ]
    (again,) = driver.run([source], store_path=ours)
    assert (again.imported, again.present) == (0, 4)
