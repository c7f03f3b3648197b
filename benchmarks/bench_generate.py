"""Generation benchmark: execution accuracy and latency, plain prompt vs cmdai's pipeline.

    python benchmarks/bench_generate.py [--models a,b] [--limit N] [--nl2bash N]

For each catalog model (installed ones; each in its own process, so peak memory is its own):
  baseline  the same backend and model with a plain prompt (no context, no examples, no docs)
  pipeline  cmdai.generate.generate(): context, retrieval, docs, parse check + retry
Each candidate runs in a fresh copy of the fixture tree (benchmarks/eval) with no network and a
time limit, and is compared with the task's reference run. Latency is measured warm (one
untimed request first; the cold first request is reported on its own). The user's history is
empty here (a fresh CMDAI_HOME), so the pipeline gets no history examples.

--nl2bash N adds a static check on the first N items of ../shared/data/nl2bash_dev.jsonl (read in
place): does the first utility of the answer match the reference's? (tuning only, not headline)

Prints a table and writes benchmarks/results/generate.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO))

PLAIN_SYSTEM = "Translate the user's request into a bash command. Reply with the command only."
NL2BASH = REPO.parent / "shared" / "data" / "nl2bash_dev.jsonl"


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    k = (len(values) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return round(values[lo] + (values[hi] - values[lo]) * (k - lo), 1)


def _first_utility(command: str) -> str:
    try:
        words = shlex.split(command)
    except ValueError:
        words = command.split()
    for w in words:
        if "=" in w and not w.startswith("-"):
            continue
        if w in ("sudo", "env", "time", "nohup"):
            continue
        return os.path.basename(w)
    return ""


def _overrides(pairs: list[str]) -> dict:
    import tomllib

    out = {}
    for pair in pairs:
        key, _, raw = pair.partition("=")
        try:
            out[key] = tomllib.loads(f"v = {raw}")["v"]
        except tomllib.TOMLDecodeError:
            out[key] = raw
    return out


def model_home(model_name: str, prefix: str) -> Path:
    """A fresh CMDAI_HOME (a temp dir) holding the catalog model, linked from the user's models
    directory (installed there first if missing) and verified: benchmarks never touch the
    user's own state."""
    from cmdai import models

    real = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local/share") / "cmdai" / "models"
    model = models.get(model_name)
    if models.status(model, real) == "missing":
        models.install(model_name, directory=real)
    models.verify(model, real)
    home = Path(tempfile.mkdtemp(prefix=prefix))
    (home / "data" / "models").mkdir(parents=True)
    (home / "data" / "models" / model.file).symlink_to(real / model.file)
    shutil.copy(real / (model.file + ".verified"), home / "data" / "models")
    return home


