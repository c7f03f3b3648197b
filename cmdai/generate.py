"""The generation use case: request + context + retrieval -> backend -> parse -> safety.

What the model sees is split in two for speed. The system prompt is static for a machine (rules,
OS and userland, shell, worked examples): its KV state is computed once and reused. The user
message is short and dynamic (every prompt token costs ~15 ms on a 2-core CPU): the cwd and
whether it is a git repo, a short listing, a few of the user's own successful commands found for
this request, one-line docs of the utilities it names, then the request.

The answer is plain text, the command on the first line and ``# explanation`` on the second (the
format that measured best here). It must parse as shell (tree-sitter); when it does not, the model
is asked once more with the error. Values the user must fill in are written ``<like-this>``.
"""

from __future__ import annotations

import functools
import os
import platform
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cmdai.backends import Backend, Request, complete_with_fallback
from cmdai.errors import ModelError

PLACEHOLDER = re.compile(r"<([A-Za-z][A-Za-z0-9_.-]*)>")
STOP = ("\n\n", "<|im_end|>", "<|endoftext|>", "\nRequest:", "```\n")
MAX_LISTING = 12
MAX_DOCS = 2

# One line, then a comment line: the plain shape, for backends that accept a grammar.
GRAMMAR = r'''
root ::= cmd "\n# " expl
cmd  ::= [^\n#] [^\n]*
expl ::= [^\n]+
'''

EXAMPLES: list[tuple[str, str, str]] = [
    ("find files changed in the last 2 days",
     "find . -type f -mtime -2",
     "search from here; -mtime counts days"),
    ("find log files bigger than 100 MB",
     "find . -type f -name '*.log' -size +100M",
     "-size +100M means more than 100 MiB"),
    ("search for error in all files",
     "grep -r 'error' .",
     "-r searches the tree"),
    ("how many times does each line of names.txt occur",
     "sort names.txt | uniq -c",
     "uniq -c counts adjacent duplicates, so sort first"),
    ("the smallest value in prices.txt",
     "sort -n prices.txt | head -n 1",
     "read the file, sort numerically, keep the first"),
    ("print lines 10 to 20 of server.log",
     "sed -n '10,20p' server.log",
     "print only that range"),
    ("total of the second column of sales.csv",
     "awk -F, '{s += $2} END {print s}' sales.csv",
     "sum field 2 of a comma-separated file"),
    ("show todo.txt",
     "cat todo.txt",
     "print the file"),
    ("rename draft.md to final.md",
     "mv draft.md final.md",
     "mv renames"),
    ("make the folder build/out and its parents",
     "mkdir -p build/out",
     "-p creates missing parents"),
    ("compress the logs folder into logs.tar.gz",
     "tar -czf logs.tar.gz logs",
     "-c create, -z gzip, -f archive name"),
    ("rename every .jpeg file here to .jpg",
     "for f in *.jpeg; do mv -- \"$f\" \"${f%.jpeg}.jpg\"; done",
     "strip the old extension, add the new one"),
    ("delete a git branch",
     "git branch -d <branch>",
     "<branch> is for you to fill in"),
]


@dataclass(frozen=True)
class Context:
    os: str  # "Linux", "macOS", ...
    userland: str  # "GNU" | "BSD"
    shell: str
    cwd: str
    git: bool
    listing: tuple[str, ...] = ()


@dataclass
class Answer:
    command: str
    explanation: str
    safety: Any  # a cmdai.safety verdict, or None when the safety engine is not installed
    backend: str
    model: str
    latency_ms: float
    ttft_ms: float | None = None
    attempts: int = 1
    raw: str = ""
    prompt: dict[str, str] = field(default_factory=dict)

    def safety_json(self) -> dict[str, Any]:
        if self.safety is None:
            return {"level": "unknown", "rules": []}
        return self.safety.to_dict()

    def to_json(self) -> dict[str, Any]:
        return {
            "command": self.command,
            "explanation": self.explanation,
            "safety": self.safety_json(),
            "backend": self.backend,
            "model": self.model,
            "latency_ms": round(self.latency_ms),
        }


