"""mlx-lm: for Apple Silicon, with an MLX model folder.

The folder is ``generate.mlx_model``, or else the one ``cmdai model install --format mlx NAME``
made from the catalog model ``generate.model`` (a GGUF converted locally; its manifest of
sha256s is checked before the first load, like a GGUF's). Install mlx-lm with
``pip install 'cmdai[mlx]'`` on Apple Silicon. Elsewhere mlx runs on the CPU only and is 20-500x
slower than llama.cpp: it works, and says so in its health, but belongs after llama_cpp.

Generation is greedy and uses the prompt the llama.cpp backend uses (the model's own chat
template, split just before the user's text). The prefix's KV cache stays warm between
requests; tokens stream to ``request.on_token``; ``request.cancel`` stops after the next token.
Heavy imports (mlx, mlx_lm, transformers) happen on the first ``complete``.
"""

from __future__ import annotations

import importlib.util
import json
import platform
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cmdai.backends import BackendError, Completion, Health, Request
from cmdai.errors import Cancelled, CmdaiError, ModelError

_LOCK = threading.Lock()
_MARKER = "\x00CMDAI-USER\x00"


@dataclass
class _Loaded:
    model: Any
    tokenizer: Any
    add_bos: bool
    load_ms: float
    cache: Any = None  # the KV cache, holding exactly `prefix` between requests
    prefix: tuple[int, ...] = ()


_LOADED: dict[str, _Loaded] = {}


def close_all() -> None:
    """Free the warm models (the daemon's idle unload)."""
    with _LOCK:
        _LOADED.clear()


def _apple_silicon() -> bool:
    return sys.platform == "darwin" and platform.machine() == "arm64"


