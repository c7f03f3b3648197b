"""Ctrl-G requests and their answers, and the link to what the user actually ran.

A proposal is linked to the first command the user runs afterwards in the same session when that
command starts with the same program (the user may have edited the rest), or when it was run
soon after the proposal and is clearly an edit of it even though the program changed (the user
replaced ``du -sh .`` by ``df -h``, or ``grep -r foo src`` by ``rg foo src``). Anything else is
an unrelated command: the proposal is marked as not followed (``history_id = -1``). Search and
retrieval read the pairs: a command can be found by what was asked, and a corrected command
teaches the generator what this user really wanted (``cmdai.retrieval.corrections``).
"""

from __future__ import annotations

import difflib
import shlex
import time
from dataclasses import dataclass

from cmdai.history.store import Store

LINK_WINDOW_NS = 3600 * 10**9  # a proposal run more than an hour later is not linked
# a different program counts as the user's correction only when run this soon after the proposal
CORRECTION_WINDOW_NS = 120 * 10**9
SIMILAR = 0.5  # difflib ratio from which two command lines are one edited into the other
_OPERATORS = frozenset({"|", "||", "&", "&&", ";", "<", ">", ">>", "2>", "2>&1", "&>", "(", ")"})
_TRIVIAL = frozenset({".", "..", "/", "~", "*", "-", "--"})  # shared by unrelated commands


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


def _without_assignments(words: list[str]) -> list[str]:
    while words and "=" in words[0] and not words[0].startswith("="):
        words = words[1:]  # leading VAR=value assignments
    return words


def _program(command: str) -> str:
    words = _without_assignments(command.split())
    return words[0] if words else ""


def _arguments(command: str) -> frozenset[str]:
    """The words after the program that are not flags, operators or trivial paths, unquoted."""
    try:
        words = shlex.split(command, comments=False)
    except ValueError:  # an unbalanced quote: plain words will do
        words = command.split()
    words = _without_assignments(words)
    return frozenset(w for w in words[1:]
                     if w and not w.startswith("-") and w not in _OPERATORS and w not in _TRIVIAL)


def is_edit(proposed: str, ran: str) -> bool:
    """``ran`` is clearly ``proposed`` edited, even with another program: the lines are similar
    (difflib ratio >= 0.5), or they name the same non-flag arguments."""
    proposed, ran = proposed.strip(), ran.strip()
    if not proposed or not ran:
        return False
    if difflib.SequenceMatcher(None, proposed, ran, autojunk=False).ratio() >= SIMILAR:
        return True
    args = _arguments(proposed)
    return bool(args) and args == _arguments(ran)


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
                "SELECT id, command, timestamp FROM history WHERE session = ? AND timestamp >= ?"
                " AND deleted_at IS NULL ORDER BY timestamp, id LIMIT 1",
                (session, ts - 10**9),  # fish records start times in whole seconds
            ).fetchall()
            if not rows:
                continue
            hid, ran, ran_ts = rows[0]
            corrected = ran_ts - ts <= CORRECTION_WINDOW_NS and is_edit(proposed, ran)
            if _program(ran) != _program(proposed) and not corrected:
                # the user ran something else: stop looking for this proposal
                store.conn.execute("UPDATE generations SET history_id = -1 WHERE id = ?", (gid,))
                continue
            store.conn.execute(
                "UPDATE generations SET history_id = ?, edited = ? WHERE id = ?",
                (hid, int(ran.strip() != proposed.strip()), gid),
            )
            linked += 1
    return linked

