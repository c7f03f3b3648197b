"""Cold start of generation: a fresh process's first answer, with and without the persisted
system-prompt KV state.

    .venv/bin/python benchmarks/bench_cold.py [--models qwen2.5-coder-1.5b] [--rounds 3]

Each round runs two fresh processes on the same model and request with the full pipeline's
system prompt: first with an empty cache directory (the prefix is evaluated, then saved), then
with the state that run saved (it is restored). Reported per case: model load, time to first
token and the whole first answer (load included), medians over the rounds. The page cache is not
dropped (that needs root and would measure the disk); the first round also warms it.

Prints a table and writes benchmarks/results/cold.json.
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

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO))

REQUEST = "find log files bigger than 10 MB"


def worker(model_name: str) -> None:
    t0 = time.perf_counter()
    from cmdai.backends.llama_cpp import LlamaCppBackend
    from cmdai.config import GenerateConfig
    from cmdai.generate import generate

    cfg = GenerateConfig(model=model_name, backends=["llama_cpp"])
    backend = LlamaCppBackend(cfg)
    states: list[str] = []
    complete = backend.complete

    def first_state(request):  # a retry would report the (then warm) state of the second call
        completion = complete(request)
        states.append(completion.extra["kv"])
        return completion

    backend.complete = first_state
    answer = generate(REQUEST, cfg=cfg, cwd=tempfile.mkdtemp(), backends=[backend])
    print(json.dumps({"kv": states[0], "load_ms": backend.last_load_ms,
                      "ttft_ms": answer.ttft_ms,
                      "first_answer_ms": (time.perf_counter() - t0) * 1000,
                      "command": answer.command}))


def run(model_name: str, home: Path) -> dict:
    env = {**os.environ, "CMDAI_HOME": str(home)}
    out = subprocess.run([sys.executable, __file__, "--worker", model_name], env=env,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="qwen2.5-coder-1.5b")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args.worker)
        return
    from bench_generate import model_home

    results = []
    for name in args.models.split(","):
        home = model_home(name, "cmdai-cold-")
        cases: dict[str, list[dict]] = {"evaluated": [], "restored": []}
        for _ in range(args.rounds):
            shutil.rmtree(home / "cache", ignore_errors=True)
            for expected in ("evaluated", "restored"):
                r = run(name, home)
                if r["kv"] != expected:
                    raise SystemExit(f"{name}: expected the prefix {expected}, got {r['kv']}")
                cases[expected].append(r)
        for case, rows in cases.items():
            results.append({"model": name, "prefix": case, "rounds": len(rows), **{
                k: round(statistics.median(r[k] for r in rows)) for k in
                ("load_ms", "ttft_ms", "first_answer_ms")}})
        shutil.rmtree(home)
    print(f"{'model':<22}{'prefix':<11}{'load ms':>9}{'ttft ms':>9}{'first answer ms':>17}")
    for r in results:
        print(f"{r['model']:<22}{r['prefix']:<11}{r['load_ms']:>9}{r['ttft_ms']:>9}"
              f"{r['first_answer_ms']:>17}")
    out = HERE / "results" / "cold.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"date": time.strftime("%Y-%m-%d"), "request": REQUEST,
                               "results": results}, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