class MlxBackend:
    name = "mlx"

    def __init__(self, cfg: Any) -> None:
        configured = getattr(cfg, "mlx_model", "") or ""
        self.catalog_name: str | None = None
        if configured:
            self.folder = Path(configured).expanduser()
        else:
            from cmdai import models
            from cmdai.models import convert

            self.catalog_name = getattr(cfg, "model", "") or models.DEFAULT
            self.folder = convert.folder_of(models.get(self.catalog_name))
        self.last_state = ""  # "warm" | "evaluated"

    @property
    def model_name(self) -> str:
        return self.catalog_name or self.folder.name

    def health(self) -> Health:
        if importlib.util.find_spec("mlx_lm") is None:
            where = "" if _apple_silicon() else " (on this platform mlx is CPU-only and slow)"
            return Health(False, "mlx-lm is not installed: pip install 'cmdai[mlx]'" + where)
        if not self.folder.exists():
            if self.catalog_name:
                return Health(False, f"no MLX model for {self.catalog_name}: run `cmdai model "
                              f"install --format mlx {self.catalog_name}` or set "
                              "generate.mlx_model")
            return Health(False, f"generate.mlx_model: {self.folder} does not exist")
        from cmdai.models import convert

        why = convert.quick_check(self.folder)
        if why:
            return Health(False, why)
        slow = "" if _apple_silicon() else " (mlx on the CPU: slow, list llama_cpp first)"
        return Health(True, f"{self.folder}{slow}")

    # -- loading ------------------------------------------------------------------------------
    def load(self) -> _Loaded:
        health = self.health()
        if not health.ok:
            raise BackendError(health.detail)
        from cmdai.models import convert

        key = str(self.folder.resolve())
        with _LOCK:
            loaded = _LOADED.get(key)
            if loaded is not None:
                return loaded
            try:
                convert.verify_folder(self.folder)
            except ModelError as err:
                raise BackendError(f"{err.message}; {err.hint}" if err.hint else err.message,
                                   err.hint) from err
            t0 = time.perf_counter()
            try:
                from mlx_lm import load
            except ImportError as exc:
                raise BackendError(f"cannot import mlx_lm: {exc}", "pip install 'cmdai[mlx]'") from exc
            try:
                result = load(key)
                model, tokenizer = result[0], result[1]
                tok_cfg = json.loads((self.folder / "tokenizer_config.json").read_text())
            except Exception as exc:  # mlx-lm raises many kinds: one line
                raise BackendError(f"mlx-lm could not load {self.folder}: "
                                   f"{type(exc).__name__}: {exc}") from exc
            loaded = _Loaded(model, tokenizer, bool(tok_cfg.get("add_bos_token", False)),
                             (time.perf_counter() - t0) * 1000)
            _LOADED[key] = loaded
            return loaded

    # -- prompt -------------------------------------------------------------------------------
    def tokens(self, loaded: _Loaded, system: str, user: str) -> tuple[list[int], list[int]]:
        """(prefix, rest): the chat prompt's tokens, split just before the user's text, exactly
        as the llama.cpp backend tokenizes it."""
        tok = loaded.tokenizer
        if not getattr(tok, "chat_template", None):
            from cmdai.backends.llama_cpp import CHATML

            tok.chat_template = CHATML
        try:
            prompt = tok.apply_chat_template(
                [{"role": "system", "content": system}, {"role": "user", "content": _MARKER}],
                add_generation_prompt=True, tokenize=False)
        except Exception as exc:  # a template error from jinja
            raise BackendError(f"the chat template of {self.folder} failed: {exc}") from exc
        prefix, found, suffix = prompt.partition(_MARKER)
        if not found:
            raise BackendError("the model's chat template dropped the user message")
        head = tok.encode(prefix, add_special_tokens=False)
        bos = tok.bos_token_id
        if loaded.add_bos and bos is not None and head[:1] != [bos]:
            head = [bos, *head]
        return head, tok.encode(user + suffix, add_special_tokens=False)

    # -- generation ---------------------------------------------------------------------------
    def complete(self, request: Request) -> Completion:
        t0 = time.perf_counter()
        loaded = self.load()
        prefix, rest = self.tokens(loaded, request.system, request.user)
        with _LOCK:  # one generation at a time per process: the KV cache is shared
            return self._generate(loaded, request, prefix, rest, t0)

    def _generate(self, loaded: _Loaded, request: Request, prefix: list[int], rest: list[int],
                  t0: float) -> Completion:
        from mlx_lm import stream_generate
        from mlx_lm.models.cache import can_trim_prompt_cache, make_prompt_cache, trim_prompt_cache

        if loaded.cache is not None and loaded.prefix == tuple(prefix):
            cache, feed, self.last_state = loaded.cache, rest, "warm"
        else:
            cache, feed, self.last_state = make_prompt_cache(loaded.model), prefix + rest, "evaluated"
        loaded.cache = None  # until it holds the prefix again
        stops = [s for s in request.stop if s]
        pending = ""  # text held back while it could be the start of a stop string
        pieces: list[str] = []
        ttft = None
        n_out = 0
        stream = stream_generate(loaded.model, loaded.tokenizer, feed,
                                 max_tokens=request.max_tokens, prompt_cache=cache)
        try:
            for response in stream:
                if request.cancel.is_set():
                    raise Cancelled()
                if ttft is None:
                    ttft = (time.perf_counter() - t0) * 1000
                n_out = response.generation_tokens
                pending += response.text
                cut = min((i for i in (pending.find(s) for s in stops) if i >= 0), default=-1)
                if cut >= 0:
                    pending = pending[:cut]
                    self._emit(request, pieces, pending)
                    pending = ""
                    break
                keep = max((k for s in stops for k in range(1, len(s))
                            if pending.endswith(s[:k])), default=0)
                self._emit(request, pieces, pending[:len(pending) - keep])
                pending = pending[len(pending) - keep:]
            self._emit(request, pieces, pending)
        except CmdaiError:
            raise
        except Exception as exc:  # an mlx runtime error: one line
            raise BackendError(f"mlx generation failed: {type(exc).__name__}: {exc}") from exc
        finally:
            stream.close()
            extra = cache[0].offset - len(prefix) if cache and hasattr(cache[0], "offset") else -1
            if extra >= 0 and can_trim_prompt_cache(cache) and (
                    extra == 0 or trim_prompt_cache(cache, extra) == extra):
                loaded.cache, loaded.prefix = cache, tuple(prefix)
        return Completion(
            text="".join(pieces), model=self.model_name, ttft_ms=ttft,
            total_ms=(time.perf_counter() - t0) * 1000,
            prompt_tokens=len(prefix) + len(rest), completion_tokens=n_out,
            extra={"kv": self.last_state, "load_ms": loaded.load_ms},
        )

    @staticmethod
    def _emit(request: Request, pieces: list[str], text: str) -> None:
        if text:
            pieces.append(text)
            if request.on_token:
                request.on_token(text)