def worker(model_name: str, limit: int | None, nl2bash: int, out: Path, sets: list[str],
           modes: tuple[str, ...] = ("baseline", "pipeline"),
           tasks_file: str = str(HERE / "eval" / "tasks.jsonl")) -> None:
    home = model_home(model_name, "cmdai-bench-")
    os.environ["CMDAI_HOME"] = str(home)
    from cmdai import models

    model = models.get(model_name)

    from cmdai.backends import Request
    from cmdai.backends.llama_cpp import LlamaCppBackend
    from cmdai.config import GenerateConfig
    from cmdai.generate import STOP, generate, parse_answer
    from eval import fixture, runner

    cfg = GenerateConfig(model=model_name, backends=["llama_cpp"], **_overrides(sets))
    backend = LlamaCppBackend(cfg)
    fx = fixture.build(home / "fixture" / "project")
    tasks = [json.loads(line) for line in Path(tasks_file).read_text().splitlines()
             if line.strip()][:limit]

    class Clock:
        """When the command line was complete: the first newline streamed, else the end."""

        def __init__(self):
            self.t0, self.text, self.cmd_ms = time.perf_counter(), "", None

        def __call__(self, piece: str) -> None:
            self.text += piece
            if self.cmd_ms is None and "\n" in self.text.lstrip("\n`$ "):
                self.cmd_ms = (time.perf_counter() - self.t0) * 1000

    def baseline(nl: str):
        clock = Clock()
        c = backend.complete(Request(system=PLAIN_SYSTEM, user=nl, max_tokens=cfg.max_tokens,
                                     stop=STOP, on_token=clock))
        return parse_answer(c.text)[0], c.ttft_ms, clock

    def pipeline(nl: str):
        clock = Clock()
        a = generate(nl, cfg=cfg, cwd=str(fx), backends=[backend], on_token=clock)
        return a.command, a.ttft_ms, clock

    result: dict = {"model": model_name, "params": model.params, "n_tasks": len(tasks),
                    "settings": _overrides(sets)}
    refs = {t["id"]: runner.run(t["ref"], fx, t.get("setup", "")) for t in tasks}
    for mode, fn in (("baseline", baseline), ("pipeline", pipeline)):
        if mode not in modes:
            continue
        t0 = time.perf_counter()
        fn("list files")  # warm-up: load + prompt state, reported as cold
        cold_ms = (time.perf_counter() - t0) * 1000
        lat, ttft, cmd_lat, rows = [], [], [], []
        for t in tasks:
            t0 = time.perf_counter()
            try:
                cmd, first, clock = fn(t["nl"])
            except Exception as exc:  # noqa: BLE001 - an unparsable answer counts as wrong
                cmd, first, clock = "", None, None
                print(f"  {t['id']}: {type(exc).__name__}: {exc}", file=sys.stderr)
            ms = (time.perf_counter() - t0) * 1000
            lat.append(ms)
            cmd_lat.append(clock.cmd_ms if clock and clock.cmd_ms is not None else ms)
            if first is not None:
                ttft.append(first)
            ok = bool(cmd) and runner.same(t, refs[t["id"]], runner.run(cmd, fx, t.get("setup", "")))
            rows.append({"id": t["id"], "ok": ok, "command": cmd, "ms": round(ms)})
            print(f"  {model_name} {mode} {t['id']}: {'ok ' if ok else 'BAD'} {ms:6.0f} ms  {cmd}",
                  file=sys.stderr)
        correct = sum(r["ok"] for r in rows)
        result[mode] = {
            "accuracy": round(correct / len(rows), 3), "correct": correct, "n": len(rows),
            "p50_ms": _pct(lat, 0.5), "p95_ms": _pct(lat, 0.95), "ttft_p50_ms": _pct(ttft, 0.5),
            "command_p50_ms": _pct(cmd_lat, 0.5), "command_p95_ms": _pct(cmd_lat, 0.95),
            "cold_first_ms": round(cold_ms), "tasks": rows,
        }
        if nl2bash:
            items = [json.loads(x) for x in NL2BASH.read_text().splitlines()[:nl2bash]]
            hits = 0
            for it in items:
                try:
                    cmd = fn(it["nl"])[0]
                except Exception:  # noqa: BLE001
                    cmd = ""
                hits += _first_utility(cmd) == _first_utility(it["bash"])
            result[mode]["nl2bash_utility_match"] = round(hits / len(items), 3)
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    result["network_isolated"] = runner.NO_NETWORK
    out.write_text(json.dumps(result))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--nl2bash", type=int, default=0)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="a [generate] setting for the pipeline, e.g. --set docs=false")
    ap.add_argument("--modes", default="baseline,pipeline", help="which of baseline,pipeline")
    ap.add_argument("--output", default=str(HERE / "results" / "generate.json"))
    ap.add_argument("--tasks", default=str(HERE / "eval" / "tasks.jsonl"),
                    help="the task file (eval/heldout.jsonl: 30 tasks written after the "
                         "post-answer repairs, to check that they generalise)")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args.worker, args.limit, args.nl2bash, Path(args.out), args.set,
               tuple(args.modes.split(",")), args.tasks)
        return
    from cmdai import models

    names = [n for n in args.models.split(",") if n] or list(models.CATALOG)
    results = []
    for name in names:
        with tempfile.NamedTemporaryFile(suffix=".json") as tmp:
            cmd = [sys.executable, __file__, "--worker", name, "--out", tmp.name,
                   "--nl2bash", str(args.nl2bash)]
            if args.limit:
                cmd += ["--limit", str(args.limit)]
            for pair in args.set:
                cmd += ["--set", pair]
            cmd += ["--modes", args.modes, "--tasks", args.tasks]
            if subprocess.run(cmd).returncode != 0:
                print(f"{name}: worker failed", file=sys.stderr)
                continue
            results.append(json.loads(Path(tmp.name).read_text()))
    head = (f"{'model':<20}{'mode':<10}{'acc':>6}{'p50 ms':>9}{'p95 ms':>9}{'cmd p50':>9}"
            f"{'cmd p95':>9}{'ttft p50':>10}{'cold ms':>9}{'RSS MB':>8}")
    print(head)
    for r in results:
        for mode in ("baseline", "pipeline"):
            if mode not in r:
                continue
            m = r[mode]
            print(f"{r['model']:<20}{mode:<10}{m['accuracy']:>6.2f}{m['p50_ms']:>9.0f}"
                  f"{m['p95_ms']:>9.0f}{m['command_p50_ms']:>9.0f}{m['command_p95_ms']:>9.0f}"
                  f"{(m['ttft_p50_ms'] or 0):>10.0f}{m['cold_first_ms']:>9}"
                  f"{r['peak_rss_mb']:>8}")
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                    "python": platform.python_version()},
        "date": time.strftime("%Y-%m-%d"), "results": results}, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
