"""Ctrl-G benchmarks: key press to command in the buffer, the client's own overhead, and the
daemon's memory and CPU over many requests.

    .venv/bin/python benchmarks/bench_ctrl_g.py [--quick] [--model qwen2.5-coder-0.5b]
        [--real-requests N] [--soak-only]

- key press -> command in the line editor, p50/p95, per shell, with a warm daemon and in-process
  (no daemon), for an instant test-double backend (the pipeline's own cost) and for a real model;
- the client alone: `python -I -S client.py --op ping` as a whole process, and a socket round
  trip from inside Python;
- the daemon's RSS and CPU time across 1,000 requests (test double), and across 100 requests
  with the real model (``--real-requests 1000`` for a longer soak; ``--soak-only`` runs just
  the soaks and writes benchmarks/results/ctrl_g_soak.json);
- Up -> history picker visible, drawn by the daemon vs a picker process, per shell.

Prints a table and writes benchmarks/results/ctrl_g.json.
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

from tests.e2e.shells import Shell  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
CLIENT = ROOT / "cmdai" / "client.py"
REAL_MODELS = Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local/share")) / "cmdai/models"


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def setup_home(home: Path, backend: str, model: str, autostart: bool) -> None:
    (home / "config").mkdir(parents=True, exist_ok=True)
    backends = '["tests.doubles:FixedBackend"]' if backend == "double" else '["llama_cpp"]'
    (home / "config" / "config.toml").write_text(
        f'[generate]\nbackends = {backends}\nmodel = "{model}"\n'
        f"[daemon]\nautostart = {'true' if autostart else 'false'}\n")
    if backend != "double":
        from cmdai import models

        m = models.get(model)
        src = REAL_MODELS / m.file
        if not src.exists():
            raise SystemExit(f"{src} is missing: run `cmdai model install {model}` first")
        dest = home / "data" / "models"
        dest.mkdir(parents=True, exist_ok=True)
        if not (dest / m.file).exists():
            (dest / m.file).symlink_to(src)
            shutil.copy(str(src) + ".verified", str(dest / m.file) + ".verified")


def key_to_buffer(shell: str, backend: str, model: str, daemon: bool, n: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        setup_home(tmp / "cmdai", backend, model, autostart=daemon)
        env = {"PYTHONPATH": str(ROOT), "CMDAI_TEST_ANSWER": "echo hi\n# says hi",
               "CMDAI_DAEMON__AUTOSTART": "true" if daemon else "false"}
        sh = Shell(shell, tmp, extra_env=env)
        try:
            text = "show the files here"
            times = []
            for i in range(n + (1 if daemon else 0)):  # daemon: the first request warms it
                sh.send(text)
                sh.wait_for(lambda: sh.prompt_line() == text, "typed text")
                t = time.perf_counter()
                sh.send("\x07")
                while True:
                    line = sh.prompt_line()
                    if line not in ("", text) and "cmdai" not in line:
                        break
                    if time.perf_counter() - t > 300:
                        raise RuntimeError(f"{shell}: no answer; screen:\n{sh.text()}")
                    time.sleep(0.002)
                elapsed = time.perf_counter() - t
                if not (daemon and i == 0):
                    times.append(elapsed * 1000)
                sh.send("\x15")
                sh.wait_for(lambda: sh.prompt_line() == "", "cleared line")
        finally:
            subprocess.run([sys.executable, "-m", "cmdai", "daemon", "stop"], env=sh.env,
                           capture_output=True)
            sh.close()
    return {"shell": shell, "backend": backend if backend == "double" else model,
            "daemon": daemon, "n": len(times), "p50_ms": statistics.median(times),
            "p95_ms": pct(times, 95)}


def up_to_picker(shell: str, daemon: bool, n: int, history: int) -> dict:
    """Up on an empty line -> the picker drawn, with `history` entries recorded."""
    from cmdai.history.entry import Entry
    from cmdai.history.store import Store

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        setup_home(tmp / "cmdai", "double", "", autostart=daemon)
        store = Store.open(tmp / "cmdai" / "data" / "history.db")
        t0 = 1_600_000_000 * 10**9
        store.insert(Entry(command=f"make target-{i % (history // 4 or 1)} --jobs {i % 7}",
                           timestamp=t0 + i * 10**9, session="old", cwd="/src", exit=0)
                     for i in range(history))
        store.close()
        sh = Shell(shell, tmp, extra_env={"PYTHONPATH": str(ROOT),
                                          "CMDAI_DAEMON__AUTOSTART": "false"})
        try:
            if daemon:
                subprocess.run([sys.executable, "-m", "cmdai", "daemon", "start"], env=sh.env,
                               check=True, capture_output=True)
            times = []
            for i in range(n + 1):  # the first opening warms caches
                t = time.perf_counter()
                sh.send("\x1b[A")
                while "search>" not in sh.text():
                    if time.perf_counter() - t > 60:
                        raise RuntimeError(f"{shell}: no picker; screen:\n{sh.text()}")
                    time.sleep(0.002)
                if i:
                    times.append((time.perf_counter() - t) * 1000)
                sh.send("\x1b")
                sh.wait_for(lambda: "search>" not in sh.text(), "picker closed")
                time.sleep(0.2)
        finally:
            subprocess.run([sys.executable, "-m", "cmdai", "daemon", "stop"], env=sh.env,
                           capture_output=True)
            sh.close()
    return {"shell": shell, "daemon": daemon, "history": history, "n": len(times),
            "p50_ms": statistics.median(times), "p95_ms": pct(times, 95)}


def client_overhead(rounds: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "cmdai"
        setup_home(home, "double", "", autostart=True)
        env = dict(os.environ, CMDAI_HOME=str(home), PYTHONPATH=str(ROOT))
        subprocess.run([sys.executable, "-m", "cmdai", "daemon", "start"], env=env, check=True,
                       capture_output=True)
        try:
            proc = []
            for _ in range(rounds):
                t = time.perf_counter()
                out = subprocess.run([sys.executable, "-I", "-S", str(CLIENT), "--op", "ping"],
                                     env=env, capture_output=True, text=True,
                                     stdin=subprocess.DEVNULL)
                proc.append((time.perf_counter() - t) * 1000)
                assert out.stdout.startswith("keep"), out
            floor = []
            for _ in range(rounds):
                t = time.perf_counter()
                subprocess.run([sys.executable, "-I", "-S", "-c", "pass"], env=env)
                floor.append((time.perf_counter() - t) * 1000)
            os.environ["CMDAI_HOME"] = str(home)
            from cmdai.daemon.protocol import request

            rtt = []
            for _ in range(rounds * 5):
                t = time.perf_counter()
                request({"op": "ping"})
                rtt.append((time.perf_counter() - t) * 1000)
        finally:
            subprocess.run([sys.executable, "-m", "cmdai", "daemon", "stop"], env=env,
                           capture_output=True)
    return {"client_process_ping_p50_ms": statistics.median(proc),
            "client_process_ping_p95_ms": pct(proc, 95),
            "python_-I_-S_floor_p50_ms": statistics.median(floor),
            "socket_round_trip_p50_ms": statistics.median(rtt)}


def soak(backend: str, model: str, n: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "cmdai"
        setup_home(home, backend, model, autostart=True)
        env = dict(os.environ, CMDAI_HOME=str(home), PYTHONPATH=str(ROOT),
                   CMDAI_TEST_ANSWER="echo hi\n# says hi")
        subprocess.run([sys.executable, "-m", "cmdai", "daemon", "start"], env=env, check=True,
                       capture_output=True)
        os.environ["CMDAI_HOME"] = str(home)
        from cmdai.daemon.protocol import request

        try:
            pid = request({"op": "ping"})[0]["pid"]
            samples = []
            step = max(1, n // 10)
            texts = ["list files", "show disk usage", "find python files", "count lines",
                     "show running processes"]
            last_cpu = _cpu_seconds(pid)
            for i in range(1, n + 1):
                reply = request({"op": "generate", "text": texts[i % len(texts)], "cwd": tmp},
                                timeout=120)[-1]
                assert reply["type"] == "result", reply
                if i % step == 0:
                    cpu = _cpu_seconds(pid)
                    status = request({"op": "status"})[0]
                    samples.append({"requests": i, "rss_mb": status["rss_kb"] / 1024,
                                    "cpu_ms_per_request": (cpu - last_cpu) * 1000 / step})
                    last_cpu = cpu
        finally:
            subprocess.run([sys.executable, "-m", "cmdai", "daemon", "stop"], env=env,
                           capture_output=True)
    first, last = samples[0], samples[-1]
    return {"backend": backend if backend == "double" else model, "requests": n,
            "samples": samples, "rss_first_mb": first["rss_mb"], "rss_last_mb": last["rss_mb"],
            "cpu_ms_first": first["cpu_ms_per_request"], "cpu_ms_last": last["cpu_ms_per_request"]}


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--model", default="qwen2.5-coder-0.5b")
    ap.add_argument("--soak-only", action="store_true",
                    help="only the soak (RSS and CPU of the daemon across many requests)")
    ap.add_argument("--real-requests", type=int, default=None,
                    help="requests in the real-model soak (default 100; 20 with --quick)")
    args = ap.parse_args()
    real_n = args.real_requests or (20 if args.quick else 100)
    if args.soak_only:
        soaks = [soak("double", args.model, 200 if args.quick else 1000),
                 soak("real", args.model, real_n)]
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "ctrl_g_soak.json").write_text(json.dumps({"model": args.model, "soak": soaks},
                                                             indent=2))
        print_soak(soaks)
        return
    n = 5 if args.quick else 10
    results: dict = {"model": args.model, "machine": {"cores": os.cpu_count()}}
    results["client"] = client_overhead(10 if args.quick else 30)
    rows = []
    for shell in ("zsh", "bash", "fish"):
        for daemon in (True, False):
            rows.append(key_to_buffer(shell, "double", args.model, daemon, n))
        for daemon in (True, False):
            rows.append(key_to_buffer(shell, "real", args.model, daemon, 3 if args.quick else 5))
    results["key_to_buffer"] = rows
    results["up_to_picker"] = [up_to_picker(shell, daemon, 5 if args.quick else 10, 10_000)
                               for shell in ("zsh", "bash", "fish") for daemon in (True, False)]
    results["soak"] = [soak("double", args.model, 200 if args.quick else 1000),
                       soak("real", args.model, real_n)]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "ctrl_g.json").write_text(json.dumps(results, indent=2))

    c = results["client"]
    print(f"client process (python -I -S client.py --op ping): p50 {c['client_process_ping_p50_ms']:.1f} ms, "
          f"p95 {c['client_process_ping_p95_ms']:.1f} ms; python -I -S floor "
          f"{c['python_-I_-S_floor_p50_ms']:.1f} ms; socket round trip "
          f"{c['socket_round_trip_p50_ms']:.2f} ms")
    print(f"\n{'shell':<6} {'backend':<22} {'mode':<11} {'p50 ms':>9} {'p95 ms':>9}")
    for r in rows:
        mode = "daemon" if r["daemon"] else "in-process"
        print(f"{r['shell']:<6} {r['backend']:<22} {mode:<11} {r['p50_ms']:>9.0f} {r['p95_ms']:>9.0f}")
    print(f"\n{'Up -> picker visible (10k entries)':<36} {'p50 ms':>9} {'p95 ms':>9}")
    for r in results["up_to_picker"]:
        mode = "daemon draws" if r["daemon"] else "picker process"
        print(f"{r['shell'] + ', ' + mode:<36} {r['p50_ms']:>9.0f} {r['p95_ms']:>9.0f}")
    print_soak(results["soak"])
    print(f"\nwrote {RESULTS / 'ctrl_g.json'}")


def print_soak(soaks: list[dict]) -> None:
    print(f"\n{'soak':<22} {'requests':>8} {'RSS first':>10} {'RSS last':>9} {'CPU/req first':>14} {'last':>8}")
    for s in soaks:
        print(f"{s['backend']:<22} {s['requests']:>8} {s['rss_first_mb']:>8.0f}MB {s['rss_last_mb']:>7.0f}MB"
              f" {s['cpu_ms_first']:>12.1f}ms {s['cpu_ms_last']:>6.1f}ms")


if __name__ == "__main__":
    main()