# -- privacy ------------------------------------------------------------------------------
def scrub_secrets(text: str) -> str:
    """THE hook every piece of user data passes through before it enters a prompt.

    The same redaction rules as live capture and import (cmdai.privacy).
    """
    from cmdai import privacy

    return privacy.redact(text)


# -- context ------------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def detect_userland() -> tuple[str, str]:
    system = platform.system()
    os_name = {"Darwin": "macOS"}.get(system, system)
    try:
        out = subprocess.run(["ls", "--version"], capture_output=True, text=True, timeout=2)
        gnu = out.returncode == 0 and "GNU" in out.stdout
    except (OSError, subprocess.SubprocessError):
        gnu = False
    return os_name, "GNU" if gnu else "BSD"


def _git_repo(cwd: Path) -> bool:
    for d in (cwd, *cwd.parents):
        if (d / ".git").exists():
            return True
    return False


def gather_context(cwd: str | os.PathLike[str] | None = None, shell: str | None = None,
                   listing: bool = True) -> Context:
    path = Path(cwd or os.getcwd())
    os_name, userland = detect_userland()
    shell = shell or Path(os.environ.get("SHELL", "bash")).name or "bash"
    entries: list[str] = []
    if listing:
        try:
            with os.scandir(path) as it:
                for e in it:
                    if e.name.startswith("."):
                        continue
                    entries.append(e.name + ("/" if e.is_dir(follow_symlinks=False) else ""))
        except OSError:
            entries = []
        entries.sort()
        if len(entries) > MAX_LISTING:
            entries = entries[:MAX_LISTING] + [f"... ({len(entries) - MAX_LISTING} more)"]
    return Context(os=os_name, userland=userland, shell=shell, cwd=str(path), git=_git_repo(path),
                   listing=tuple(entries))


# -- retrieval ----------------------------------------------------------------------------
STOPWORDS = frozenset(
    "the and for with from that this all any are but not into than then them they out its "
    "our you your have has was were will can each every which what when where who how show "
    "list get give make want need please file files folder directory current here there "
    "using use into only more most less last first one two".split()
)


def keywords(text: str) -> list[str]:
    words = re.findall(r"[A-Za-z0-9_.+-]{3,}", text.lower())
    seen: dict[str, None] = {}
    for w in words:
        if w not in STOPWORDS:
            seen.setdefault(w, None)
    return list(seen)


def history_examples(text: str, limit: int, db: Path | None = None) -> list[str]:
    """The user's own successful commands that share the most words with the request."""
    if limit <= 0:
        return []
    from cmdai import paths

    db = db or paths.db_file()
    if not db.exists():
        return []
    from cmdai.history.store import Filters, Store

    scores: dict[str, int] = {}
    try:
        with Store.open(db, readonly=True) as store:
            for word in keywords(text)[:6]:
                for entry in store.search_fulltext(word, limit=30, filters=Filters(exit=0)):
                    cmd = entry.command.strip()
                    if 3 <= len(cmd) <= 160 and "\n" not in cmd:
                        scores[cmd] = scores.get(cmd, 0) + 1
    except Exception:  # noqa: BLE001 - retrieval is a hint: a broken store must not stop an answer
        return []
    ranked = sorted(scores.items(), key=lambda kv: -kv[1])
    return [scrub_secrets(c) for c, _ in ranked[:limit]]


