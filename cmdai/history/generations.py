"""Ctrl-G requests and their answers, and the link to what the user actually ran.

A proposal is linked to the first command the user runs afterwards in the same session when that
command starts with the same program (the user may have edited the rest). Search and retrieval
read the pairs: a command can be found by what was asked, and a corrected command teaches the
generator what this user really wanted.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from cmdai.history.store import Store

LINK_WINDOW_NS = 3600 * 10**9  # a proposal run more than an hour later is not linked


@dataclass
class Generation:
    request: str
    command: str
    session: str = ""
    cwd: str | None = None
    kind: str = "command"
    level: str | None = None
    inserted: bool = True
    backend: str | None = None
    model: str | None = None
    latency_ms: int | None = None
    timestamp: int = 0


def record(store: Store, g: Generation) -> int:
    with store.conn:
        store.conn.execute(
            "INSERT INTO generations (timestamp, session, cwd, request, command, kind, level,"
            " inserted, backend, model, latency_ms) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (g.timestamp or time.time_ns(), g.session, g.cwd, g.request, g.command, g.kind,
             g.level, int(g.inserted), g.backend, g.model, g.latency_ms),
        )
        return store.conn.last_insert_rowid()


def _program(command: str) -> str:
    words = command.split()
    while words and "=" in words[0] and not words[0].startswith("="):
        words.pop(0)  # leading VAR=value assignments
    return words[0] if words else ""


def link(store: Store, now_ns: int | None = None) -> int:
    """Link recent unlinked proposals to the command run next in their session. Returns how
    many were linked."""
    now_ns = now_ns or time.time_ns()
    pending = store.conn.execute(
        "SELECT id, timestamp, session, command FROM generations"
        " WHERE history_id IS NULL AND kind = 'command' AND inserted = 1 AND session != ''"
        " AND timestamp > ?",
        (now_ns - LINK_WINDOW_NS,),
    ).fetchall()
    linked = 0
    with store.conn:
        for gid, ts, session, proposed in pending:
            rows = store.conn.execute(
                "SELECT id, command FROM history WHERE session = ? AND timestamp >= ?"
                " AND deleted_at IS NULL ORDER BY timestamp, id LIMIT 1",
                (session, ts - 10**9),  # fish records start times in whole seconds
            ).fetchall()
            if not rows:
                continue
            hid, ran = rows[0]
            if _program(ran) != _program(proposed):
                # the user ran something else: stop looking for this proposal
                store.conn.execute("UPDATE generations SET history_id = -1 WHERE id = ?", (gid,))
                continue
            store.conn.execute(
                "UPDATE generations SET history_id = ?, edited = ? WHERE id = ?",
                (hid, int(ran.strip() != proposed.strip()), gid),
            )
            linked += 1
    return linked

