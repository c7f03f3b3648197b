"""History search: candidates from text, fuzzy and vector matching, one blended score.

A ``Searcher`` loads a catalog of unique commands (one GROUP BY over the history, hard filters
applied) with what the ranking needs per command: how often and how recently it ran, how often
it succeeded, and how often it ran in the current directory, git workspace and session.
Duplicates are therefore folded by construction: one row per command text, with a count.

Every keystroke of the picker then costs only in-memory work: substring tests over the catalog
(narrowed incrementally while the user types), a fuzzy pass, and one matrix product with the
query's embedding. numpy and the embedder load only when a semantic or hybrid query needs them.

Score (weights in ``[search]`` of the config, each signal in [0, 1]):

    text * BM25(query words, normalised) + prefix * starts-with + fuzzy * in-order letters
    + semantic * cosine + recency * 1/(1 + age_days) + frequency * log-scaled count
    + cwd + workspace + session (ran there at least once) + success * share of exit 0
"""

from __future__ import annotations

import heapq
import math
import os
import re
import socket
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from cmdai.config import SearchConfig
from cmdai.history.entry import Entry
from cmdai.history.store import Filters, Store

MODES = ("prefix", "fulltext", "fuzzy", "semantic", "hybrid")
PARTS = ("text", "prefix", "fuzzy", "semantic", "recency", "frequency", "cwd", "workspace",
         "session", "success")
FILTERS = ("all", "session", "directory", "workspace", "host")
SEMANTIC_CANDIDATES = 64  # nearest neighbours considered per query
EMPTY_QUERY_CANDIDATES = 2000  # the most recent commands ranked for an empty query


def git_workspace(cwd: str | None) -> str | None:
    """The top directory of the git work tree holding ``cwd`` (a `.git` dir or file), if any."""
    if not cwd:
        return None
    path = os.path.abspath(cwd)
    while True:
        if os.path.exists(os.path.join(path, ".git")):
            return path
        parent = os.path.dirname(path)
        if parent == path:
            return None
        path = parent


@dataclass(frozen=True)
class Context:
    """Where the search happens: boosts commands run here (not hard filters)."""

    cwd: str | None = None
    session: str | None = None
    hostname: str | None = None
    workspace: str | None = None
    now_ns: int = 0

    @classmethod
    def current(cls, cwd: str | None = None, session: str | None = None) -> Context:
        try:
            cwd = os.path.abspath(cwd or os.getcwd())
        except OSError:
            cwd = None
        return cls(cwd=cwd, session=session or os.environ.get("CMDAI_SESSION") or None,
                   hostname=socket.gethostname(), workspace=git_workspace(cwd),
                   now_ns=time.time_ns())


@dataclass(frozen=True)
class HardFilters:
    """Rows that do not match are left out entirely."""

    cwd: str | None = None
    session: str | None = None
    exit: int | None = None
    hostname: str | None = None
    workspace: str | None = None  # the directory and everything below it
    match: str | None = None  # an FTS5 query every row must match (narrows a one-off search)

    def sql(self) -> tuple[str, list[Any]]:
        where, args = Filters(cwd=self.cwd, session=self.session, exit=self.exit,
                              hostname=self.hostname).sql()
        if self.match:
            # commands linked to a Ctrl-G request stay in: they can be found by the request
            where += (" AND (h.id IN (SELECT rowid FROM history_fts WHERE history_fts MATCH ?)"
                      " OR h.command IN (SELECT x.command FROM generations g"
                      " JOIN history x ON x.id = g.history_id WHERE g.history_id > 0))")
            args.append(self.match)
        if self.workspace:
            where += " AND (h.cwd = ? OR substr(h.cwd, 1, ?) = ?)"
            root = self.workspace.rstrip("/") + "/"
            args += [self.workspace, len(root), root]
        return where, args

    @classmethod
    def named(cls, name: str, context: Context, base: HardFilters | None = None) -> HardFilters:
        """The picker's filter cycle: all, session, directory, workspace, host."""
        base = base or cls()
        if name == "session":
            return replace(base, session=context.session)
        if name == "directory":
            return replace(base, cwd=context.cwd)
        if name == "workspace":
            return replace(base, workspace=context.workspace or context.cwd)
        if name == "host":
            return replace(base, hostname=context.hostname)
        return base


