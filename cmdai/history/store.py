"""The history store: one SQLite file through APSW, WAL, FTS5 kept in sync by triggers.

Migrations are append-only: never edit one that has shipped, add a new one at the end. The
schema version lives in ``PRAGMA user_version``; each migration runs in its own transaction.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import apsw

from cmdai import paths
from cmdai.errors import StoreError
from cmdai.history.entry import COMMAND, SESSION, Entry, Row, dedup_key

MIGRATIONS: list[str] = [
    # 1: the history table, its indexes, and a trigram FTS5 index (substring search)
    """
    CREATE TABLE history (
        id          INTEGER PRIMARY KEY,
        timestamp   INTEGER NOT NULL,          -- start, ns since the epoch, UTC
        duration    INTEGER,                   -- ms; NULL when unknown (imports)
        exit        INTEGER,                   -- NULL when unknown
        command     TEXT    NOT NULL,
        cwd         TEXT,
        session     TEXT    NOT NULL,
        hostname    TEXT    NOT NULL DEFAULT '',
        shell       TEXT    NOT NULL DEFAULT '',
        source      TEXT    NOT NULL DEFAULT 'shell',
        deleted_at  INTEGER,                   -- ns; the command text is wiped on delete
        dedup       BLOB    NOT NULL UNIQUE    -- Entry.dedup_key(): re-ingest adds nothing
    );
    CREATE INDEX history_timestamp ON history(timestamp);
    CREATE INDEX history_cwd ON history(cwd, timestamp);
    CREATE INDEX history_session ON history(session, timestamp);
    CREATE VIRTUAL TABLE history_fts USING fts5(
        command, content='history', content_rowid='id', tokenize='trigram case_sensitive 0'
    );
    -- no AFTER INSERT trigger: FTS5 flushes its pending terms at every trigger's statement
    -- savepoint, which made a 100k-row ingest 15x slower; Store.insert() indexes new rows in
    -- one INSERT ... SELECT inside the same transaction instead.
    CREATE TRIGGER history_ad AFTER DELETE ON history BEGIN
        INSERT INTO history_fts(history_fts, rowid, command) VALUES ('delete', old.id, old.command);
    END;
    CREATE TRIGGER history_au AFTER UPDATE OF command ON history BEGIN
        INSERT INTO history_fts(history_fts, rowid, command) VALUES ('delete', old.id, old.command);
        INSERT INTO history_fts(rowid, command) VALUES (new.id, new.command);
    END;
    """,
    # 2: Ctrl-G requests and what they produced, linked to the command the user then ran
    """
    CREATE TABLE generations (
        id          INTEGER PRIMARY KEY,
        timestamp   INTEGER NOT NULL,          -- ns since the epoch, UTC
        session     TEXT    NOT NULL DEFAULT '',
        cwd         TEXT,
        request     TEXT    NOT NULL,          -- what the user asked, secrets redacted
        command     TEXT    NOT NULL,          -- what cmdai proposed
        kind        TEXT    NOT NULL DEFAULT 'command',  -- command | explanation
        level       TEXT,                      -- safety level of the proposal
        inserted    INTEGER NOT NULL DEFAULT 1,  -- 0 when the policy kept it out of the buffer
        backend     TEXT,
        model       TEXT,
        latency_ms  INTEGER,
        history_id  INTEGER,                   -- the command the user ran next in that session
        edited      INTEGER                    -- 1 when that command differs from the proposal
    );
    CREATE INDEX generations_session ON generations(session, timestamp);
    CREATE INDEX generations_history ON generations(history_id);
    """,
    # 3: sentence embeddings of unique command texts (cmdai.semantic), and how far through the
    # history the embedder has looked, per model
    """
    CREATE TABLE embeddings (
        model       TEXT    NOT NULL,
        command     TEXT    NOT NULL,
        vector      BLOB    NOT NULL,          -- float32, little endian, unit length
        PRIMARY KEY (command, model)           -- by command first: the triggers look it up
    ) WITHOUT ROWID;
    CREATE TABLE embed_state (
        model       TEXT    PRIMARY KEY,
        last_id     INTEGER NOT NULL           -- history rows up to here have been looked at
    );
    -- a deleted (wiped) or removed command leaves the embeddings once no live row has its text
    CREATE TRIGGER embeddings_wipe AFTER UPDATE OF command ON history
    WHEN old.command <> new.command BEGIN
        DELETE FROM embeddings WHERE command = old.command AND NOT EXISTS (
            SELECT 1 FROM history WHERE command = old.command AND deleted_at IS NULL);
    END;
    CREATE TRIGGER embeddings_delete AFTER DELETE ON history BEGIN
        DELETE FROM embeddings WHERE command = old.command AND NOT EXISTS (
            SELECT 1 FROM history WHERE command = old.command AND deleted_at IS NULL);
    END;
    """,
    # 4: the triggers of 3 scanned the history once per deleted row (there is no index on
    # command: it would cost ingest a third of its speed); Store.forget_vectors does it once
    # per batch
    """
    DROP TRIGGER embeddings_wipe;
    DROP TRIGGER embeddings_delete;
    """,
]

_COLUMNS = ", ".join(
    f"h.{c}" for c in
    ("id", "timestamp", "duration", "exit", "command", "cwd", "session", "hostname", "shell", "source")
)


def _row_to_entry(row: Sequence[Any]) -> Entry:
    return Entry(
        id=row[0], timestamp=row[1], duration_ms=row[2], exit=row[3], command=row[4],
        cwd=row[5], session=row[6], hostname=row[7], shell=row[8], source=row[9],
    )


def _set_wal(conn: apsw.Connection, timeout_s: float = 5.0) -> None:
    """``PRAGMA journal_mode=WAL``. On a new file, several processes doing this at once get
    "database is locked" at once (the busy handler does not wait for a journal-mode change), so
    it is retried; on a file already in WAL mode it is a no-op that takes no lock."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL").fetchall()
            return
        except apsw.BusyError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.01)


