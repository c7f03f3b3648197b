"""mlx-lm: for Apple Silicon, with an MLX model folder (``generate.mlx_model``).

Install there with ``pip install 'cmdai[mlx]'``. On other platforms mlx runs on the CPU only and
is 20-500x slower than llama.cpp, so this backend reports itself unavailable unless mlx-lm is
installed and a model folder is configured; it never pretends to answer.
"""

from __future__ import annotations

import importlib.util
import platform
import sys
import time
from pathlib import Path
from typing import Any

from cmdai.backends import BackendError, Completion, Health, Request
from cmdai.errors import Cancelled

_LOADED: dict[str, tuple[Any, Any]] = {}


class MlxBackend:
    name = "mlx"

    def __init__(self, cfg: Any) -> None:
        self.folder = Path(getattr(cfg, "mlx_model", "") or "").expanduser()
        self.configured = bool(getattr(cfg, "mlx_model", ""))

    def health(self) -> Health:
        if importlib.util.find_spec("mlx_lm") is None:
            where = ("" if sys.platform == "darwin" and platform.machine() == "arm64"
                     else " (and on this platform mlx is CPU-only and slow; use llama_cpp)")
            return Health(False, "mlx-lm is not installed: pip install 'cmdai[mlx]'" + where)
        if not self.configured:
            return Health(False, "no MLX model folder: set generate.mlx_model")
        if not (self.folder / "config.json").is_file():
            return Health(False, f"{self.folder} is not an MLX model folder (no config.json)")
        return Health(True, str(self.folder))

    def complete(self, request: Request) -> Completion:
        health = self.health()
        if not health.ok:
            raise BackendError(health.detail)
        t0 = time.perf_counter()
        from mlx_lm import load, stream_generate

        key = str(self.folder.resolve())
        if key not in _LOADED:
            _LOADED[key] = load(key)
        model, tokenizer = _LOADED[key]
        prompt = tokenizer.apply_chat_template(
            [{"role": "system", "content": request.system},
             {"role": "user", "content": request.user}],
            add_generation_prompt=True, tokenize=False)
        pieces: list[str] = []
        ttft = None
        for response in stream_generate(model, tokenizer, prompt, max_tokens=request.max_tokens):
            if request.cancel.is_set():
                raise Cancelled()
            if ttft is None:
                ttft = (time.perf_counter() - t0) * 1000
            pieces.append(response.text)
            if request.on_token:
                request.on_token(response.text)
            text = "".join(pieces)
            if any(s in text for s in request.stop):
                break
        text = "".join(pieces)
        for stop in request.stop:
            text = text.split(stop, 1)[0]
        return Completion(text=text, model=self.folder.name, ttft_ms=ttft,
                          total_ms=(time.perf_counter() - t0) * 1000)
