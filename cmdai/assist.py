"""What Ctrl-G does with the text on the command line.

Natural language becomes a command (``cmdai.generate``); text that already is a command gets an
explanation instead. The safety policy decides whether the proposal goes into the line editor:
``block`` keeps the user's text and says why, ``confirm`` and ``warn`` insert it with a warning.
Every answer is stored with its request, so that the command the user then runs can be linked
to it. The daemon and the in-process fallback (``cmdai assist --stream``) both call ``assist``.
"""

from __future__ import annotations

import re
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from cmdai.errors import CmdaiError

# Shell syntax that natural language rarely has: flags, pipes and redirections, variables,
# assignments, paths, globs, quotes.
_SHELL_SYNTAX = re.compile(
    r"(^|\s)--?[A-Za-z0-9]|[|&;<>$`]|\w=|(^|\s)(~|\.{1,2})?/|\*|'|\""
)
_BUILTINS = frozenset(
    "alias bg bind builtin cd command declare echo eval exec exit export fc fg hash help history "
    "jobs kill let local popd printf pushd pwd read set shift source test trap type ulimit umask "
    "unalias unset wait".split()
)


def looks_like_command(text: str, known: Callable[[str], bool] | None = None) -> bool:
    """True when ``text`` reads as a shell command rather than a request in English.

    ``known(text)`` may say whether the exact line is in the user's history.
    """
    words = text.split()
    if not words:
        return False
    first = words[0]
    runnable = first in _BUILTINS or shutil.which(first) is not None
    if not runnable:
        return False
    if len(words) == 1 or _SHELL_SYNTAX.search(text):
        return True
    return bool(known and known(text.strip()))


def status_line(kind: str, level: str, action: str, reason: str, seconds: float,
                model: str) -> str:
    meta = f"{seconds:.1f} s · {model}"
    if kind == "explanation":
        return f"cmdai: {meta}"
    if action == "block":
        return f"cmdai: not inserted: {level}: {reason}"
    if level in ("high", "critical") or action in ("confirm", "warn"):
        return f"cmdai: {level.upper()}: {reason} · {meta}" if reason else f"cmdai: {level} · {meta}"
    return f"cmdai: {level} · {meta}"


def explain(command: str, *, cfg: Any, shell: str, backends: Sequence[Any] | None,
            on_token: Callable[[str], None] | None, cancel: threading.Event,
            warn: Callable[[str], None]) -> tuple[str, Any, Any]:
    """A one-to-two sentence explanation of ``command`` from the same backend."""
    from cmdai.backends import Request, complete_with_fallback
    from cmdai.generate import scrub_secrets

    request = Request(
        system=("You explain shell commands to a user in one or two short plain sentences. "
                "Say what it does and anything risky. No markdown, no code blocks."),
        user=f"Explain this {shell} command:\n{scrub_secrets(command)}",
        max_tokens=80, stop=("\n\n",), on_token=on_token, cancel=cancel,
    )
    backend, completion = complete_with_fallback(cfg, request, warn=warn, backends=backends)
    return " ".join(completion.text.split()), backend, completion


def assist(text: str, *, cwd: str, shell: str, session: str = "", mode: str = "auto",
           cfg: Any = None, backends: Sequence[Any] | None = None,
           on_event: Callable[[dict[str, Any]], None] = lambda e: None,
           cancel: threading.Event | None = None, store: Any = None,
           meaning: Callable[[Any, str, int], list[str]] | None = None) -> dict[str, Any]:
    """Answer one Ctrl-G. Returns the final ``result`` message of the daemon protocol.

    ``mode`` is ``auto`` (decide), ``generate`` or ``explain``. ``on_event`` receives progress
    and token messages while the answer is produced. ``meaning`` is passed to ``generate``.
    """
    from cmdai import config
    from cmdai.generate import scrub_secrets
    from cmdai.history import generations

    t0 = time.perf_counter()
    text = text.strip()
    if not text:
        raise CmdaiError("nothing to do", "type what you want on the command line, then Ctrl-G")
    full = config.load()
    cfg = cfg or full.generate
    cancel = cancel or threading.Event()
    warnings: list[str] = []

    def warn(message: str) -> None:
        warnings.append(message)
        on_event({"type": "progress", "stage": "fallback", "message": message})

    def on_token(token: str) -> None:
        on_event({"type": "token", "text": token})

    if mode == "auto":
        def known(line: str) -> bool:
            return store is not None and bool(store.conn.execute(
                "SELECT 1 FROM history WHERE command = ? AND deleted_at IS NULL LIMIT 1",
                (line,)).fetchall())
        mode = "explain" if looks_like_command(text, known) else "generate"

    on_event({"type": "progress", "stage": mode})
    from cmdai.safety import check

    if mode == "explain":
        explanation, backend, completion = explain(
            text, cfg=cfg, shell=shell, backends=backends, on_token=on_token, cancel=cancel,
            warn=warn)
        command, kind, model, backend_name = text, "explanation", completion.model, backend.name
        verdict = check(text, cwd=cwd)
    else:
        from cmdai.generate import generate

        answer = generate(text, cfg=cfg, cwd=cwd, shell=shell, on_token=on_token,
                          cancel=cancel, warn=warn, backends=backends, meaning=meaning)
        command, explanation, kind = answer.command, answer.explanation, "command"
        model, backend_name = answer.model, answer.backend
        verdict = answer.safety if answer.safety is not None else check(command, cwd=cwd)

    seconds = time.perf_counter() - t0
    reason = verdict.rules[0].reason if verdict.rules else ""
    action = "keep" if kind == "explanation" or verdict.action == "block" else "insert"
    result = {
        "type": "result",
        "kind": kind,
        "command": command,
        "explanation": explanation,
        "safety": verdict.to_dict(),
        "action": action,
        "message": status_line(kind, verdict.level, verdict.action, reason, seconds, model),
        "backend": backend_name,
        "model": model,
        "latency_ms": round(seconds * 1000),
        "warnings": warnings,
    }
    if store is not None:
        generations.record(store, generations.Generation(
            request=scrub_secrets(text), command=scrub_secrets(command), session=session,
            cwd=cwd, kind=kind, level=verdict.level, inserted=action == "insert",
            backend=backend_name, model=model, latency_ms=result["latency_ms"]))
    return result
