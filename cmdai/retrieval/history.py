"""The user's own successful commands that fit a request: few-shot examples for the prompt.

Two rankings, fused by reciprocal rank (each list contributes ``1 / (K + rank)``):

- by words: commands that share the request's content words (FTS5 trigram matches; always
  available);
- by meaning: the commands nearest to the request in the local sentence-embedding space
  (``cmdai.semantic``), when semantic search is on, the embedding model is installed and the
  history has vectors for it. Nothing is embedded here: the daemon and ``cmdai search`` keep the
  vectors current, so a request costs one query embedding (~4 ms) and one product.

Only commands that exited 0 and are still in the history count; long or multi-line commands are
skipped. Like every retrieval source this is a hint: a missing or broken store, or a missing
model, gives fewer examples, never an error. Everything returned has passed ``scrub_secrets``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

MAX_COMMAND = 160
RRF_K = 10  # small: the first few of either list matter, the tail hardly at all
MIN_SIMILARITY = 0.35  # nearer than this or it is not an example of the request
POOL = 40  # nearest commands looked at before the successful-run check


def examples(text: str, limit: int, db: Path | None = None, *, semantic: bool | None = None,
             meaning: Callable[[Any, str, int], list[str]] | None = None) -> list[str]:
    """Up to ``limit`` commands for ``text``. ``meaning(store, text, n)`` ranks by meaning
    (default: ``by_meaning`` with this process's embedder). ``semantic`` defaults to the
    config's ``search.semantic``."""
    if limit <= 0:
        return []
    from cmdai import config, paths

    db = Path(db) if db is not None else paths.db_file()
    if not db.exists():
        return []
    from cmdai.history.store import Store

    lists: list[list[str]] = []
    try:
        with Store.open(db, readonly=True) as store:
            lists.append(by_words(store, text, POOL))
            if semantic is None:
                semantic = config.load().search.semantic
            if semantic:
                try:
                    lists.append((meaning or by_meaning)(store, text, POOL))
                except Exception:  # noqa: BLE001 - the embedder is optional: words still work
                    pass
    except Exception:  # noqa: BLE001 - retrieval is a hint: a broken store must not stop an answer
        return []
    from cmdai.generate import scrub_secrets

    out: list[str] = []
    for command in fuse(lists):
        command = scrub_secrets(command)
        if command not in out:
            out.append(command)
            if len(out) == limit:
                break
    return out


def fuse(lists: list[list[str]]) -> list[str]:
    """Reciprocal rank fusion; ties keep the order of the first list."""
    score: dict[str, float] = {}
    for ranked in lists:
        for rank, command in enumerate(ranked):
            score[command] = score.get(command, 0.0) + 1.0 / (RRF_K + rank + 1)
    return sorted(score, key=lambda c: -score[c])


def _usable(command: str) -> bool:
    return 3 <= len(command) <= MAX_COMMAND and "\n" not in command


def by_words(store: Any, text: str, n: int) -> list[str]:
    """Successful commands ranked by how many of the request's content words they contain."""
    from cmdai.generate import keywords
    from cmdai.history.store import Filters

    scores: dict[str, int] = {}
    for word in keywords(text)[:6]:
        for entry in store.search_fulltext(word, limit=30, filters=Filters(exit=0)):
            command = entry.command.strip()
            if _usable(command):
                scores[command] = scores.get(command, 0) + 1
    return sorted(scores, key=lambda c: -scores[c])[:n]


def by_meaning(store: Any, text: str, n: int, *, embedder: Any = None,
               vectors: Callable[[Any, str], Any] | None = None) -> list[str]:
    """Successful commands nearest to ``text`` in meaning, best first ([] when the history has
    no vectors for the current embedding model, or the model is not installed).
    ``embedder`` and ``vectors(store, model_id)`` default to loading them in this process; the
    daemon passes its warm ones."""
    from cmdai.semantic import model
    from cmdai.semantic.embedder import current_model_id

    model_id = current_model_id()
    if not store.conn.execute("SELECT 1 FROM embeddings WHERE model = ? LIMIT 1",
                              (model_id,)).fetchall():
        return []  # nothing embedded yet: do not load the model for nothing
    if embedder is None:
        if not model.available():
            return []
        from cmdai.semantic.embedder import shared

        embedder = shared()
    if vectors is None:
        from cmdai.semantic.vectors import VectorIndex

        index = VectorIndex.load(store, model_id)
    else:
        index = vectors(store, model_id)
    rows, sims = index.nearest(embedder.embed_one(text), POOL * 2)
    near = [index.commands[int(r)] for r, s in zip(rows, sims) if s >= MIN_SIMILARITY]
    near = [c for c in near if _usable(c.strip())]
    if not near:
        return []
    marks = ",".join("?" * len(near))
    ok = {c for (c,) in store.conn.execute(
        f"SELECT DISTINCT command FROM history WHERE command IN ({marks})"
        " AND exit = 0 AND deleted_at IS NULL", near).fetchall()}
    return [c.strip() for c in near if c in ok][:n]