# request words -> utilities whose docs help (when the request does not name one)
UTILITY_HINTS: dict[str, tuple[str, ...]] = {
    "find": ("find",), "older": ("find",), "newer": ("find",), "modified": ("find",),
    "larger": ("find",), "bigger": ("find",), "empty": ("find",),
    "size": ("du",), "disk": ("du", "df"), "space": ("du", "df"),
    "containing": ("grep",), "contain": ("grep",), "search": ("grep",), "text": ("grep",),
    "replace": ("sed",), "substitute": ("sed",),
    "archive": ("tar",), "compress": ("tar",), "extract": ("tar",), "unpack": ("tar",),
    "zip": ("zip", "unzip"), "count": ("wc",), "lines": ("wc",), "words": ("wc",),
    "sort": ("sort",), "sorted": ("sort",), "unique": ("sort", "uniq"), "duplicate": ("uniq",),
    "column": ("cut", "awk"), "field": ("cut", "awk"), "csv": ("cut", "awk"),
    "permission": ("chmod",), "permissions": ("chmod",), "executable": ("chmod",),
    "owner": ("chown",), "link": ("ln",), "symlink": ("ln",), "process": ("ps",),
    "processes": ("ps",), "port": ("ss",), "memory": ("free",), "json": ("jq",),
    "download": ("curl",), "checksum": ("sha256sum",), "hash": ("sha256sum",),
}


def candidate_utilities(text: str) -> list[str]:
    found: list[str] = []
    words = re.findall(r"[A-Za-z0-9_.+-]+", text.lower())
    for w in words:  # utilities the request names
        if w not in STOPWORDS and len(w) >= 2 and w not in UTILITY_HINTS and shutil.which(w):
            if w not in found:
                found.append(w)
    for w in words:
        for util in UTILITY_HINTS.get(w, ()):
            if util not in found and shutil.which(util):
                found.append(util)
    return found[:MAX_DOCS]


@functools.lru_cache(maxsize=256)
def _whatis(util: str) -> str:
    try:
        out = subprocess.run(["whatis", util], capture_output=True, text=True, timeout=2)
        for line in out.stdout.splitlines():
            if line.startswith(util + " ") and " - " in line:
                return f"{util}: {line.split(' - ', 1)[1].strip()}"
    except (OSError, subprocess.SubprocessError):
        pass
    return ""


def doc_lines(text: str) -> list[str]:
    """One whatis line per candidate utility.

    (Option lines from --help were tried and measured worse: small models copy them verbatim.)
    """
    lines = [_whatis(util) for util in candidate_utilities(text)]
    return [scrub_secrets(x) for x in lines if x]


# -- prompt -------------------------------------------------------------------------------
def system_prompt(ctx: Context) -> str:
    flags = "GNU coreutils/findutils flags" if ctx.userland == "GNU" else "BSD flags (no GNU-only options)"
    shots = "\n\n".join(f"Request: {r}\n{c}\n# {e}" for r, c, e in EXAMPLES)
    return (
        f"You turn a request into ONE {ctx.shell} command for {ctx.os} with {flags}.\n"
        "Answer with exactly two lines: the command, then '# ' and a short explanation.\n"
        "Rules: work in the current directory ('.') unless a path is given; when the request "
        "names a file, read that file directly (ls and find only list names); use the simplest "
        "standard tool (cat, head, tail, sort, uniq, cut, sed, awk, grep, wc, find); use only "
        "the options the request needs; no sudo unless asked; quote "
        "patterns; write values the user must supply as <name>.\n\n" + shots
    )


def user_prompt(text: str, ctx: Context, examples: Sequence[str], docs: Sequence[str]) -> str:
    # the cwd's path itself is left out: shown it, small models write it instead of '.'
    parts = ["current directory: a git repository" if ctx.git else ""]
    if ctx.listing:
        parts.append("files here: " + scrub_secrets(" ".join(ctx.listing)))
    parts = [p for p in parts if p]
    if examples:
        parts.append("commands I ran before:\n"
                     + "\n".join(f"  {scrub_secrets(e)}" for e in examples))
    if docs:
        parts.append("docs:\n" + "\n".join(f"  {scrub_secrets(d)}" for d in docs))
    parts.append(f"Request: {scrub_secrets(text.strip())}")
    return "\n".join(parts)


