"""Foundation benchmarks: hook cost per command, spool ingest, search, process start.

    .venv/bin/python benchmarks/bench_history.py [--quick]

Prints a table and writes benchmarks/results/history.json. Figures are medians over rounds;
this machine is shared and noisy, so compare ratios more than absolute numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cmdai.history import spool  # noqa: E402
from cmdai.history.entry import Entry  # noqa: E402
from cmdai.history.store import Store  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
WORDS = ["git", "status", "docker", "compose", "up", "-d", "kubectl", "get", "pods", "ls", "-la",
         "grep", "-rn", "TODO", "src/", "make", "test", "python", "-m", "pytest", "cd", "..",
         "ssh", "prod-db-1", "tail", "-f", "/var/log/syslog", "npm", "run", "build", "héllo",
         "データ", "find", ".", "-name", "'*.py'", "rm", "-rf", "build/", "cargo", "check"]


def fake_history(n: int, seed: int = 7) -> list[Entry]:
    rng = random.Random(seed)
    t0 = 1_600_000_000 * 10**9
    out = []
    for i in range(n):
        words = rng.choices(WORDS, k=rng.randint(1, 8))
        cmd = " ".join(words)
        if i % 97 == 0:
            cmd += "\n  && echo done"  # multi-line
        out.append(Entry(command=cmd, timestamp=t0 + i * 10**9, session=f"s{i // 500}",
                         duration_ms=rng.randint(0, 5000), exit=rng.choice([0, 0, 0, 1]),
                         cwd=rng.choice(["/home/u", "/home/u/src/app", "/tmp"]), shell="zsh"))
    return out


# -- hook cost ---------------------------------------------------------------------------
def hook_cost(shell: str, n: int, rounds: int) -> dict:
    from tests.e2e.shells import Shell

    def one(load_plugin: bool) -> float:
        with tempfile.TemporaryDirectory() as tmp:
            sh = Shell(shell, Path(tmp), load_plugin=load_plugin)
            try:
                sh.proc.timeout = 300
                script = "\r".join([":"] * n) + "\rprintf '%s_%s\\n' BENCH DONE\r"
                t = time.perf_counter()
                sh.send(script)
                sh.proc.expect_exact("BENCH_DONE")
                elapsed = time.perf_counter() - t
                if load_plugin:
                    sh.wait_spool(n + 1)  # every command was recorded
                return elapsed / (n + 1)
            finally:
                sh.close()

    with_, without = [], []
    for _ in range(rounds):
        without.append(one(False))
        with_.append(one(True))
    base, plug = statistics.median(without), statistics.median(with_)
    return {"shell": shell, "commands": n, "rounds": rounds,
            "per_command_without_ms": base * 1e3, "per_command_with_ms": plug * 1e3,
            "added_ms": (plug - base) * 1e3}


# -- ingest and search -------------------------------------------------------------------
def ingest_rate(n: int, rounds: int) -> dict:
    lines = "".join(spool.encode(e) for e in fake_history(n))
    times = []
    for _ in range(rounds):
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            (tmp / "spool").mkdir()
            (tmp / "spool" / "bench-s1.tsv").write_text(lines)
            store = Store.open(tmp / "h.db")
            t = time.perf_counter()
            report = spool.ingest(store, tmp / "spool", tmp / "q")
            times.append(time.perf_counter() - t)
            assert report.inserted == n and not report.bad
            store.close()
    med = statistics.median(times)
    return {"lines": n, "seconds": med, "lines_per_second": n / med}


def search_times(home: Path, n: int) -> dict:
    store = Store.open(home / "data" / "history.db")
    if store.count() < n:
        store.insert(fake_history(n))
    queries = ["git", "docker compose", "kubectl pods", "TODO", "prod-db", "データ", "-la", "xyzzy"]
    per_query = {}
    for q in queries:
        samples = []
        for _ in range(15):
            t = time.perf_counter()
            store.search_fulltext(q, 20)
            samples.append(time.perf_counter() - t)
        per_query[q] = statistics.median(samples) * 1e3
    prefix = []
    for _ in range(15):
        t = time.perf_counter()
        store.search_prefix("git st", 20)
        prefix.append(time.perf_counter() - t)
    store.close()
    all_ft = sorted(per_query.values())
    return {"rows": n, "fulltext_ms_by_query": per_query,
            "fulltext_median_ms": statistics.median(all_ft), "fulltext_max_ms": max(all_ft),
            "prefix_median_ms": statistics.median(prefix) * 1e3}


def process_time(argv: list[str], env: dict, rounds: int) -> float:
    samples = []
    for _ in range(rounds):
        t = time.perf_counter()
        subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       check=True)
        samples.append(time.perf_counter() - t)
    return statistics.median(samples) * 1e3


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer rounds and commands")
    args = ap.parse_args()
    rounds = 3 if args.quick else 5
    n_hook = 200 if args.quick else 500
    results: dict = {"machine": {"cores": os.cpu_count(), "python": sys.version.split()[0]}}

    results["hook"] = [hook_cost(s, n_hook, rounds) for s in ("zsh", "bash", "fish")]
    results["ingest"] = ingest_rate(100_000, 3)
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        env = dict(os.environ, CMDAI_HOME=str(home))
        os.environ["CMDAI_HOME"] = str(home)
        results["search_in_process"] = search_times(home, 100_000)
        exe = str(Path(sys.executable).with_name("cmdai"))
        results["process_ms"] = {
            "cmdai --version": process_time([exe, "--version"], env, 15),
            "cmdai history list --limit 20": process_time([exe, "history", "list", "--limit", "20"], env, 15),
            "cmdai search --mode fulltext docker compose": process_time(
                [exe, "search", "--mode", "fulltext", "docker", "compose"], env, 15),
            "cmdai search --mode prefix docker": process_time(
                [exe, "search", "--mode", "prefix", "docker"], env, 15),
            "python -c pass (floor)": process_time([sys.executable, "-c", "pass"], env, 15),
        }

    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "history.json").write_text(json.dumps(results, indent=2, ensure_ascii=False))

    print(f"{'measure':<44} {'median':>12}  goal")
    for h in results["hook"]:
        goal = "< 1 ms" if h["shell"] == "fish" else "< 0.5 ms"
        print(f"{'hook added per command, ' + h['shell']:<44} {h['added_ms']:>9.3f} ms  {goal}"
              f"   (without {h['per_command_without_ms']:.2f} ms, with {h['per_command_with_ms']:.2f} ms)")
    ing = results["ingest"]
    print(f"{'spool ingest, 100k lines':<44} {ing['seconds']:>9.3f} s   < 1 s"
          f"   ({ing['lines_per_second']:,.0f} lines/s)")
    s = results["search_in_process"]
    print(f"{'fulltext query in process, 100k rows':<44} {s['fulltext_median_ms']:>9.2f} ms  < 10 ms"
          f"   (slowest query {s['fulltext_max_ms']:.2f} ms)")
    print(f"{'prefix query in process, 100k rows':<44} {s['prefix_median_ms']:>9.2f} ms")
    for name, ms in results["process_ms"].items():
        print(f"{'process: ' + name:<44} {ms:>9.1f} ms  {'< 100 ms' if 'cmdai' in name else ''}")
    print(f"\nwrote {RESULTS / 'history.json'}")


if __name__ == "__main__":
    main()