def fts_prefilter(text: str, mode: str) -> str | None:
    """An FTS5 query that every result of ``mode`` for ``text`` matches, or None. A one-off
    search (``cmdai search``) narrows its catalog with it instead of loading every command."""
    def phrase(w: str) -> str:
        return '"' + w.replace('"', '""') + '"'

    if mode == "fulltext":
        words = [w for w in text.lower().split() if len(w) >= 3]
        return " AND ".join(phrase(w) for w in words) or None
    if mode == "prefix" and len(text) >= 3:
        return phrase(text)
    return None


@dataclass
class Hit:
    entry: Entry  # the most recent run of the command (within the filters)
    count: int  # how many runs were folded into this row
    score: float
    parts: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {**self.entry.to_json(), "count": self.count, "score": round(self.score, 4)}

    def to_wire(self) -> dict[str, Any]:
        """Everything but the parts, as the daemon sends it (``from_wire`` reads it back)."""
        return {"entry": asdict(self.entry), "count": self.count, "score": self.score}

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> Hit:
        return cls(Entry(**data["entry"]), int(data["count"]), float(data["score"]))


class Catalog:
    """Unique commands with their aggregates, newest first."""

    def __init__(self, store: Store, filters: HardFilters, context: Context) -> None:
        where, args = filters.sql()
        ws = context.workspace
        ws_root = (ws.rstrip("/") + "/") if ws else None
        rows = store.conn.execute(
            # bare columns come from the row holding max(timestamp): the latest run
            "SELECT h.command, count(*), max(h.timestamp), h.id, h.duration, h.exit, h.cwd,"
            " h.session, h.hostname, h.shell, h.source,"
            " sum(h.exit = 0), sum(h.exit IS NOT NULL),"
            " sum(h.cwd = ?), sum(h.session = ?),"
            " sum(h.cwd = ? OR substr(h.cwd, 1, ?) = ?)"
            f" FROM history h WHERE {where} AND h.command <> ''"
            " GROUP BY h.command ORDER BY max(h.timestamp) DESC",
            (context.cwd, context.session, ws, len(ws_root or ""), ws_root, *args),
        ).fetchall()
        self.rows = rows
        self.commands: list[str] = [r[0] for r in rows]
        self.lower: list[str] = [c.lower() for c in self.commands]
        self.max_count = max((r[1] for r in rows), default=1)
        self.avg_len = (sum(len(c) for c in self.commands) / len(rows)) if rows else 1.0
        self.vector_rows: Any = None  # numpy index into a VectorIndex, -1 when missing
        self.row_to_cat: Any = None  # the reverse, for a large VectorIndex
        self.static: dict[int, float] = {}  # query-independent score parts, summed (lazily)
        self.index: dict[str, int] | None = None  # command -> position, built when needed

    def __len__(self) -> int:
        return len(self.commands)

    def entry(self, i: int) -> Entry:
        r = self.rows[i]
        return Entry(command=r[0], timestamp=r[2], id=r[3], duration_ms=r[4], exit=r[5],
                     cwd=r[6], session=r[7], hostname=r[8], shell=r[9], source=r[10])


