"""Tune the prompt on nl2bash_dev (NOT on the headline eval): static utility and flag match.

    python benchmarks/tune_prompt.py --model qwen2.5-coder-0.5b --stride 4 \
        --variant full:prompt=full --variant compact:prompt=compact [--baseline]

One process, the model loaded once; each variant is a set of [generate] overrides run over the
same items of ../shared/data/nl2bash_dev.jsonl (every --stride-th item) in an empty directory with
an empty history. Scores per variant: does the first utility match the reference's, and the F1
of that utility's flags (``-rn`` counts as ``-r -n``) when it does. Prints one line per variant
and writes benchmarks/results/tune_prompt.json (gitignored with the other results).

--history fills the user's history with the reference commands of the items NOT scored (all
exited 0, embedded with the real ONNX model), so that history examples can be measured without
an item ever seeing its own answer. A variant's ``semantic=false`` turns off retrieval by
meaning for it (words only), as ``search.semantic = false`` does.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from bench_generate import NL2BASH, PLAIN_SYSTEM, _first_utility, _overrides, _pct, model_home


def flags(command: str) -> set[str]:
    """Flags given to the first utility of ``command`` (short clusters split)."""
    try:
        words = shlex.split(command)
    except ValueError:
        words = command.split()
    util = _first_utility(command)
    out: set[str] = set()
    seen = False
    for w in words:
        if not seen:
            seen = os.path.basename(w) == util
            continue
        if w in ("|", "&&", ";", "||") or w.endswith((";", "|")):
            break
        if re.fullmatch(r"-[A-Za-z]{2,}", w) and util not in ("find",):
            out |= {"-" + c for c in w[1:]}
        elif re.fullmatch(r"--?[A-Za-z][\w-]*(=.*)?", w):
            out.add(w.split("=", 1)[0])
    return out


def score(candidate: str, reference: str) -> tuple[bool, float]:
    same = bool(candidate) and _first_utility(candidate) == _first_utility(reference)
    if not same:
        return False, 0.0
    a, b = flags(candidate), flags(reference)
    if not a and not b:
        return True, 1.0
    tp = len(a & b)
    return True, (2 * tp / (len(a) + len(b))) if (a or b) else 1.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="qwen2.5-coder-1.5b")
    ap.add_argument("--stride", type=int, default=4)
    ap.add_argument("--offset", type=int, default=0)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--variant", action="append", default=[],
                    help="NAME:key=value,key=value ([generate] overrides)")
    ap.add_argument("--baseline", action="store_true", help="also the plain prompt")
    ap.add_argument("--ids", default="", help="a file of item ids (one a line): only those")
    ap.add_argument("--shape", action="append", default=[],
                    help="NAME=shots,rules,listing,history,options,tldr: a trial prompt shape "
                         "(registered for this run only; use it with prompt=NAME)")
    ap.add_argument("--replace", action="append", default=[], metavar="OLD=>NEW",
                    help="a trial wording: replace OLD by NEW in the system prompt")
    ap.add_argument("--history", action="store_true",
                    help="the other items' commands as the user's (embedded) history")
    ap.add_argument("--output", default=str(HERE / "results" / "tune_prompt.json"))
    args = ap.parse_args()

    home = model_home(args.model, "cmdai-tune-")
    os.environ["CMDAI_HOME"] = str(home)
    cwd = home / "work"
    cwd.mkdir()

    from cmdai import generate as gen
    from cmdai.backends import Request
    from cmdai.backends.llama_cpp import LlamaCppBackend
    from cmdai.config import GenerateConfig
    from cmdai.generate import STOP, generate, parse_answer

    for spec in args.shape:
        name, _, values = spec.partition("=")
        v = [int(x) for x in values.split(",")]
        gen.SHAPES[name] = gen.PromptShape(shots=v[0], rules=bool(v[1]), listing=bool(v[2]),
                                           history=v[3], options=v[4], tldr=v[5])
    if args.replace:
        original = gen.system_prompt

        def reworded(*a, **kw):
            text = original(*a, **kw)
            for pair in args.replace:
                old, _, new = pair.partition("=>")
                text = text.replace(old, new)
            return text

        gen.system_prompt = reworded
    items = [json.loads(x) for x in NL2BASH.read_text().splitlines() if x.strip()]
    items = items[args.offset::args.stride][:args.limit]
    if args.ids:
        wanted = set(Path(args.ids).read_text().split())
        items = [it for it in items if it["id"] in wanted]
    if args.history:
        from cmdai.history.entry import Entry
        from cmdai.history.store import Store
        from cmdai.semantic.vectors import embed_pending

        scored = {it["id"] for it in items}
        others = [it["bash"] for it in map(json.loads, NL2BASH.read_text().splitlines())
                  if it["id"] not in scored]
        with Store.open() as store:
            store.insert([Entry(command=c, timestamp=1_000 + i, session="h", exit=0)
                          for i, c in enumerate(others)])
            embed_pending(store, limit=10_000)
        print(f"history: {len(others)} commands of the items not scored", flush=True)
    base_cfg = GenerateConfig(model=args.model, backends=["llama_cpp"])
    backend = LlamaCppBackend(base_cfg)

    variants: list[tuple[str, object]] = []
    if args.baseline:
        variants.append(("baseline", None))
    semantic: dict[str, str] = {}
    for spec in args.variant:
        name, _, sets = spec.partition(":")
        pairs = [s for s in sets.split(",") if s]
        semantic[name] = next((p.split("=", 1)[1] for p in pairs if p.startswith("semantic=")),
                              "true")
        variants.append((name, GenerateConfig(model=args.model, backends=["llama_cpp"],
                                              **_overrides([p for p in pairs
                                                            if not p.startswith("semantic=")]))))
    results = {}
    for name, cfg in variants:
        os.environ["CMDAI_SEARCH__SEMANTIC"] = semantic.get(name, "true")
        def run(nl: str, cfg: object = cfg) -> str:
            if cfg is None:
                c = backend.complete(Request(system=PLAIN_SYSTEM, user=nl, max_tokens=96, stop=STOP))
                return parse_answer(c.text)[0]
            return generate(nl, cfg=cfg, cwd=str(cwd), backends=[backend]).command

        run("list files")  # warm-up
        util_hits, f1s, lat, rows = 0, [], [], []
        for it in items:
            t0 = time.perf_counter()
            try:
                cmd = run(it["nl"])
            except Exception as exc:  # noqa: BLE001 - a failed answer scores zero
                cmd = ""
                print(f"  {it['id']}: {type(exc).__name__}: {exc}", file=sys.stderr)
            lat.append((time.perf_counter() - t0) * 1000)
            same, f1 = score(cmd, it["bash"])
            util_hits += same
            f1s.append(f1)
            rows.append({"id": it["id"], "util": same, "f1": round(f1, 2), "command": cmd})
        stray_find = sum(_first_utility(r["command"]) == "find" != _first_utility(it["bash"])
                         for r, it in zip(rows, items))
        results[name] = {"util": round(util_hits / len(items), 3),
                         "stray_find": round(stray_find / len(items), 3),
                         "flag_f1": round(sum(f1s) / len(items), 3),
                         "p50_ms": _pct(lat, 0.5), "rows": rows}
        print(f"{args.model} {name:<14} util {results[name]['util']:.3f}  "
              f"flags {results[name]['flag_f1']:.3f}  stray find {results[name]['stray_find']:.3f}  p50 {results[name]['p50_ms']:.0f} ms",
              flush=True)
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"model": args.model, "n": len(items), "stride": args.stride,
                               "results": results}, indent=1) + "\n")


if __name__ == "__main__":
    main()
