"""The vector store: embeddings of unique command texts, cached in the history database
(table ``embeddings``, migration 3), and an in-RAM float32 matrix for queries.

``embed_pending`` is the one function that fills the cache; `cmdai search` and the picker call
it with a bound per call, the daemon can call it in the background.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

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
        _finish(store, model_id, resume, complete)
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
    _finish(store, model_id, resume, complete)
    return done


def _finish(store: Store, model_id: str, resume: int, complete: bool) -> None:
    """Remember how far the embedder looked; once the current model has a vector for every
    command, the vectors of older models (or glossary versions) are dead weight: drop them."""
    from cmdai.semantic.embedder import current_model_id

    with store.conn:
        store.conn.execute(
            "INSERT INTO embed_state(model, last_id) VALUES (?, ?) ON CONFLICT(model)"
            " DO UPDATE SET last_id = max(last_id, excluded.last_id)", (model_id, resume))
        if complete and model_id == current_model_id():
            store.conn.execute("DELETE FROM embeddings WHERE model <> ?", (model_id,))
            store.conn.execute("DELETE FROM embed_state WHERE model <> ?", (model_id,))


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
    """All vectors of one model in RAM: ``matrix`` (n, dim) float32 and the row of each text.

    Up to ``EXACT_MAX`` vectors a query is one exact product with the matrix (~7 ms at 100k on
    2 cores). Above it, a query first ranks every row by the Hamming distance between sign bits
    (48 bytes per 384-dim vector, a few ms at 1M) and then scores the ``RERANK`` closest rows
    exactly: the usual binary-quantisation prefilter, measured in benchmarks/bench_search.py.
    """

    model_id: str
    commands: list[str]
    rows: dict[str, int]
    matrix: Any  # numpy.ndarray
    _codes: Any = field(default=None, repr=False)  # (words, n) uint64 sign bits, column-major

    EXACT_MAX: ClassVar[int] = 250_000
    RERANK: ClassVar[int] = 10_000  # 16 ms and recall@20 0.94 at 1M (bench_search.py)

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
        index = cls(model_id, commands, {c: i for i, c in enumerate(commands)},
                    np.ascontiguousarray(matrix, dtype=np.float32))
        index.prepare()
        return index

    def __len__(self) -> int:
        return len(self.commands)

    @property
    def exact(self) -> bool:
        return len(self.commands) <= self.EXACT_MAX

    def similarities(self, query_vector: Any) -> Any:
        """Cosine similarity of every stored vector with the (unit) query vector."""
        import numpy as np

        # einsum, not `@`: OpenBLAS wakes its threads for a matrix-vector product, which costs
        # more than the product itself on a busy 2-core machine (8 ms vs 0.25 ms at 4k rows)
        return np.einsum("ij,j->i", self.matrix, query_vector)

    def similarities_at(self, rows: Any, query_vector: Any) -> Any:
        """Cosine similarity of the vectors at ``rows`` with the query vector."""
        import numpy as np

        return np.einsum("ij,j->i", self.matrix[rows], query_vector)

    def nearest(self, query_vector: Any, k: int) -> tuple[Any, Any]:
        """The rows of the ``k`` nearest vectors and their similarities, best first (exact up
        to ``EXACT_MAX`` vectors, binary prefilter and exact rerank above)."""
        import numpy as np

        n = len(self.commands)
        k = min(k, n)
        if k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        if self.exact:
            rows = np.arange(n)
            sims = self.similarities(query_vector)
        else:
            rows = self._prefilter(query_vector, max(k, self.RERANK))
            sims = self.similarities_at(rows, query_vector)
        best = np.argpartition(-sims, k - 1)[:k] if k < len(sims) else np.arange(len(sims))
        best = best[np.argsort(-sims[best])]
        return rows[best], sims[best]

    def prepare(self) -> None:
        """Build what queries need beyond the matrix (the sign bits of a large index)."""
        import numpy as np

        if self.exact or self._codes is not None:
            return
        bits = np.packbits(self.matrix > 0, axis=1)
        pad = (-bits.shape[1]) % 8
        if pad:
            bits = np.pad(bits, ((0, 0), (0, pad)))
        self._codes = np.ascontiguousarray(bits.view(np.uint64).T)

    def _prefilter(self, query_vector: Any, m: int) -> Any:
        """Rows whose sign bits are closest to the query's (at least ``m`` of them)."""
        import numpy as np

        self.prepare()
        qbits = np.packbits(np.asarray(query_vector) > 0)
        qbits = np.pad(qbits, (0, (-len(qbits)) % 8)).view(np.uint64)
        # one word at a time over contiguous columns: summing (n, words) rows is 3x slower
        dist = np.bitwise_count(self._codes[0] ^ qbits[0]).astype(np.uint16)
        for word in range(1, len(qbits)):
            dist += np.bitwise_count(self._codes[word] ^ qbits[word])
        # the distance is a small integer: a histogram gives the cut-off without a sort
        cumulative = np.cumsum(np.bincount(dist))
        cutoff = int(np.searchsorted(cumulative, min(m, len(dist))))
        return np.flatnonzero(dist <= cutoff)

    def top(self, query_vector: Any, k: int) -> list[tuple[str, float]]:
        rows, sims = self.nearest(query_vector, k)
        return [(self.commands[int(i)], float(s)) for i, s in zip(rows, sims)]