# -- output -------------------------------------------------------------------------------
def parse_answer(text: str) -> tuple[str, str]:
    """(command, explanation) from the model's plain-text answer (or its first code block)."""
    command, explanation = "", ""
    text = text.replace("\r", "")
    fence = re.search(r"```[a-z]*\n(.*?)(?:```|$)", text, re.S)
    if fence and not text.lstrip().startswith("```"):
        text = fence.group(1)  # prose around a code block: the block is the answer
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("```"):
            continue
        if not command:
            if line.startswith("#"):
                continue
            if line.lower().startswith(("request:", "command:")):
                line = line.split(":", 1)[1].strip()
            if line.startswith("$ "):
                line = line[2:]
            if len(line) > 1 and line[0] == line[-1] == "`":
                line = line[1:-1]
            command = line
        elif line.startswith("#"):
            explanation = line.lstrip("#").strip()
            break
        else:
            break
    return command, explanation


@functools.lru_cache(maxsize=1)
def _parser() -> Any:
    import tree_sitter_bash
    from tree_sitter import Language, Parser

    return Parser(Language(tree_sitter_bash.language()))


def parse_error(command: str) -> str | None:
    """None when ``command`` parses as shell; else a short description of the first error."""
    if not command.strip():
        return "empty command"
    probe = PLACEHOLDER.sub(lambda m: m.group(1).upper(), command)
    tree = _parser().parse(probe.encode())
    if not tree.root_node.has_error:
        return None
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        if node.is_error or node.is_missing:
            col = node.start_point[1]
            what = "missing " + node.type if node.is_missing else "unexpected text"
            return f"{what} at column {col}: {probe[col:col + 20]!r}"
        stack.extend(reversed(node.children))
    return "syntax error"


def attach_safety(command: str, cwd: str) -> Any:
    try:
        from cmdai.safety import check
    except ImportError:
        return None
    return check(command, cwd=cwd, model_level=None)


# -- the use case -------------------------------------------------------------------------
def generate(
    text: str,
    *,
    cfg: Any = None,
    cwd: str | None = None,
    shell: str | None = None,
    on_token: Callable[[str], None] | None = None,
    cancel: threading.Event | None = None,
    warn: Callable[[str], None] = lambda msg: None,
    backends: Sequence[Backend] | None = None,
    db: Path | None = None,
) -> Answer:
    """One command for ``text``, with its explanation and safety verdict."""
    t0 = time.perf_counter()
    if cfg is None:
        from cmdai import config

        cfg = config.load().generate
    ctx = gather_context(cwd, shell, listing=cfg.listing)
    examples = history_examples(text, cfg.history_examples, db)
    docs = doc_lines(text) if cfg.docs else []
    system = system_prompt(ctx)
    user = user_prompt(text, ctx, examples, docs)
    stop = STOP if cfg.explain else (*STOP, "\n")
    request = Request(system=system, user=user, max_tokens=cfg.max_tokens, stop=stop,
                      on_token=on_token, cancel=cancel or threading.Event(),
                      grammar=GRAMMAR if cfg.grammar else None)
    backend, completion = complete_with_fallback(cfg, request, warn=warn, backends=backends)
    ttft = completion.ttft_ms
    command, explanation = parse_answer(completion.text)
    raw = completion.text
    attempts = 1
    error = parse_error(command)
    if error:
        attempts = 2
        retry = Request(
            system=system,
            user=f"{user}\n(Your answer `{command}` is not valid {ctx.shell}: {error}. "
                 "Answer again.)",
            max_tokens=cfg.max_tokens, stop=stop, on_token=on_token, cancel=request.cancel,
            grammar=request.grammar)
        completion = backend.complete(retry)
        command, explanation = parse_answer(completion.text)
        raw = completion.text
        if parse_error(command):
            raise ModelError(
                f"the model's answer is not a valid command: {command!r}",
                "rephrase the request, or try a bigger model (`cmdai model list`)",
            )
    verdict = attach_safety(command, ctx.cwd)
    return Answer(
        command=command, explanation=explanation, safety=verdict, backend=backend.name,
        model=completion.model, latency_ms=(time.perf_counter() - t0) * 1000, ttft_ms=ttft,
        attempts=attempts, raw=raw, prompt={"system": system, "user": user},
    )