class Searcher:
    """Ranks the history for a query. Keep one per picker: the catalog, the vectors and the
    narrowing of the last query carry over between keystrokes."""

    def __init__(self, store: Store, cfg: SearchConfig | None = None,
                 context: Context | None = None, *, semantic: bool | None = None,
                 embedder_factory: Callable[[], Any] | None = None,
                 vector_loader: Callable[[Store, str], Any] | None = None) -> None:
        self.store = store
        self.cfg = cfg or SearchConfig()
        self.context = context or Context.current()
        self.semantic_enabled = self.cfg.semantic if semantic is None else semantic
        self._embedder_factory = embedder_factory
        self._vector_loader = vector_loader  # e.g. the daemon's cached index
        self._embedder: Any = None
        self._vectors: Any = None
        self._catalogs: dict[HardFilters, Catalog] = {}
        self._narrow: dict[tuple[Any, ...], tuple[str, list[int]]] = {}
        self._qvec_cache: dict[str, Any] = {}
        self.semantic_error: str | None = None

    # -- loading -------------------------------------------------------------------------
    def catalog(self, filters: HardFilters) -> Catalog:
        cat = self._catalogs.get(filters)
        if cat is None:
            cat = self._catalogs[filters] = Catalog(self.store, filters, self.context)
        return cat

    def invalidate(self) -> None:
        """Forget cached catalogs (after a delete, or when new history arrived)."""
        self._catalogs.clear()
        self._narrow.clear()
        self._vectors = None

    def semantic_ready(self) -> bool:
        return self._vectors is not None and self._embedder is not None

    def load_semantic(self, *, embed_limit: int | None = None, progress: Any = None) -> bool:
        """Embed what is missing (bounded), load the vectors and the model. False when semantic
        search is off or the model is not installed (``semantic_error`` says why)."""
        if not self.semantic_enabled:
            return False
        if self._vectors is not None and self._embedder is not None:
            return True
        from cmdai.errors import ModelError
        from cmdai.semantic import model
        from cmdai.semantic.vectors import VectorIndex, embed_pending

        try:
            if self._embedder is None:
                if self._embedder_factory is not None:
                    self._embedder = self._embedder_factory()
                else:
                    if not model.available():
                        raise ModelError("the embedding model is not installed",
                                         model.TOKENIZER.install_hint())
                    from cmdai.semantic.embedder import shared

                    self._embedder = shared()
            limit = self.cfg.embed_per_call if embed_limit is None else embed_limit
            if limit > 0:
                embed_pending(self.store, self._embedder, limit=limit, progress=progress)
            load = self._vector_loader or VectorIndex.load
            self._vectors = load(self.store, self._embedder.model_id)
            for cat in self._catalogs.values():
                cat.vector_rows = cat.row_to_cat = None
            return True
        except ModelError as exc:
            self.semantic_error = exc.message + (f" ({exc.hint})" if exc.hint else "")
            self.semantic_enabled = False
            return False

    def _query_vector(self, text: str) -> Any:
        vec = self._qvec_cache.get(text)
        if vec is None:
            vec = self._embedder.embed_one(text)
            if len(self._qvec_cache) > 256:
                self._qvec_cache.clear()
            self._qvec_cache[text] = vec
        return vec

    def _semantic(self, cat: Catalog, text: str, k: int, also: Any = ()) -> dict[int, float]:
        """Cosine similarity with the query for the ``k`` nearest catalog commands (at least
        ``min_similarity``) and for the catalog indices in ``also`` (when above 0)."""
        import numpy as np

        vectors = self._vectors
        if cat.vector_rows is None:
            cat.vector_rows = np.array([vectors.rows.get(c, -1) for c in cat.commands],
                                       dtype=np.int64)
        query_vector = self._query_vector(text)
        floor = self.cfg.min_similarity
        out: dict[int, float] = {}
        if vectors.exact:
            sims = vectors.similarities(query_vector)[np.maximum(cat.vector_rows, 0)]
            sims[cat.vector_rows < 0] = 0.0
            k = min(k, len(sims))
            top = np.argpartition(-sims, k - 1)[:k] if k else []
            out = {int(i): float(sims[i]) for i in top if sims[i] >= floor}
            for i in also:
                if i not in out and sims[i] > 0:
                    out[i] = float(sims[i])
            return out
        # a large index: the nearest rows of the whole index, mapped into this catalog
        if cat.row_to_cat is None:
            have = cat.vector_rows >= 0
            cat.row_to_cat = np.full(len(vectors), -1, dtype=np.int64)
            cat.row_to_cat[cat.vector_rows[have]] = np.flatnonzero(have)
        rows, sims = vectors.nearest(query_vector, max(k, vectors.RERANK))
        for i, sim in zip(cat.row_to_cat[rows], sims):
            if len(out) >= k or sim < floor:
                break
            if i >= 0:
                out[int(i)] = float(sim)
        extra = [i for i in also if i not in out and cat.vector_rows[i] >= 0]
        if extra:
            for i, sim in zip(extra, vectors.similarities_at(cat.vector_rows[extra],
                                                             query_vector)):
                if sim > 0:
                    out[i] = float(sim)
        return out

    # -- matching ------------------------------------------------------------------------
    def _narrowed(self, cat: Catalog, kind: str, query: str,
                  test: Callable[[str], bool]) -> list[int]:
        """Catalog indices passing ``test``; when the query extends the previous one of the
        same kind, only the previous matches are tested (typing narrows)."""
        key = (id(cat), kind)
        prev = self._narrow.get(key)
        if prev is not None and query.startswith(prev[0]) and prev[0]:
            pool: Any = prev[1]
        else:
            pool = range(len(cat))
        lower = cat.lower
        found = [i for i in pool if test(lower[i])]
        self._narrow[key] = (query, found)
        return found

    def _word_matches(self, cat: Catalog, word: str) -> list[int]:
        return self._narrowed(cat, "w:" + word[:1], word, lambda c: word in c) \
            if len(word) > 0 else list(range(len(cat)))

    def _bm25(self, cat: Catalog, words: list[str], require_all: bool) -> dict[int, float]:
        """BM25 over substring matches of each word, normalised to [0, 1] by the best
        attainable score of the query."""
        n = len(cat)
        scores: dict[int, float] = {}
        hits_per_word: list[set[int]] = []
        k1, b = 1.2, 0.75
        total_idf = 0.0
        for word in words:
            hits = [i for i in range(n) if word in cat.lower[i]] if len(words) > 1 \
                else self._word_matches(cat, word)
            df = len(hits)
            idf = math.log((n - df + 0.5) / (df + 0.5) + 1.0)
            total_idf += idf
            hits_per_word.append(set(hits))
            for i in hits:
                c = cat.lower[i]
                tf = c.count(word)
                norm = tf * (k1 + 1) / (tf + k1 * (1 - b + b * len(c) / cat.avg_len))
                scores[i] = scores.get(i, 0.0) + idf * norm
        if require_all and hits_per_word:
            keep = set.intersection(*hits_per_word)
            scores = {i: s for i, s in scores.items() if i in keep}
        if total_idf <= 0:
            return {i: 1.0 for i in scores}
        # (k1 + 1) is the most one word can add per idf unit; a command holding only some of
        # the words counts less than its BM25 share (coverage squared)
        words_n = len(hits_per_word)
        out = {}
        for i, s in scores.items():
            covered = sum(1 for h in hits_per_word if i in h) / words_n
            out[i] = min(1.0, s / (total_idf * (k1 + 1)) * 1.6) * (0.5 + 0.5 * covered ** 2)
        return out

    @staticmethod
    def _fuzzy_pattern(query: str) -> re.Pattern[str]:
        chars = [c for c in query.lower() if not c.isspace()]
        return re.compile(".*?".join(re.escape(c) for c in chars), re.DOTALL)

    def _fuzzy(self, cat: Catalog, query: str, pool: list[int] | None = None) -> dict[int, float]:
        """In-order letters: the tighter the match (and the earlier), the higher, in (0, 1]."""
        q = "".join(query.lower().split())
        if not q:
            return {}
        pat = self._fuzzy_pattern(q)
        first = q[0]
        if pool is None:
            pool = self._narrowed(cat, "fuzzy", q, lambda c: first in c and pat.search(c) is not None)
        out: dict[int, float] = {}
        for i in pool:
            c = cat.lower[i]
            best = None
            start = c.find(first)
            tries = 0
            while start >= 0 and tries < 4:  # a few starting points: the tightest span wins
                m = pat.match(c, start)
                if m is None:
                    break
                span = m.end() - m.start()
                if best is None or span < best[0]:
                    best = (span, m.start())
                start = c.find(first, start + 1)
                tries += 1
            if best is None:
                continue
            span, pos = best
            score = len(q) / span
            if pos == 0 or not c[pos - 1].isalnum():
                score = min(1.0, score + 0.15)
            out[i] = score * (0.9 if pos else 1.0) if score < 1.0 else 1.0
        return out

    def _asked(self, cat: Catalog, words: list[str], require_all: bool) -> dict[int, float]:
        """Commands found by what the user asked for at Ctrl-G: the request text of a proposal
        linked to the command then run (``cmdai.history.generations``)."""
        if not words:
            return {}
        rows = self.store.conn.execute(
            "SELECT g.request, h.command FROM generations g JOIN history h ON h.id = g.history_id"
            " WHERE g.history_id > 0 AND h.deleted_at IS NULL"
        ).fetchall()
        if not rows:
            return {}
        if cat.index is None:
            cat.index = {c: i for i, c in enumerate(cat.commands)}
        out: dict[int, float] = {}
        for request, command in rows:
            i = cat.index.get(command)
            if i is None:
                continue
            request = request.lower()
            found = sum(1 for w in words if w in request)
            if found and (found == len(words) or not require_all):
                out[i] = max(out.get(i, 0.0), found / len(words))
        return out

    # -- ranking -------------------------------------------------------------------------
    def search(self, text: str, mode: str = "hybrid", filters: HardFilters = HardFilters(),
               limit: int = 20) -> list[Hit]:
        if mode not in MODES:
            raise ValueError(f"unknown search mode {mode!r}")
        cat = self.catalog(filters)
        if not len(cat):
            return []
        query = text.strip()
        w = self.cfg
        text_s: dict[int, float] = {}
        prefix_s: dict[int, float] = {}
        fuzzy_s: dict[int, float] = {}
        sem_s: dict[int, float] = {}
        if not query:
            candidates: set[int] | range = range(min(len(cat), EMPTY_QUERY_CANDIDATES))
        elif mode == "prefix":  # case-sensitive, like the shell's own history search
            ql = text.lower()
            pool = self._narrowed(cat, "prefix", ql, lambda c: c.startswith(ql))
            prefix_s = {i: 1.0 for i in pool if cat.commands[i].startswith(text)}
            candidates = set(prefix_s)
        elif mode == "fulltext":
            words = query.lower().split()
            text_s = self._bm25(cat, words, require_all=True)
            for i, score in self._asked(cat, words, require_all=True).items():
                text_s[i] = max(text_s.get(i, 0.0), score)
            candidates = set(text_s)
        elif mode == "fuzzy":
            fuzzy_s = self._fuzzy(cat, query)
            candidates = set(fuzzy_s)
        else:  # semantic, hybrid
            use_sem = self.semantic_enabled and self.load_semantic() and len(self._vectors)
            k = max(SEMANTIC_CANDIDATES, limit * 2)
            if mode == "semantic":
                sem_s = self._semantic(cat, query, k) if use_sem else {}
                candidates = set(sem_s)
            else:
                words = query.lower().split()
                text_s = self._bm25(cat, words, require_all=False)
                for i, score in self._asked(cat, words, require_all=False).items():
                    text_s[i] = max(text_s.get(i, 0.0), score)
                ql = query.lower()
                prefix_s = {i: 1.0 for i in text_s if cat.lower[i].startswith(ql)}
                if len(text_s) < limit and " " not in query and len(query) >= 3:
                    fuzzy_s = self._fuzzy(cat, query)
                # semantic scores for the text matches too
                sem_s = self._semantic(cat, query, k, also=text_s) if use_sem else {}
                candidates = set(text_s) | set(sem_s) | set(fuzzy_s)
        # score every candidate as one number (the parts that do not depend on the query are
        # summed once per command and kept); build Hits with named parts only for those shown
        static = cat.static
        for i in candidates:
            if i not in static:
                static[i] = sum(self._parts(cat, i, {}, {}, {}, {}))
        rows = cat.rows
        scored = [(static[i] + w.weight_text * text_s.get(i, 0.0)
                   + w.weight_prefix * prefix_s.get(i, 0.0)
                   + w.weight_fuzzy * fuzzy_s.get(i, 0.0)
                   + w.weight_semantic * max(0.0, sem_s.get(i, 0.0)), rows[i][2], i)
                  for i in candidates]
        top = heapq.nlargest(limit, scored)
        return [Hit(cat.entry(i), rows[i][1], score,
                    dict(zip(PARTS, self._parts(cat, i, text_s, prefix_s, fuzzy_s, sem_s))))
                for score, _, i in top]

    def _parts(self, cat: Catalog, i: int, text_s: dict[int, float], prefix_s: dict[int, float],
               fuzzy_s: dict[int, float], sem_s: dict[int, float]) -> tuple[float, ...]:
        """The weighted parts of a candidate's score, in the order of ``PARTS``."""
        w = self.cfg
        r = cat.rows[i]
        count, last_ts, ok, known, n_cwd, n_session, n_ws = r[1], r[2], r[11], r[12], r[13], \
            r[14], r[15]
        age_days = max(0.0, (self.context.now_ns - last_ts) / 86_400e9)
        return (
            w.weight_text * text_s.get(i, 0.0),
            w.weight_prefix * prefix_s.get(i, 0.0),
            w.weight_fuzzy * fuzzy_s.get(i, 0.0),
            w.weight_semantic * max(0.0, sem_s.get(i, 0.0)),
            w.weight_recency / (1.0 + age_days),
            w.weight_frequency * math.log1p(count) / math.log1p(cat.max_count),
            w.weight_cwd * (1.0 if n_cwd else 0.0),
            w.weight_workspace * (1.0 if n_ws else 0.0),
            w.weight_session * (1.0 if n_session else 0.0),
            w.weight_success * ((ok / known) if known else 0.5),
        )
