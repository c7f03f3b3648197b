"""The vector store: embeddings of unique command texts, cached in the history database
(table ``embeddings``, migration 3), and an in-RAM float32 matrix for queries.

``embed_pending`` is the one function that fills the cache; `cmdai search` and the picker call
it with a bound per call, the daemon can call it in the background.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cmdai.history.store import Store
    from cmdai.semantic.embedder import Embedder

Progress = Callable[[int, int], None]  # (done, total)


def _pending_rows(store: Store, model_id: str, limit: int) -> tuple[list[str], int, bool]:
    """Up to ``limit`` unique commands without a vector, the history id to resume after, and
    whether every row up to the end has been looked at."""
    rows = store.conn.execute("SELECT last_id FROM embed_state WHERE model = ?",
                              (model_id,)).fetchall()
    last_id = rows[0][0] if rows else 0
    texts: list[str] = []
    seen: set[str] = set()
    resume = last_id
    complete = True
    cursor = store.conn.execute(
        "SELECT h.id, h.command FROM history h WHERE h.id > ? AND h.deleted_at IS NULL"
        " AND h.command <> '' AND NOT EXISTS (SELECT 1 FROM embeddings e"
        "  WHERE e.command = h.command AND e.model = ?) ORDER BY h.id",
        (last_id, model_id),
    )
    for entry_id, command in cursor:
        if command not in seen:
            if len(texts) >= limit:
                complete = False
                break
            seen.add(command)
            texts.append(command)
        resume = entry_id
    if complete:
        (top,) = store.conn.execute("SELECT coalesce(max(id), 0) FROM history").fetchall()[0]
        resume = max(resume, top)
    return texts, resume, complete


def pending_count(store: Store, model_id: str) -> int:
    """How many unique commands still need a vector."""
    texts, _, _ = _pending_rows(store, model_id, 10**9)
    return len(texts)


def embed_pending(store: Store, embedder: Embedder | None = None, *, limit: int = 500,
                  batch_size: int = 64, progress: Progress | None = None) -> int:
    """Embed up to ``limit`` unique commands that have no vector yet, in batches, one
    transaction per batch. Returns how many were embedded. Safe to call concurrently from
    several processes (INSERT OR IGNORE)."""
    from cmdai.semantic.embedder import current_model_id

    model_id = embedder.model_id if embedder is not None else current_model_id()
    texts, resume, complete = _pending_rows(store, model_id, limit)
    if not texts:
        with store.conn:
            store.conn.execute(
                "INSERT INTO embed_state(model, last_id) VALUES (?, ?) ON CONFLICT(model)"
                " DO UPDATE SET last_id = max(last_id, excluded.last_id)", (model_id, resume))
        return 0
    if embedder is None:
        from cmdai.semantic.embedder import shared

        embedder = shared()
    done = 0
    for start in range(0, len(texts), batch_size):
        chunk = texts[start:start + batch_size]
        vectors = embedder.embed(chunk, batch_size=batch_size)
        with store.conn:
            store.conn.executemany(
                "INSERT OR IGNORE INTO embeddings(model, command, vector) VALUES (?, ?, ?)",
                [(model_id, t, v.astype("<f4").tobytes()) for t, v in zip(chunk, vectors)],
            )
        done += len(chunk)
        if progress:
            progress(done, len(texts))
    with store.conn:
        store.conn.execute(
            "INSERT INTO embed_state(model, last_id) VALUES (?, ?) ON CONFLICT(model)"
            " DO UPDATE SET last_id = max(last_id, excluded.last_id)", (model_id, resume))
    return done


def tty_progress(label: str = "cmdai: embedding history") -> Progress | None:
    """A progress line on stderr when it is a terminal (stdout belongs to the shell)."""
    if not sys.stderr.isatty():
        return None

    def show(done: int, total: int) -> None:
        end = "\n" if done >= total else ""
        sys.stderr.write(f"\r\033[K{label}: {done}/{total}{end}")
        sys.stderr.flush()

    return show


@dataclass
class VectorIndex:
    """All vectors of one model in RAM: ``matrix`` (n, dim) float32 and the row of each text."""

    model_id: str
    commands: list[str]
    rows: dict[str, int]
    matrix: Any  # numpy.ndarray

    @classmethod
    def load(cls, store: Store, model_id: str | None = None) -> VectorIndex:
        import numpy as np

        from cmdai.semantic import model
        from cmdai.semantic.embedder import current_model_id

        model_id = model_id or current_model_id()
        commands: list[str] = []
        blobs: list[bytes] = []
        for command, blob in store.conn.execute(
                "SELECT command, vector FROM embeddings WHERE model = ?", (model_id,)):
            commands.append(command)
            blobs.append(blob)
        if blobs:
            matrix = np.frombuffer(b"".join(blobs), dtype="<f4").reshape(len(blobs), -1)
        else:
            matrix = np.zeros((0, model.DIM), dtype=np.float32)
        return cls(model_id, commands, {c: i for i, c in enumerate(commands)},
                   np.ascontiguousarray(matrix, dtype=np.float32))

    def __len__(self) -> int:
        return len(self.commands)

    def similarities(self, query_vector: Any) -> Any:
        """Cosine similarity of every stored vector with the (unit) query vector."""
        return self.matrix @ query_vector

    def top(self, query_vector: Any, k: int) -> list[tuple[str, float]]:
        import numpy as np

        if not len(self.commands):
            return []
        sims = self.similarities(query_vector)
        k = min(k, len(sims))
        idx = np.argpartition(-sims, k - 1)[:k]
        idx = idx[np.argsort(-sims[idx])]
        return [(self.commands[i], float(sims[i])) for i in idx]
