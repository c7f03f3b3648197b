"""zsh-histdb's SQLite database (``$HISTDB_FILE``, default ``~/.histdb/zsh-history.db``).

Schema (zsh-histdb's ``sqlite-history.zsh``): ``commands(id, argv)``, ``places(id, host, dir)``,
``history(id, session, command_id, place_id, exit_status, start_time, duration)`` with times in
seconds. Commands sharing a second get distinct nanoseconds in ``history.id`` order.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from cmdai.history.entry import Entry
from cmdai.history.importers import MAX_SECONDS, Problem, Timeline, decode

NAME = "zsh-histdb"
KIND = "sqlite"
TABLE = "history"

_REQUIRED = ("id", "session", "command_id", "place_id", "exit_status", "start_time", "duration")


def candidates(env: Mapping[str, str], home: Path) -> list[tuple[Path, str]]:
    found: list[tuple[Path, str]] = []
    if env.get("HISTDB_FILE"):
        found.append((Path(env["HISTDB_FILE"]).expanduser(), "$HISTDB_FILE"))
    found.append((home / ".histdb" / "zsh-history.db", "default"))
    return found


def missing_columns(conn: Any) -> list[str]:
    have = {row[1] for row in conn.execute(f"PRAGMA table_info({TABLE})")}
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    return [c for c in _REQUIRED if c not in have] + [
        f"table {t}" for t in ("commands", "places") if t not in tables
    ]


def estimate(conn: Any) -> int:
    return conn.execute(f"SELECT count(*) FROM {TABLE}").fetchall()[0][0]


def read_rows(conn: Any) -> Iterator[tuple[Any, ...]]:
    yield from conn.execute(
        "SELECT h.id, h.start_time, h.duration, h.exit_status, h.session,"
        " CAST(c.argv AS BLOB), CAST(p.host AS BLOB), CAST(p.dir AS BLOB)"
        " FROM history h LEFT JOIN commands c ON c.id = h.command_id"
        " LEFT JOIN places p ON p.id = h.place_id ORDER BY h.id"
    )


def parse(rows: Iterable[tuple[Any, ...]]) -> Iterator[Entry | Problem]:
    """Entries and problems from ``read_rows`` (id, start_time, duration, exit_status, session,
    argv, host, dir)."""
    timeline = Timeline()
    for rowid, start, duration, exit_, session, argv, host, cwd in rows:
        if argv is None:
            yield Problem(rowid, "no command (its commands row is missing)")
            continue
        if not isinstance(start, int) or not 0 <= start <= MAX_SECONDS:
            yield Problem(rowid, f"bad start_time {start!r}")
            continue
        text = decode(argv, rowid) if isinstance(argv, bytes) else str(argv)
        if isinstance(text, Problem):
            yield Problem(rowid, text.reason)
            continue
        if not text.strip():
            yield Problem(rowid, "empty command")
            continue
        where = decode(cwd, rowid) if isinstance(cwd, bytes) else cwd
        hostname = decode(host, rowid) if isinstance(host, bytes) else host
        ts = timeline.place(start)
        assert ts is not None
        yield Entry(
            command=text,
            timestamp=ts,
            session=f"zsh-histdb-{session}",
            duration_ms=duration * 1000 if isinstance(duration, int) and duration >= 0 else None,
            exit=exit_ if isinstance(exit_, int) else None,
            cwd=where if isinstance(where, str) and where else None,
            hostname=hostname if isinstance(hostname, str) else "",
            shell="zsh",
            source=NAME,
        )
