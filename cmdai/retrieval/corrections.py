"""The user's own Ctrl-G corrections: what was asked before, and the command actually run.

A Ctrl-G proposal is linked to the command the user ran next (``cmdai.history.generations``),
edited or not. Those pairs are the best few-shot examples there are: they show what this user
means by a request, in their words and with their tools. ``corrections`` returns the pairs whose
request shares the most content words with a new request.

Like every retrieval source this is a hint: a missing or broken store gives nothing, never an
error. What it returns has passed ``scrub_secrets`` (cmdai.generate), like all user data that
may enter a prompt.
"""

from __future__ import annotations

from pathlib import Path

from cmdai.retrieval import stems

MAX_COMMAND = 160  # longer (or multi-line) commands make poor examples in a small prompt


def corrections(text: str, limit: int, db: Path | None = None) -> list[tuple[str, str]]:
    """Up to ``limit`` (past request, command the user actually ran) pairs for ``text``.

    Only proposals linked to a command that is still in the history (not deleted), of kind
    ``command``. Ranked by how many content-word stems (``cmdai.retrieval.stems``: lower-cased,
    stopwords dropped) the past request shares with ``text``; pairs sharing none are left out.
    On ties: commands that exited 0 first, then the ones the user edited (a correction teaches
    more than an accepted proposal), then the most recent. A (request, command) pair appears once;
    both strings are secret-scrubbed and stripped; commands that span lines or are longer than
    160 characters are skipped. ``db`` defaults to the user's history database, opened read-only.
    """
    if limit <= 0:
        return []
    wanted = set(stems(text))
    if not wanted:
        return []
    from cmdai import paths

    db = Path(db) if db is not None else paths.db_file()
    if not db.exists():
        return []
    from cmdai.history.store import Store

    try:
        with Store.open(db, readonly=True) as store:
            rows = store.conn.execute(
                "SELECT g.request, h.command, g.edited, h.exit, g.timestamp"
                " FROM generations g JOIN history h ON h.id = g.history_id"
                " WHERE g.history_id > 0 AND g.kind = 'command' AND h.deleted_at IS NULL"
            ).fetchall()
    except Exception:  # noqa: BLE001 - retrieval is a hint: a broken store must not stop an answer
        return []
    best: dict[tuple[str, str], tuple] = {}
    for request, command, edited, exit_code, timestamp in rows:
        request, command = (request or "").strip(), (command or "").strip()
        if not request or not command or "\n" in command or len(command) > MAX_COMMAND:
            continue
        overlap = len(wanted.intersection(stems(request)))
        if not overlap:
            continue
        key = (-overlap, exit_code != 0, not edited, -(timestamp or 0))
        pair = (request, command)
        if pair not in best or key < best[pair]:
            best[pair] = key
    from cmdai.generate import scrub_secrets

    out: list[tuple[str, str]] = []
    for request, command in sorted(best, key=best.__getitem__):
        pair = (scrub_secrets(request), scrub_secrets(command))
        if pair not in out:  # two secrets may redact to the same text
            out.append(pair)
            if len(out) == limit:
                break
    return out
