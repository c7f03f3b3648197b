"""Privacy benchmarks: redaction cost per command, recall and false positives, ingest overhead.

    .venv/bin/python benchmarks/bench_privacy.py [--quick]

Prints a table and writes benchmarks/results/privacy.json.

- cost: time of ``Redactor.redact`` per command, in process (p50/p99/max over every command of
  the corpora, repeated), on everyday commands and on secret-bearing ones.
- recall: secrets of tests/privacy/corpus.py (written apart from the rules' own examples) and of
  the rules' examples that are gone after redaction.
- false positives: commands changed although they hold no secret: the corpus's near-misses and
  the 609 everyday commands of /work/shared/data/nl2bash_dev.jsonl (read in place).
- ingest: spool ingest of 20k lines with and without the privacy policy.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cmdai import privacy  # noqa: E402
from cmdai.history import spool  # noqa: E402
from cmdai.history.store import Store  # noqa: E402
from cmdai.privacy.redact import Redactor, builtin_rules  # noqa: E402
from tests.privacy.corpus import NEAR_MISSES, SECRETS  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
NL2BASH = Path("/work/shared/data/nl2bash_dev.jsonl")


def percentile(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def cost(redactor: Redactor, commands: list[str], rounds: int) -> dict:
    samples = []
    clock = time.perf_counter_ns
    for _ in range(rounds):
        for c in commands:
            t = clock()
            redactor.redact(c)
            samples.append((clock() - t) / 1e6)
    return {"commands": len(commands), "samples": len(samples),
            "p50_ms": round(percentile(samples, 50), 4), "p99_ms": round(percentile(samples, 99), 4),
            "max_ms": round(max(samples), 4), "mean_ms": round(statistics.fmean(samples), 4)}


def recall(redactor: Redactor) -> dict:
    corpus_found = sum(all(s not in redactor.redact(c) for s in ss) for c, ss in SECRETS)
    examples = [(a, b) for r in builtin_rules() for a, b in r.examples]
    exact = sum(redactor.redact(a) == b for a, b in examples)
    return {"corpus": len(SECRETS), "corpus_redacted": corpus_found,
            "rule_examples": len(examples), "rule_examples_exact": exact}


def false_positives(redactor: Redactor, commands: list[str]) -> tuple[int, list[str]]:
    changed = [f"{c}  ->  {redactor.redact(c)}" for c in commands if redactor.redact(c) != c]
    return len(changed), changed


def ingest_cost(n: int) -> dict:
    from cmdai.history.entry import Entry

    secret_cmds = [c for c, _ in SECRETS]
    everyday = nl2bash() or NEAR_MISSES
    lines = []
    t0 = 1_700_000_000 * 10**9
    for i in range(n):
        cmd = secret_cmds[i % len(secret_cmds)] if i % 20 == 0 else everyday[i % len(everyday)]
        lines.append(spool.encode(Entry(command=cmd, timestamp=t0 + i * 10**6, session="s1",
                                        exit=0, duration_ms=3, cwd="/home/u", shell="zsh")))
    out = {}
    for label, policy in (("without", privacy.Policy(redactor=None)),
                          ("with", privacy.load_policy())):
        with tempfile.TemporaryDirectory() as tmp:
            sp = Path(tmp) / "spool"
            sp.mkdir()
            (sp / "h-s1.tsv").write_text("".join(lines))
            store = Store.open(Path(tmp) / "h.db")
            t = time.perf_counter()
            report = spool.ingest(store, sp, Path(tmp) / "q", policy=policy)
            out[f"{label}_ms"] = round((time.perf_counter() - t) * 1000, 1)
            out[f"{label}_redacted"] = report.redacted
            store.close()
    out["lines"] = n
    out["overhead_us_per_line"] = round((out["with_ms"] - out["without_ms"]) * 1000 / n, 2)
    return out


def worst_case(redactor: Redactor) -> dict:
    """100 KB of text built to make the rules work hardest (a pasted script, say)."""
    out = {}
    for name, unit in (("many words", "a" * 70 + "key "), ("assignments", "abcdefghij_key=x "),
                       ("curl options", "curl -x "), ("urls", "a://b:c")):
        text = unit * (100_000 // len(unit))
        t = time.perf_counter()
        redactor.redact(text)
        out[name] = round((time.perf_counter() - t) * 1000, 1)
    return out


def nl2bash() -> list[str]:
    if not NL2BASH.exists():
        return []
    return [json.loads(line)["bash"] for line in NL2BASH.read_text().splitlines() if line.strip()]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    rounds = 20 if args.quick else 200
    os.environ.setdefault("CMDAI_HOME", tempfile.mkdtemp(prefix="cmdai-bench-"))
    redactor = Redactor(builtin_rules())
    everyday = nl2bash()
    secret_cmds = [c for c, _ in SECRETS]
    results = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                    "load": os.getloadavg()[0]},
        "rules": len(redactor.rules),
        "cost_everyday": cost(redactor, everyday + NEAR_MISSES, rounds),
        "cost_secrets": cost(redactor, secret_cmds, rounds),
        "recall": recall(redactor),
    }
    fp_near, fp_near_list = false_positives(redactor, NEAR_MISSES)
    fp_nl, fp_nl_list = false_positives(redactor, everyday)
    results["false_positives"] = {
        "near_misses": {"commands": len(NEAR_MISSES), "changed": fp_near, "examples": fp_near_list},
        "nl2bash_dev": {"commands": len(everyday), "changed": fp_nl, "examples": fp_nl_list[:20]},
    }
    results["ingest"] = ingest_cost(5_000 if args.quick else 20_000)
    results["worst_case_100kb_ms"] = worst_case(redactor)

    rows = [
        ("redaction cost, everyday commands", "p50 / p99 / max",
         "{p50_ms} / {p99_ms} / {max_ms} ms".format(**results["cost_everyday"])),
        ("redaction cost, secret-bearing commands", "p50 / p99 / max",
         "{p50_ms} / {p99_ms} / {max_ms} ms".format(**results["cost_secrets"])),
        ("recall, corpus (unseen by the rules)", "redacted",
         f"{results['recall']['corpus_redacted']} / {results['recall']['corpus']}"),
        ("recall, rule examples", "exact",
         f"{results['recall']['rule_examples_exact']} / {results['recall']['rule_examples']}"),
        ("false positives, near-misses", "changed", f"{fp_near} / {len(NEAR_MISSES)}"),
        ("false positives, nl2bash dev", "changed", f"{fp_nl} / {len(everyday)}"),
        ("spool ingest, 1 line in 20 with a secret", "without / with policy",
         "{without_ms} / {with_ms} ms for {lines} lines ({overhead_us_per_line} us/line)".format(
             **results["ingest"])),
        ("worst case, 100 KB adversarial text", "ms per text",
         ", ".join(f"{k} {v}" for k, v in results["worst_case_100kb_ms"].items())),
    ]
    w = max(len(r[0]) for r in rows)
    print(f"{'what':<{w}}  {'measure':<22}  value")
    for what, measure, value in rows:
        print(f"{what:<{w}}  {measure:<22}  {value}")
    for line in fp_nl_list[:10]:
        print(f"  false positive: {line}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "privacy.json").write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {RESULTS / 'privacy.json'}")


if __name__ == "__main__":
    main()
