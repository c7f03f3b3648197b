"""atuin's ``history.db`` (SQLite), opened read-only.

atuin's ``history`` table (``crates/atuin-client/migrations``): ``id`` text, ``timestamp`` and
``duration`` in nanoseconds, ``exit``, ``command``, ``cwd``, ``session``, ``hostname`` as
``host:user``; later versions add ``deleted_at``, ``author``, ``intent`` and ``shell``. atuin
writes -1 for an unknown exit or duration and ``unknown`` for an unknown cwd (its own imports).
Entries keep atuin's session, so they are the same entries on every import.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from cmdai.history.entry import Entry
from cmdai.history.importers import Problem, decode

NAME = "atuin"
KIND = "sqlite"
TABLE = "history"

_REQUIRED = ("timestamp", "duration", "exit", "command", "cwd", "session", "hostname")


def candidates(env: Mapping[str, str], home: Path) -> list[tuple[Path, str]]:
    found: list[tuple[Path, str]] = []
    if env.get("ATUIN_DB_PATH"):  # atuin's own override of db_path
        found.append((Path(env["ATUIN_DB_PATH"]).expanduser(), "$ATUIN_DB_PATH"))
    data = env.get("XDG_DATA_HOME")
    base = Path(data) if data and Path(data).is_absolute() else home / ".local" / "share"
    found.append((base / "atuin" / "history.db", "$XDG_DATA_HOME" if data else "default"))
    return found


def columns(conn: Any) -> set[str]:
    return {row[1] for row in conn.execute(f"PRAGMA table_info({TABLE})")}


def missing_columns(conn: Any) -> list[str]:
    have = columns(conn)
    return [c for c in _REQUIRED if c not in have]


def estimate(conn: Any) -> int:
    return conn.execute(f"SELECT count(*) FROM {TABLE}").fetchall()[0][0]


def read_rows(conn: Any) -> Iterator[tuple[Any, ...]]:
    """The rows ``parse`` takes, text as bytes (so bad UTF-8 is reported, not guessed)."""
    have = columns(conn)
    deleted = "deleted_at" if "deleted_at" in have else "NULL"
    shell = "shell" if "shell" in have else "NULL"
    yield from conn.execute(
        "SELECT rowid, timestamp, duration, exit, CAST(command AS BLOB), CAST(cwd AS BLOB),"
        f" session, CAST(hostname AS BLOB), {deleted}, {shell} FROM {TABLE} ORDER BY rowid"
    )


def _text(value: Any, line: int) -> str | Problem | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        text = decode(value, line)
        return Problem(line, text.reason) if isinstance(text, Problem) else text
    return str(value)


def parse(rows: Iterable[tuple[Any, ...]]) -> Iterator[Entry | Problem]:
    """Entries and problems from ``read_rows`` (rowid, timestamp, duration, exit, command, cwd,
    session, hostname, deleted_at, shell)."""
    for rowid, ts, duration, exit_, command, cwd, session, hostname, deleted_at, shell in rows:
        if deleted_at is not None:
            yield Problem(rowid, "deleted in atuin")
            continue
        if not isinstance(ts, int) or ts < 0:
            yield Problem(rowid, f"bad timestamp {ts!r}")
            continue
        text = _text(command, rowid)
        if isinstance(text, Problem):
            yield text
            continue
        if not text or not text.strip():
            yield Problem(rowid, "empty command")
            continue
        where = _text(cwd, rowid)
        if isinstance(where, Problem) or where in ("", "unknown"):
            where = None  # a bad cwd is not a reason to lose the command
        host = _text(hostname, rowid)
        host = host.rpartition(":")[0] or host if isinstance(host, str) else ""
        yield Entry(
            command=text,
            timestamp=ts,
            session=str(session) if session is not None else "atuin",
            duration_ms=duration // 1_000_000
            if isinstance(duration, int) and duration >= 0
            else None,
            exit=exit_ if isinstance(exit_, int) and exit_ != -1 else None,
            cwd=where,
            hostname=host,
            shell=shell if isinstance(shell, str) else "",
            source=NAME,
        )
