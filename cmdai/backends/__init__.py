"""Generation backends: one small Protocol, one module per backend, found by name.

A backend turns a chat (system + user messages) into text, streaming tokens to a callback and
stopping when ``cancel`` is set. Built-ins are registered exactly the way an add-on is: a name
in ``BUILTIN`` ("module:factory"), or an entry point in the ``cmdai.backends`` group. A factory
takes the ``GenerateConfig`` and returns a Backend; constructing one must be cheap (no model
loading: that happens on the first ``complete``).

Selection walks ``generate.backends`` in order, skips a backend whose ``health()`` is not ok,
and falls back to the next when one fails, saying why in one line.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from cmdai.errors import CmdaiError, NoBackendError

BUILTIN: dict[str, str] = {
    "llama_cpp": "cmdai.backends.llama_cpp:LlamaCppBackend",
    "openai": "cmdai.backends.openai_http:OpenAIBackend",
    "mlx": "cmdai.backends.mlx:MlxBackend",
}


class BackendError(CmdaiError):
    """A backend could not answer (unreachable, failed to load, bad reply)."""


@dataclass(frozen=True)
class Health:
    ok: bool
    detail: str  # why not, or what it will use (model file, server url)


@dataclass
class Request:
    system: str
    user: str
    max_tokens: int = 96
    stop: Sequence[str] = ()
    on_token: Callable[[str], None] | None = None
    cancel: threading.Event = field(default_factory=threading.Event)
    grammar: str | None = None  # GBNF for backends that support it; others ignore it


@dataclass(frozen=True)
class Completion:
    text: str
    model: str
    ttft_ms: float | None = None  # time to first token
    total_ms: float = 0.0
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Backend(Protocol):
    name: str

    def health(self) -> Health: ...

    def complete(self, request: Request) -> Completion: ...


def factories() -> dict[str, str]:
    """Backend name -> "module:factory", built-ins first, then installed add-ons."""
    found = dict(BUILTIN)
    from importlib.metadata import entry_points

    for ep in entry_points(group="cmdai.backends"):
        found.setdefault(ep.name, ep.value)
    return found


def create(name: str, cfg: Any) -> Backend:
    """The backend registered as ``name``; a ``module:factory`` name is imported directly
    (a backend that is not packaged with an entry point, e.g. one under development)."""
    target = factories().get(name) or (name if ":" in name else None)
    if target is None:
        raise NoBackendError(
            f"unknown backend '{name}' in generate.backends",
            f"known backends: {', '.join(factories())}",
        )
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)(cfg)


def complete_with_fallback(
    cfg: Any,
    request: Request,
    *,
    warn: Callable[[str], None],
    backends: Sequence[Backend] | None = None,
) -> tuple[Backend, Completion]:
    """Try the configured backends in order; the first healthy one that answers wins."""
    names = list(cfg.backends) if backends is None else [b.name for b in backends]
    if not names:
        raise NoBackendError("no backend configured", "set generate.backends in the config")
    reasons = []
    for i, name in enumerate(names):
        nxt = f"; trying {names[i + 1]}" if i + 1 < len(names) else ""
        try:
            backend = backends[i] if backends is not None else create(name, cfg)
            health = backend.health()
        except (ImportError, BackendError) as exc:
            health = Health(False, getattr(exc, "message", None) or str(exc))
        if not health.ok:
            reasons.append(f"{name}: {health.detail}")
            if nxt:
                warn(f"backend {name} unavailable ({health.detail}){nxt}")
            continue
        try:
            completion = backend.complete(request)
            record_latency(name, completion.total_ms)
            return backend, completion
        except BackendError as err:
            reasons.append(f"{name}: {err.message}")
            if nxt:
                warn(f"backend {name} failed ({err.message}){nxt}")
    raise NoBackendError(
        "no backend could answer: " + "; ".join(reasons),
        f"run `cmdai model install {_default_model()}`, or fix generate.backends",
    )


def _default_model() -> str:
    from cmdai.models import DEFAULT

    return DEFAULT


# -- health table (for `cmdai doctor`) -------------------------------------------------------
def _latency_file():
    from cmdai import paths

    return paths.cache_dir() / "backend-latency.json"


def record_latency(name: str, ms: float, keep: int = 20) -> None:
    """Remember the last answers' latencies per backend (best effort; a cache)."""
    import json

    path = _latency_file()
    try:
        data = json.loads(path.read_text()) if path.exists() else {}
        data[name] = (data.get(name, []) + [round(ms)])[-keep:]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data))
    except (OSError, ValueError):
        pass


def status_table(cfg: Any) -> list[dict[str, Any]]:
    """One row per configured backend, in order: name, ok, detail, last latencies (ms)."""
    import json

    try:
        latencies = json.loads(_latency_file().read_text())
    except (OSError, ValueError):
        latencies = {}
    rows = []
    for name in cfg.backends:
        try:
            health = create(name, cfg).health()
        except (ImportError, CmdaiError) as exc:
            health = Health(False, getattr(exc, "message", None) or str(exc))
        last = latencies.get(name, [])
        rows.append({"backend": name, "ok": health.ok, "detail": health.detail,
                     "last_ms": last[-5:],
                     "median_ms": sorted(last)[len(last) // 2] if last else None})
    return rows