@dataclass(frozen=True)
class Filters:
    cwd: str | None = None
    session: str | None = None
    exit: int | None = None
    hostname: str | None = None

    def sql(self, alias: str = "h") -> tuple[str, list[Any]]:
        clauses = [f"{alias}.deleted_at IS NULL"]
        args: list[Any] = []
        for column in ("cwd", "session", "exit", "hostname"):
            value = getattr(self, column)
            if value is not None:
                clauses.append(f"{alias}.{column} = ?")
                args.append(value)
        return " AND ".join(clauses), args


class Store:
    def __init__(self, conn: apsw.Connection, path: Path) -> None:
        self.conn = conn
        self.path = path

    # -- opening and migrating -------------------------------------------------------------
    @classmethod
    def open(cls, path: Path | None = None, *, readonly: bool = False) -> Store:
        path = Path(path or paths.db_file())
        try:
            if readonly:
                conn = apsw.Connection(str(path), flags=apsw.SQLITE_OPEN_READONLY)
            else:
                paths.ensure_dir(path.parent)
                conn = apsw.Connection(str(path))
            conn.set_busy_timeout(5000)
            # one pragma per call: a pragma that returns a row stops a multi-statement execute
            if not readonly:
                # a new file gets 16 KB pages (bulk ingest ~10% faster); no-op on an existing one
                conn.execute("PRAGMA page_size=16384").fetchall()
                _set_wal(conn)
                conn.execute("PRAGMA synchronous=NORMAL").fetchall()
                # deleted text is overwritten on disk, not left in free pages
                conn.execute("PRAGMA secure_delete=ON").fetchall()
            conn.execute("PRAGMA foreign_keys=ON").fetchall()
            store = cls(conn, path)
            if not readonly:
                store.migrate()
            return store
        except apsw.Error as exc:
            raise StoreError(
                f"cannot open the history database {path}: {exc}",
                "check the file's permissions, or move it aside to start a new one",
            ) from exc

    @property
    def version(self) -> int:
        return self.conn.execute("PRAGMA user_version").fetchall()[0][0]

    def migrate(self) -> int:
        """Apply pending migrations, each in its own transaction. Returns how many ran."""
        applied = 0
        current = self.version
        if current > len(MIGRATIONS):
            raise StoreError(
                f"{self.path} was written by a newer cmdai (schema {current}, this one knows "
                f"{len(MIGRATIONS)})",
                "upgrade cmdai",
            )
        for number in range(current + 1, len(MIGRATIONS) + 1):
            # IMMEDIATE: the write lock first (waiting up to the busy timeout), then the version
            # check; a deferred transaction that read first cannot wait for another process
            # migrating the same new file, and fails at once with "database is locked"
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                if self.version < number:  # else another process got there first
                    self.conn.execute(MIGRATIONS[number - 1])
                    self.conn.execute(f"PRAGMA user_version = {number}")
                    applied += 1
                self.conn.execute("COMMIT")
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
        return applied

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing ---------------------------------------------------------------------------
    def insert(self, entries: Iterable[Entry]) -> int:
        """Insert entries in one transaction; entries already present are skipped.

        Returns how many were new.
        """
        return self.insert_rows([e.row() for e in entries])

    def insert_rows(self, rows: Sequence[Row]) -> int:
        """``insert`` for entries given as ``Row`` tuples (the bulk path)."""
        if not rows:
            return 0
        rows = [(*r, dedup_key(r[0], r[SESSION], r[COMMAND])) for r in rows]
        big = len(rows) > 10_000  # an import, a long-unread spool: ~10% faster with more cache
        if big:
            self.conn.execute("PRAGMA cache_size = -65536").fetchall()  # 64 MB, for now
        try:
            return self._insert_rows(rows)
        finally:
            if big:
                self.conn.execute("PRAGMA cache_size = -2000").fetchall()  # SQLite's default

    def _insert_rows(self, rows: list[tuple]) -> int:
        with self.conn:
            # new rows get ids above the current maximum (INTEGER PRIMARY KEY without
            # AUTOINCREMENT), which is how they are counted and indexed below
            (top,) = self.conn.execute("SELECT coalesce(max(id), 0) FROM history").fetchall()[0]
            self.conn.executemany(
                "INSERT OR IGNORE INTO history (timestamp, duration, exit, command, cwd,"
                " session, hostname, shell, source, dedup) VALUES (?,?,?,?,?,?,?,?,?,?)",
                rows,
            )
            self.conn.execute(
                "INSERT INTO history_fts(rowid, command) SELECT id, command FROM history"
                " WHERE id > ?", (top,),
            )
            return self.conn.changes()

    def delete(self, ids: Iterable[int]) -> int:
        """Delete entries: the command text is wiped (and leaves the FTS index) at once; the
        row's dedup key stays, so importing the same history again does not bring it back."""
        now = time.time_ns()
        ids = list(ids)
        deleted = 0
        wiped: list[str] = []
        with self.conn:
            for entry_id in ids:
                wiped += [r[0] for r in self.conn.execute(
                    "SELECT command FROM history WHERE id = ? AND deleted_at IS NULL",
                    (entry_id,))]
                self.conn.execute(
                    "UPDATE history SET deleted_at = ?, command = '', cwd = NULL"
                    " WHERE id = ? AND deleted_at IS NULL",
                    (now, entry_id),
                )
                deleted += self.conn.changes()
            if deleted:
                self.forget_vectors(wiped)
                # merge the FTS segments so that the old tokens leave the file too
                self.conn.execute("INSERT INTO history_fts(history_fts) VALUES ('optimize')")
        if deleted:
            self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        return deleted

    def forget_vectors(self, commands: Iterable[str]) -> None:
        """Drop the cached embeddings of these command texts once no live row holds them (one
        pass over the history for the whole batch)."""
        texts = json.dumps(sorted(set(commands)))
        if texts == "[]":
            return
        self.conn.execute(
            "DELETE FROM embeddings WHERE command IN (SELECT value FROM json_each(?1))"
            " AND command NOT IN (SELECT command FROM history WHERE deleted_at IS NULL"
            "  AND command IN (SELECT value FROM json_each(?1)))", (texts,))

    # -- reading ---------------------------------------------------------------------------
    def count(self) -> int:
        return self.conn.execute(
            "SELECT count(*) FROM history WHERE deleted_at IS NULL"
        ).fetchall()[0][0]

    def _newest(self, where: str, args: list[Any], limit: int,
                match: str | None = None) -> list[Entry]:
        """Entries satisfying ``where`` (and the FTS5 query ``match``), newest first."""
        if match is not None:
            sql = (f"SELECT {_COLUMNS} FROM history h JOIN history_fts f ON f.rowid = h.id"
                   f" WHERE history_fts MATCH ? AND {where}")
            args = [match, *args]
        else:
            sql = f"SELECT {_COLUMNS} FROM history h WHERE {where}"
        rows = self.conn.execute(
            sql + " ORDER BY h.timestamp DESC, h.id DESC LIMIT ?", (*args, limit)
        ).fetchall()
        return [_row_to_entry(r) for r in rows]

    @staticmethod
    def _phrase(text: str) -> str:
        return '"' + text.replace('"', '""') + '"'

    def list(self, limit: int = 20, filters: Filters = Filters()) -> list[Entry]:
        """The most recent entries, newest first."""
        where, args = filters.sql()
        return self._newest(where, args, limit)

    def search_prefix(self, prefix: str, limit: int = 20, filters: Filters = Filters()) -> list[Entry]:
        """Entries whose command starts with ``prefix`` (case-sensitive), newest first.

        Three characters or more narrow the candidates through the trigram index; an index on
        the command text would make every insert ~40% slower for this one query.
        """
        where, args = filters.sql()
        if prefix:
            where += " AND substr(h.command, 1, ?) = ?"
            args += [len(prefix), prefix]
        return self._newest(where, args, limit,
                            self._phrase(prefix) if len(prefix) >= 3 else None)

    def search_fulltext(self, query: str, limit: int = 20, filters: Filters = Filters()) -> list[Entry]:
        """Entries containing every word of ``query`` as a substring (case-insensitive).

        Words of three characters or more go through the trigram FTS5 index; shorter ones are
        checked with instr() on the candidates. Newest first.
        """
        where, args = filters.sql()
        long_words = [w for w in query.split() if len(w) >= 3]
        for w in query.split():
            if len(w) < 3:
                where += " AND instr(lower(h.command), ?) > 0"
                args.append(w.lower())
        match = " AND ".join(self._phrase(w) for w in long_words) if long_words else None
        return self._newest(where, args, limit, match)
