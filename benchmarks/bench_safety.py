"""Safety engine figures: recall per category on the dangerous corpus, level distribution on the
everyday NL2Bash sample (every high/critical command listed), per-check time in process (p50/p99),
and the start of `cmdai check` as a whole process.

    .venv/bin/python benchmarks/bench_safety.py

Prints a table and writes benchmarks/results/safety.json.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "benchmarks" / "data" / "dangerous.toml"
EVERYDAY = REPO.parent / "shared" / "data" / "nl2bash_dev.jsonl"
OUT = REPO / "benchmarks" / "results" / "safety.json"


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q / 100 * (len(s) - 1))))]


def main() -> None:
    home = tempfile.mkdtemp(prefix="cmdai-bench-")
    os.environ["CMDAI_HOME"] = home
    sys.path.insert(0, str(REPO))
    from cmdai.safety import LEVELS, check

    corpus = tomllib.loads(CORPUS.read_text())
    everyday = [json.loads(line)["bash"] for line in EVERYDAY.read_text().splitlines()]

    recall = {}
    missed = {}
    for cat, table in corpus.items():
        need = LEVELS.index(table["min"])
        miss = [c for c in table["commands"]
                if LEVELS.index(check(c, blast_radius=False).level) < need]
        recall[cat] = {"n": len(table["commands"]), "caught": len(table["commands"]) - len(miss),
                       "min": table["min"], "recall": 1 - len(miss) / len(table["commands"])}
        missed[cat] = miss
    total = sum(r["n"] for r in recall.values())
    caught = sum(r["caught"] for r in recall.values())

    dist: Counter[str] = Counter()
    flagged = []
    for cmd in everyday:
        v = check(cmd, blast_radius=False)
        dist[v.level] += 1
        if v.level in ("high", "critical"):
            flagged.append({"command": cmd, "level": v.level, "rules": [m.id for m in v.rules]})

    # timing: every command of both corpora, several rounds, in process (rules precompiled)
    allcmds = [c for t in corpus.values() for c in t["commands"]] + everyday
    for c in allcmds:
        check(c, blast_radius=False)
    times = []  # wall clock: includes time lost to other processes on a busy machine
    cpu = []  # this thread's CPU time: the engine's own cost
    for _ in range(5):
        for c in allcmds:
            t0 = time.perf_counter_ns()
            c0 = time.thread_time_ns()
            check(c, blast_radius=False)
            cpu.append((time.thread_time_ns() - c0) / 1e6)
            times.append((time.perf_counter_ns() - t0) / 1e6)
    blast_times = []
    with tempfile.TemporaryDirectory() as d:
        for c in everyday:
            t0 = time.perf_counter_ns()
            check(c, cwd=d)
            blast_times.append((time.perf_counter_ns() - t0) / 1e6)

    starts = []
    env = dict(os.environ, CMDAI_HOME=home)
    for _ in range(7):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "cmdai", "check", "--no-blast", "rm -rf ./build"],
                       env=env, capture_output=True, cwd=REPO)
        starts.append((time.perf_counter() - t0) * 1000)
    imports = []
    for _ in range(5):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import cmdai.safety"], env=env, cwd=REPO)
        imports.append((time.perf_counter() - t0) * 1000)

    result = {
        "corpus": {"total": total, "caught": caught, "recall": caught / total,
                   "per_category": recall, "missed": {k: v for k, v in missed.items() if v}},
        "everyday": {"n": len(everyday), "distribution": {lv: dist.get(lv, 0) for lv in LEVELS},
                     "high_or_critical": flagged},
        "timing_ms": {"checks": len(times), "p50": pct(times, 50), "p99": pct(times, 99),
                      "max": max(times), "mean": statistics.fmean(times),
                      "cpu_p50": pct(cpu, 50), "cpu_p99": pct(cpu, 99),
                      "load_average": os.getloadavg()[0], "cores": os.cpu_count(),
                      "with_blast_p50": pct(blast_times, 50), "with_blast_p99": pct(blast_times, 99)},
        "process_ms": {"cmdai_check_median": statistics.median(starts),
                       "python_import_cmdai_safety_median": statistics.median(imports)},
        "python": sys.version.split()[0],
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")

    print(f"Dangerous corpus: {caught}/{total} caught ({caught / total:.1%})")
    print(f"  {'category':<16}{'min':<10}{'n':>4}{'recall':>9}")
    for cat, r in recall.items():
        print(f"  {cat:<16}{r['min']:<10}{r['n']:>4}{r['recall']:>9.1%}")
    print(f"Everyday set ({len(everyday)} NL2Bash commands): "
          + ", ".join(f"{lv} {dist.get(lv, 0)}" for lv in LEVELS))
    for f in flagged:
        print(f"  {f['level']:<9}{f['command']}  [{', '.join(f['rules'])}]")
    t = result["timing_ms"]
    print(f"Per check in process ({t['checks']} checks): p50 {t['p50']:.3f} ms, "
          f"p99 {t['p99']:.3f} ms, max {t['max']:.3f} ms; with blast radius p50 "
          f"{t['with_blast_p50']:.3f} ms, p99 {t['with_blast_p99']:.3f} ms")
    print(f"  CPU time per check: p50 {t['cpu_p50']:.3f} ms, p99 {t['cpu_p99']:.3f} ms "
          f"(load average {t['load_average']:.1f} on {t['cores']} cores during the run)")
    p = result["process_ms"]
    print(f"Whole process `cmdai check`: median {p['cmdai_check_median']:.0f} ms "
          f"(python + import cmdai.safety: {p['python_import_cmdai_safety_median']:.0f} ms)")
    print(f"wrote {OUT.relative_to(REPO)}")


if __name__ == "__main__":
    main()
