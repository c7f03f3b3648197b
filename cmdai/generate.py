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
from cmdai.retrieval import history
from cmdai.retrieval.corrections import corrections

PLACEHOLDER = re.compile(r"<([A-Za-z][A-Za-z0-9_.-]*)>")
STOP = ("\n\n", "<|im_end|>", "<|endoftext|>", "\nRequest:", "```\n")
MAX_LISTING = 12
MAX_DOCS = 2

# One line, then a comment line: the plain shape, for backends that accept a grammar. The command
# may not start with a backquote (a Markdown fence) or a space.
GRAMMAR = r'''
root ::= cmd "\n# " expl
cmd  ::= [^\n#` ] [^\n]*
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
class PromptShape:
    """How much the model is shown. Small models differ: chosen per model by measurement
    (benchmarks/tune_prompt.py on nl2bash_dev), named in the catalog (``prompt = "..."``)."""

    shots: int  # worked examples (from EXAMPLES) in the system prompt
    rules: bool  # the rules paragraph in the system prompt
    listing: bool  # a short listing of the cwd
    history: int  # at most this many of the user's own commands
    options: int  # option lines from --help/man matching the request
    tldr: int  # examples from the user's tldr cache


SHAPES: dict[str, PromptShape] = {
    "full": PromptShape(shots=len(EXAMPLES), rules=True, listing=True, history=2, options=2,
                        tldr=2),
    "compact": PromptShape(shots=0, rules=True, listing=True, history=2, options=1, tldr=1),
    "plain": PromptShape(shots=0, rules=False, listing=False, history=0, options=0, tldr=0),
}


def prompt_shape(cfg: Any) -> PromptShape:
    """The shape for this config: ``generate.prompt``, or for "auto" the catalog model's own."""
    name = getattr(cfg, "prompt", "auto") or "auto"
    if name == "auto":
        name = "full"
        if not getattr(cfg, "model_path", ""):
            from cmdai import models

            try:
                name = models.get(getattr(cfg, "model", models.DEFAULT)).prompt or "full"
            except Exception:  # noqa: BLE001 - an unknown model is reported by the backend
                name = "full"
    try:
        return SHAPES[name]
    except KeyError:
        from cmdai.errors import ConfigError

        raise ConfigError(f"unknown generate.prompt '{name}'",
                          f"use one of: auto, {', '.join(SHAPES)}") from None


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
        out = subprocess.run(["ls", "--version"], capture_output=True, text=True, timeout=2,
                             check=False)
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


# English words that are also programs: in a request they are almost always just words
ENGLISH_COMMANDS = frozenset(
    "as at dir print top test strip time which yes more less make write last users who info look "
    "see watch expect script display python perl ruby node".split()
)


def named_utilities(text: str) -> list[str]:
    """Installed utilities the request names itself ("sort", "grep")."""
    found: list[str] = []
    for w in re.findall(r"[A-Za-z0-9_.+-]+", text.lower()):
        if w in ENGLISH_COMMANDS or w in STOPWORDS or w not in UTILITY_HINTS.get(w, (w,)):
            continue  # "count" hints at wc but names nothing; "sort" names sort
        if len(w) >= 2 and shutil.which(w) and w not in found:
            found.append(w)
    return found


def candidate_utilities(text: str) -> list[str]:
    """Named utilities, then those its words hint at ("search" -> grep), at most MAX_DOCS."""
    found = named_utilities(text)
    words = re.findall(r"[A-Za-z0-9_.+-]+", text.lower())
    for w in words:
        for util in UTILITY_HINTS.get(w, ()):
            if util not in found and shutil.which(util):
                found.append(util)
    return found[:MAX_DOCS]


def doc_lines(text: str, utilities: Sequence[str] | None = None, limit: int = 2, *,
              named_only: bool = True) -> list[str]:
    """The option lines of the candidate utilities' --help/man that match the request.

    (The whole option list was tried and measured worse: small models copy it verbatim. Only the
    one or two lines that share the request's rarer words are shown.)
    """
    if limit <= 0:
        return []
    from cmdai.retrieval import options

    # only tools the request names: options of a guessed tool ("search" -> grep, when find was
    # meant) pulled the model to the wrong tool on nl2bash
    utilities = candidate_utilities(text) if utilities is None else utilities
    if named_only:
        named = named_utilities(text)
        utilities = [u for u in utilities if u in named]
    try:
        found = options.relevant(text, utilities, limit=limit)
    except Exception:  # noqa: BLE001 - documentation is a hint
        return []
    return [scrub_secrets(o.line()) for o in found]


def tldr_examples(text: str, utilities: Sequence[str], limit: int) -> list[Any]:
    """Examples from the user's tldr cache (cmdai.retrieval.tldr); [] when there is none."""
    if limit <= 0:
        return []
    from cmdai.retrieval import tldr

    return tldr.examples(text, limit, utilities)


# -- prompt -------------------------------------------------------------------------------
def system_prompt(ctx: Context, shape: PromptShape = SHAPES["full"]) -> str:
    flags = "GNU coreutils/findutils flags" if ctx.userland == "GNU" else "BSD flags (no GNU-only options)"
    text = (f"You turn a request into ONE {ctx.shell} command for {ctx.os} with {flags}.\n"
            "Answer with exactly two lines: the command, then '# ' and a short explanation.\n")
    if shape.rules:
        text += (
            "Rules: work in the current directory ('.') unless a path is given; when the request "
            "names a file, read that file directly (ls and find only list names); use the simplest "
            "standard tool (cat, head, tail, sort, uniq, cut, sed, awk, grep, wc, find); use only "
            "the options the request needs; no sudo unless asked; quote "
            "patterns; write values the user must supply as <name>.\n")
    if shape.shots:
        text += "\n" + "\n\n".join(f"Request: {r}\n{c}\n# {e}" for r, c, e in EXAMPLES[:shape.shots])
    return text.rstrip("\n") if not shape.shots else text


def user_prompt(text: str, ctx: Context, examples: Sequence[str], docs: Sequence[str],
                tldr: Sequence[Any] = (), corrected: Sequence[tuple[str, str]] = ()) -> str:
    # the cwd's path itself is left out: shown it, small models write it instead of '.'
    parts = ["current directory: a git repository" if ctx.git else ""]
    if ctx.listing:
        parts.append("files here: " + scrub_secrets(" ".join(ctx.listing)))
    parts = [p for p in parts if p]
    if corrected:  # what this user asked before, and what they ran (after editing, maybe)
        parts.append("what I asked before, and the command I then ran:\n" + "\n".join(
            f"  asked: {scrub_secrets(r)}\n  ran: {scrub_secrets(c)}" for r, c in corrected))
    if examples:
        parts.append("commands I ran before:\n"
                     + "\n".join(f"  {scrub_secrets(e)}" for e in examples))
    if tldr:
        parts.append("examples from tldr:\n" + "\n".join(
            f"  # {scrub_secrets(ex.description)}\n  {scrub_secrets(ex.command)}" for ex in tldr))
    if docs:
        parts.append("docs:\n" + "\n".join(f"  {scrub_secrets(d)}" for d in docs))
    parts.append(f"Request: {scrub_secrets(text.strip())}")
    return "\n".join(parts)


# -- output -------------------------------------------------------------------------------
# chatty models open with a sentence: "You can use the command `du -sh .` to ...", "To list:"
_PROSE_OPENERS = frozenset(
    "you to use here this the run try i we it in with for using simply just sure certainly "
    "below following".split())
_CODE_SPAN = re.compile(r"`([^`\n]+)`")


def is_prose(line: str) -> bool:
    """A sentence, not a command: a capitalised English opener, then several words or a colon
    at the end. (Programs are rarely capitalised, and none is called "You" or "To".)"""
    words = line.split()
    if not words or not words[0][:1].isupper():
        return False
    return words[0].lower().rstrip(",:") in _PROSE_OPENERS and (
        len(words) >= 4 or line.rstrip().endswith(":"))


def parse_answer(text: str) -> tuple[str, str]:
    """(command, explanation) from the model's plain-text answer (or its first code block)."""
    command, explanation = "", ""
    text = text.replace("\r", "")
    fence = re.search(r"```[a-z]*\n(.*?)(?:```|$)", text, re.DOTALL)
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
            line = line.removeprefix("$ ")
            if is_prose(line):  # the command in its `code span`, or on a later line
                spans = [c.strip() for c in _CODE_SPAN.findall(line)
                         if len(c.strip()) >= 2 and not c.strip().startswith("-")]
                if spans:
                    command = max(spans, key=len)
                continue
            quoted = re.fullmatch(r"`([^`]+)`\s*(?:#\s*(.*))?", line)
            if quoted:  # `cmd`, or `cmd` # explanation on the same line
                line, explanation = quoted.group(1).strip(), (quoted.group(2) or "").strip()
            else:
                line, explanation = _split_comment(line)
            command = line
            if explanation:
                break
        elif line.startswith("#"):
            explanation = line.lstrip("#").strip()
            break
        else:
            break
    return command, explanation


def _split_comment(line: str) -> tuple[str, str]:
    """``cmd  # explanation`` on one line -> (cmd, explanation); a ``#`` inside quotes, ``$#``
    or ``${#x}`` is not a comment (tree-sitter decides)."""
    if "#" not in line:
        return line, ""
    data = line.encode()
    root = _parser().parse(data).root_node
    last = root.children[-1] if root.children else None
    if last is None or last.type != "comment" or root.has_error or last.start_byte == 0:
        return line, ""
    command = data[:last.start_byte].decode().rstrip()
    return command, data[last.start_byte:].decode().lstrip("#").strip()


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


_LS_METADATA = re.compile(r"^-[A-Za-z]*[lsigdnoF]|^--(?:size|inode|full-time|format|directory)")
_MADE_UP_PATH = re.compile(r"(?<![\w.])/path/to/[\w./-]*|(?<![\w.])/your/[\w./-]*")


def _stages(command: str) -> list[list[str]]:
    import shlex

    try:
        lexer = shlex.shlex(command, posix=True, punctuation_chars="|;&")
        lexer.whitespace_split = True
        words = list(lexer)
    except ValueError:
        return []
    stages: list[list[str]] = [[]]
    for w in words:
        if w in ("|", "||", "&&", ";", "&", "|&"):
            stages.append([])
        else:
            stages[-1].append(w)
    return [st for st in stages if st]


def repair_listing(command: str, file: str) -> str | None:
    """``ls FILE | cmd ...`` -> ``cmd ... < FILE``: the next command reads the file itself."""
    import shlex

    data = command.encode()
    root = _parser().parse(data).root_node
    pipe = root.children[0] if root.children else None
    if pipe is None or pipe.type != "pipeline":
        return None
    commands = [c for c in pipe.children if c.is_named]
    if len(commands) < 2 or commands[1].type != "command":
        return None
    first, second = commands[0], commands[1]
    reads = data[second.start_byte:second.end_byte].decode()
    return (data[:first.start_byte].decode() + f"{reads} < {shlex.quote(file)}"
            + data[second.end_byte:].decode())


def repair_made_up(command: str, request: str) -> str:
    """Made-up paths left after the retry: the search root of find/du/ls becomes '.' (the rule
    the model was given), any other one a placeholder the user fills in (``<logfiles>``)."""

    def sub(m: re.Match[str]) -> str:
        path = m.group(0)
        if path in request:
            return path
        before = command[:m.start()].split()
        if before and before[-1] in ("find", "du", "ls", "tree"):
            return "."
        name = re.sub(r"[^A-Za-z0-9_.-]", "_", path.rstrip("/").rsplit("/", 1)[-1]).strip("._-")
        return f"<{name if name[:1].isalpha() else 'path'}>"

    return _MADE_UP_PATH.sub(sub, command)


# the request forbids changing the file: "without changing the file", "don't modify it",
# "leave the original untouched"
_KEEP_FILE = re.compile(
    r"(?:\b(?:without|not|never|no)\b|n't\b)[^.;,]{0,24}?\b(?:chang|modif|edit|touch|alter|overwrit|sav)"
    r"|\b(?:leave|leaving|keep|keeping)\b[^.;,]{0,30}?\b(?:unchanged|untouched|intact|as it is|"
    r"as is|alone)\b", re.IGNORECASE)
_COMPRESSED = {".gz": "gunzip", ".bz2": "bunzip2", ".xz": "unxz", ".zst": "unzstd"}
_TARBALL = re.compile(r"\.(?:tar\.(?:gz|bz2|xz|zst)|tgz|tbz2?|txz|tzst)$", re.IGNORECASE)


def _words(command: str) -> list[tuple[int, int, str]] | None:
    """(start, end, text) of each word of a simple command or pipeline; None for anything with
    quoting tree-sitter cannot place (then no word-level repair is attempted)."""
    data = command.encode()
    root = _parser().parse(data).root_node
    if root.has_error:
        return None
    out: list[tuple[int, int, str]] = []
    stack = [root]
    while stack:
        node = stack.pop()
        if node.type in ("command_name", "word", "raw_string", "string", "concatenation",
                         "simple_expansion", "expansion", "number"):
            out.append((node.start_byte, node.end_byte,
                        data[node.start_byte:node.end_byte].decode()))
            continue
        stack.extend(reversed(node.children))
    return out


def _drop_in_place(command: str) -> str:
    """``sed -i[SUFFIX]`` / ``--in-place`` / ``-Ei`` -> the same sed printing its result."""
    data = command.encode()
    edits: list[tuple[int, int, str]] = []
    for stage in _stage_words(command):
        if stage[0][2] != "sed":
            continue
        for start, end, word in stage[1:]:
            if not word.startswith("-") or word == "-":
                continue
            if word.startswith("--in-place"):
                edits.append((start, end, ""))
            elif not word.startswith("--") and (m := re.fullmatch(r"-([A-Za-hj-z]*)i(.*)", word)):
                # -i, -i.bak, -Ei, -iE (models mean -i -E; a letter suffix is rare)
                keep = m.group(1) + (m.group(2) if m.group(2).isalpha() else "")
                edits.append((start, end, "-" + keep if keep else ""))
    for start, end, repl in reversed(edits):
        data = data[:start] + repl.encode() + data[end:]
    return re.sub(r"  +", " ", data.decode()).strip()


def _plain_decompress(command: str) -> str:
    """``tar -xzf notes.txt.gz`` (a compressed file, not an archive) -> ``gunzip notes.txt.gz``:
    tar cannot read it. Only for one tar command that extracts one such file in place."""
    stages = _stages(command)
    if len(stages) != 1 or not stages[0] or stages[0][0] != "tar":
        return command
    args = stages[0][1:]
    extract = any(a == "--extract" or a == "--get" or
                  (a.startswith("-") and not a.startswith("--") and "x" in a) or
                  (i == 0 and not a.startswith("-") and "x" in a and a.isalpha())
                  for i, a in enumerate(args))
    if not extract or any(a in ("-C", "--directory") or a.startswith("--directory=")
                          for a in args):
        return command
    files = [a for a in args if "." in a and not a.startswith("-")]
    if len(files) != 1 or _TARBALL.search(files[0]):
        return command
    tool = next((t for suf, t in _COMPRESSED.items() if files[0].lower().endswith(suf)), None)
    if tool is None:
        return command
    import shlex

    return f"{tool} {shlex.quote(files[0])}"


def _drop_forced_colour(command: str) -> str:
    """``grep --color=always``: escape codes in the output, which breaks pipes and files; the
    terminal colours on its own (``auto``)."""
    return re.sub(r"\s--colou?r=always\b", "", command)


def _stage_words(command: str) -> list[list[tuple[int, int, str]]]:
    """The words of each simple command of ``command`` with their byte offsets ([] when it
    cannot be parsed)."""
    words = _words(command)
    if not words:
        return []
    data = command.encode()
    stages: list[list[tuple[int, int, str]]] = []
    for w in words:
        if not stages or data[:w[0]].rstrip().endswith((b"|", b";", b"&&", b"||", b"(", b"$(",
                                                        b"`")):
            stages.append([])
        stages[-1].append(w)
    return stages


def _short_flags(word: str) -> str:
    """The letters of a cluster of short options (``-rn`` -> "rn"); "" for anything else."""
    return word[1:] if re.fullmatch(r"-[A-Za-z]+", word) else ""


def _has_flag(stage: Sequence[tuple[int, int, str]], letters: str, longs: Sequence[str] = ()) -> bool:
    for _, _, w in stage[1:]:
        if any(c in _short_flags(w) for c in letters) or w.split("=", 1)[0] in longs:
            return True
    return False


def _insert_after_name(command: str, stage: Sequence[tuple[int, int, str]], text: str) -> str:
    data = command.encode()
    end = stage[0][1]
    return (data[:end] + f" {text}".encode() + data[end:]).decode()


# what the request asks for in so many words
_NUMERIC = re.compile(r"\bnumeric(?:al(?:ly)?)?\b|\bby (?:their |its )?(?:numbers?|numeric value)\b",
                      re.IGNORECASE)
_LINE_NUMBERS = re.compile(r"\bline[- ]numbers?\b", re.IGNORECASE)
_NOT_DEEPER = re.compile(
    r"\bnot (?:in|into|inside|within|under) (?:any |its |the |their )?sub-?(?:directories|"
    r"directory|dirs?|folders?)\b|\bwithout (?:descending|recursing|going) into\b|"
    r"\bnon-?recursive(?:ly)?\b|\bnot recursive(?:ly)?\b|\b(?:only )?the top level(?: only)?\b",
    re.IGNORECASE)
_FILES_WITH = re.compile(
    r"\b(?:which|what|list|names?)\b[^.;]{0,20}?\bfiles?\b[^.;]{0,20}?\b(?:contain|mention|"
    r"match|includ|import|referenc)", re.IGNORECASE)
_FILES_WITHOUT = re.compile(
    r"\bfiles?\b[^.;]{0,30}?(?:\b(?:do|does) not|\bdon't|\bdoesn't|\bwithout|\blacking|\bnever)"
    r"\b[^.;]{0,12}?\b(?:contain|mention|match|includ|hav)", re.IGNORECASE)


def _intent_flags(command: str, request: str, cwd: str | None) -> str:
    """Options the request asks for in words that the answer left out:

    - "numerically": ``sort`` without -n/-g/-h/-V gets -n;
    - "with line numbers": a leading ``grep`` without -n (and not -c/-l/-L) gets -n;
    - "not in subdirectories" / "non-recursive": ``find`` without -maxdepth gets -maxdepth 1;
    - "which files contain": a lone recursive ``grep`` without -l gets -l (names, not lines);
    - "files that do not contain": ``grep -v`` (lines) becomes ``grep -L`` (files);
    - a directory given to ``grep`` without -r: -r (grep cannot read a directory).
    """
    for _ in range(4):  # each repair re-parses: offsets change
        stages = _stage_words(command)
        names = {st[0][2] for st in stages}  # another stage may number lines (nl)
        finds = sum(st[0][2] == "find" for st in stages)  # which find "not recursive" means
        changed = None
        for i, st in enumerate(stages):
            name = st[0][2]
            if name == "sort" and _NUMERIC.search(request) and not _has_flag(
                    st, "nghV", ("--numeric-sort", "--general-numeric-sort",
                                 "--human-numeric-sort", "--version-sort")) and not any(
                    re.fullmatch(r"-k\s*\S*[nghV]\S*|--key=\S*[nghV]\S*", w) or
                    (j > 1 and st[j - 1][2] == "-k" and re.search(r"[nghV]", w))
                    for j, (_, _, w) in enumerate(st)):
                changed = _insert_after_name(command, st, "-n")
            elif name == "grep" and i == 0 and _LINE_NUMBERS.search(request) and \
                    not names & {"nl", "awk", "cat", "sed", "perl"} and not _has_flag(
                    st, "nclLqo", ("--line-number", "--count", "--files-with-matches",
                                   "--files-without-match", "--quiet")):
                changed = _insert_after_name(command, st, "-n")
            elif name == "find" and _NOT_DEEPER.search(request) and finds == 1 and \
                    not any(w in ("-maxdepth", "-prune") for _, _, w in st):
                data = command.encode()
                first_test = next((a for a, _, w in st[1:] if w.startswith(("-", "(", "!", "\\("))),
                                  None)
                if first_test is None:
                    changed = (data[:st[-1][1]] + b" -maxdepth 1" + data[st[-1][1]:]).decode()
                else:
                    changed = (data[:first_test] + b"-maxdepth 1 " + data[first_test:]).decode()
            elif name == "grep" and i == 0 and len(stages) == 1 and \
                    _FILES_WITH.search(request) and not _FILES_WITHOUT.search(request) and \
                    not re.search(r"\blines?\b", request, re.IGNORECASE) and \
                    _has_flag(st, "rR", ("--recursive",)) and not _has_flag(st, "lLcvqo"):
                changed = _insert_after_name(command, st, "-l")
            elif name == "grep" and _FILES_WITHOUT.search(request) and \
                    _has_flag(st, "v") and not _has_flag(st, "lLc"):
                data = command.encode()
                a, b, w = next(x for x in st[1:] if "v" in _short_flags(x[2]))
                changed = (data[:a] + w.replace("v", "L").encode() + data[b:]).decode()
            elif name == "grep" and cwd and not _has_flag(st, "rRd", ("--recursive",
                                                                      "--dereference-recursive",
                                                                      "--directories")):
                operands = [w for _, _, w in st[1:] if not w.startswith("-")]
                if len(operands) >= 2 and any((Path(cwd) / w).is_dir() for w in operands[1:]
                                              if not any(c in w for c in "*?[$")):
                    changed = _insert_after_name(command, st, "-r")
            if changed:
                break
        if not changed or parse_error(changed):
            return command
        command = changed
    return command


def _drop_listing_filters(command: str, cwd: str | None) -> str:
    """``... | grep -v 'Makefile' | grep -v 'docs/' | ...``: two or more trailing filters that
    each drop one name of the cwd's listing are an echo of the listing the model was shown,
    not something asked for; they go."""
    if not cwd:
        return command
    try:
        names = {e.name for e in os.scandir(cwd)}
    except OSError:
        return command
    stages = _stage_words(command)
    if len(stages) < 3:
        return command
    cut = len(stages)
    while cut > 1:
        st = stages[cut - 1]
        words = [w for _, _, w in st]
        if len(words) == 3 and words[0] == "grep" and words[1] == "-v" and \
                words[2].strip("'\"").rstrip("/") in names:
            cut -= 1
        else:
            break
    if len(stages) - cut < 2:
        return command
    data = command.encode()
    return data[:stages[cut - 1][-1][1]].decode().rstrip()


def _rename_to_mv(command: str, cwd: str | None) -> str:
    """``rename old.txt new.txt`` (two names, no files to act on) means ``mv``: util-linux
    rename wants an expression, a replacement and files; perl rename an expression and files."""
    stages = _stage_words(command)
    if len(stages) != 1 or stages[0][0][2] != "rename" or len(stages[0]) != 3 or not cwd:
        return command
    src, dst = stages[0][1][2], stages[0][2][2]
    if src.startswith("-") or dst.startswith("-") or not (Path(cwd) / src).exists():
        return command
    return f"mv {src} {dst}"


def repair_known(command: str, request: str, cwd: str | None = None) -> str:
    """Rewrite answers that contradict the request in a known way (no model call):

    - ``sed -i`` when the request says not to change the file: print the result instead;
    - ``tar -x`` on a compressed file that is not an archive (``big.log.gz``): ``gunzip`` it;
    - ``--color=always`` the request did not ask for: dropped;
    - filters that drop the shown listing's names one by one, ``rename old new`` (``mv``);
    - an option the request asks for in words but the answer lacks (``_intent_flags``).
    """
    if not command or parse_error(command):
        return command
    fixed = command
    if _KEEP_FILE.search(request) and re.search(r"\bsed\b", fixed):
        fixed = _drop_in_place(fixed)
    fixed = _plain_decompress(fixed)
    if not re.search(r"colou?r", request, re.IGNORECASE):
        fixed = _drop_forced_colour(fixed)
    fixed = _drop_listing_filters(fixed, cwd)
    fixed = _rename_to_mv(fixed, cwd)
    fixed = _intent_flags(fixed, request, cwd)
    return fixed if fixed and parse_error(fixed) is None else command


def check_answer(command: str, request: str, cwd: str) -> tuple[str | None, str | None]:
    """(problem, repaired command) for an answer; (None, None) when it looks right.

    - it does not parse, invents a path (``/path/to/dir``), or gives a tool an option its
      documentation here does not have (``find -i``): the problem is for the one retry;
    - it lists a file's name where the request wants its content (``ls notes.txt | sort``,
      ``find notes.txt | wc -l``): repaired at once as ``sort < notes.txt`` (the model, told,
      mostly repeats itself; the repair costs nothing).
    """
    if not command.strip():
        return "there is no command in it: write the command itself on the first line", None
    error = parse_error(command)
    if error:
        return error, None
    made_up = _MADE_UP_PATH.search(command)
    if made_up and made_up.group(0) not in request:
        return (f"{made_up.group(0)} is a made-up path: use '.' or the path the request gives, "
                "or <name> for a value I must fill in"), None
    stages = _stages(command)
    from cmdai.retrieval import options

    for stage in stages:
        bad = options.unknown_option(stage)
        if bad:
            return f"{stage[0]} has no option {bad}", None
    if len(stages) >= 2 and stages[0][0] in ("ls", "find") and \
            stages[1][0] not in ("xargs", "while", "read", "parallel"):  # those want names
        head = stages[0]
        operands = [w for w in head[1:] if not w.startswith("-")]
        if head[0] == "find":
            listing_only = not any(w in ("-exec", "-execdir", "-printf", "-ls", "-print0", "-size")
                                   for w in head)
        else:
            listing_only = not any(_LS_METADATA.match(w) for w in head[1:] if w.startswith("-"))
        files = [w for w in operands if not any(c in w for c in "*?[") and
                 (Path(cwd) / w).is_file()]
        if listing_only and len(files) == 1:
            return (f"`{' '.join(head)}` prints only the name {files[0]}, not its content",
                    repair_listing(command, files[0]))
    return None, None


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
    meaning: Callable[[Any, str, int], list[str]] | None = None,
) -> Answer:
    """One command for ``text``, with its explanation and safety verdict. ``meaning`` ranks the
    user's history by meaning (``cmdai.retrieval.history``; the daemon passes its warm one)."""
    t0 = time.perf_counter()
    if cfg is None:
        from cmdai import config

        cfg = config.load().generate
    shape = prompt_shape(cfg)
    ctx = gather_context(cwd, shell, listing=cfg.listing and shape.listing)
    budget = min(cfg.history_examples, shape.history)
    corrected = corrections(text, min(2, budget), db)
    ran = {command for _, command in corrected}
    room = budget - len(corrected)
    examples = [c for c in history.examples(text, room + len(ran) if room > 0 else 0, db,
                                            meaning=meaning) if c not in ran][:room]
    utilities = candidate_utilities(text)
    docs = doc_lines(text, utilities, shape.options) if cfg.docs else []
    tips = tldr_examples(text, utilities, shape.tldr) if cfg.tldr else []
    system = system_prompt(ctx, shape)
    user = user_prompt(text, ctx, examples, docs, tips, corrected)
    stop = STOP if cfg.explain else (*STOP, "\n")
    request = Request(system=system, user=user, max_tokens=cfg.max_tokens, stop=stop,
                      on_token=on_token, cancel=cancel or threading.Event(),
                      grammar=GRAMMAR if cfg.grammar else None)
    backend, completion = complete_with_fallback(cfg, request, warn=warn, backends=backends)
    ttft = completion.ttft_ms
    command, explanation = parse_answer(completion.text)
    raw = completion.text
    attempts = 1
    command = repair_known(command, text, ctx.cwd)
    problem, repaired = check_answer(command, text, ctx.cwd)
    if repaired:
        command = repaired
    elif problem:
        attempts = 2
        what = (f"is not valid {ctx.shell}" if parse_error(command) else "is wrong")
        shown = command or next(iter(raw.strip().splitlines()), "")[:200]  # a sentence alone
        hint = ""
        if " has no option " in problem:
            lines = doc_lines(text, [problem.split()[0]], 2, named_only=False)
            hint = "".join(f"\n  {line}" for line in lines)
            hint = f" Its options for this: {hint}" if hint else ""
        retry = Request(
            system=system,
            user=f"{user}\n(Your answer `{shown}` {what}: {problem}.{hint} Answer again.)",
            max_tokens=cfg.max_tokens, stop=stop, on_token=on_token, cancel=request.cancel,
            grammar=request.grammar)
        completion = backend.complete(retry)
        first = command, explanation, raw
        command, explanation = parse_answer(completion.text)
        raw = completion.text
        if _MADE_UP_PATH.search(command) and parse_error(command) is None:
            command = repair_made_up(command, text)
        command = repair_known(command, text, ctx.cwd)
        if parse_error(command):
            if parse_error(first[0]) is None:
                command, explanation, raw = first  # the first answer was usable after all
            else:
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
