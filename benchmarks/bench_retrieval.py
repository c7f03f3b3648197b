"""History examples for the generation prompt: by words, by meaning, and the two fused.

    .venv/bin/python benchmarks/bench_retrieval.py

Leave-one-out on ../shared/data/nl2bash_dev.jsonl (read in place; tuning data, not a headline
test): the 609 reference commands are the user's history (all exited 0, embedded with the real
ONNX model); each request then retrieves 3 examples from the others (its own command, and exact
copies of it, are left out). A good example uses the utility the answer needs, so the figures
are the share of requests with an example of the reference's first utility among the 3 (hit@3),
the mean reciprocal rank of the first such example, and the median time per request (query
embedding included, the index and model warm, as in the daemon).

Prints a table and writes benchmarks/results/retrieval.json.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from bench_generate import NL2BASH, _first_utility

K = 3


def main() -> None:
    from cmdai.history.entry import Entry
    from cmdai.history.store import Store
    from cmdai.retrieval import history
    from cmdai.semantic.embedder import shared
    from cmdai.semantic.vectors import VectorIndex, embed_pending

    items = [json.loads(x) for x in NL2BASH.read_text().splitlines() if x.strip()]
    db = Path(tempfile.mkdtemp(prefix="cmdai-retrieval-")) / "h.db"
    embedder = shared()
    with Store.open(db) as store:
        store.insert([Entry(command=it["bash"], timestamp=1_000 + i, session="s", exit=0)
                      for i, it in enumerate(items)])
        embed_pending(store, embedder, limit=10_000)
    store = Store.open(db, readonly=True)
    index = VectorIndex.load(store, embedder.model_id)

    def meaning(text: str, n: int) -> list[str]:
        return history.by_meaning(store, text, n, embedder=embedder, vectors=lambda s, m: index)

    rankers = {
        "words": lambda text, n: history.by_words(store, text, n),
        "meaning": meaning,
        "fused": lambda text, n: history.fuse([history.by_words(store, text, n),
                                               meaning(text, n)]),
    }
    rows = []
    for name, rank in rankers.items():
        hits, rr, times, empty = 0, 0.0, [], 0
        for it in items:
            own = it["bash"].strip()
            util = _first_utility(own)
            t0 = time.perf_counter()
            found = [c for c in rank(it["nl"], history.POOL + 5) if c != own][:K]
            times.append((time.perf_counter() - t0) * 1000)
            empty += not found
            ranks = [i for i, c in enumerate(found) if _first_utility(c) == util]
            if ranks:
                hits += 1
                rr += 1 / (ranks[0] + 1)
        rows.append({"ranker": name, "hit_at_3": round(hits / len(items), 3),
                     "mrr": round(rr / len(items), 3), "no_example": round(empty / len(items), 3),
                     "p50_ms": round(statistics.median(times), 2)})
    store.close()
    print(f"{'ranker':<10}{'hit@3':>8}{'MRR':>8}{'none':>8}{'p50 ms':>9}   ({len(items)} requests)")
    for r in rows:
        print(f"{r['ranker']:<10}{r['hit_at_3']:>8.3f}{r['mrr']:>8.3f}{r['no_example']:>8.3f}"
              f"{r['p50_ms']:>9.2f}")
    out = HERE / "results" / "retrieval.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"date": time.strftime("%Y-%m-%d"), "n": len(items), "k": K,
                               "results": rows}, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
