"""An OpenAI-compatible HTTP server: llama.cpp's server, Ollama, vLLM, or any endpoint you set.

Standard library only (http.client): POST ``/v1/chat/completions`` with ``stream: true`` and
read the server-sent events. ``generate.server_timeout`` bounds connecting and each wait for
the next chunk. The API key, when needed, is read from the environment variable NAMED by
``generate.server_api_key_env`` (the config file never holds the secret).
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import time
from typing import Any
from urllib.parse import urlsplit

from cmdai.backends import BackendError, Completion, Health, Request
from cmdai.errors import Cancelled


class OpenAIBackend:
    name = "openai"

    def __init__(self, cfg: Any) -> None:
        self.url = getattr(cfg, "server_url", "http://127.0.0.1:8080").rstrip("/")
        self.model = getattr(cfg, "server_model", "")
        self.timeout = float(getattr(cfg, "server_timeout", 30.0))
        self.key_env = getattr(cfg, "server_api_key_env", "")
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise BackendError(f"generate.server_url is not an http(s) URL: {self.url!r}")
        self._parts = parts
        self._base = parts.path.rstrip("/")
        if not self._base.endswith("/v1"):
            self._base += "/v1"

    def _conn(self, timeout: float) -> http.client.HTTPConnection:
        cls = http.client.HTTPSConnection if self._parts.scheme == "https" else http.client.HTTPConnection
        return cls(self._parts.hostname, self._parts.port, timeout=timeout)

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
        if self.key_env:
            key = os.environ.get(self.key_env)
            if not key:
                raise BackendError(f"the environment variable {self.key_env} (the API key) is unset",
                                   "export it, or clear generate.server_api_key_env")
            headers["Authorization"] = f"Bearer {key}"
        return headers

    def _get(self, path: str, timeout: float) -> Any:
        conn = self._conn(timeout)
        try:
            conn.request("GET", self._base + path, headers=self._headers())
            resp = conn.getresponse()
            body = resp.read()
            if resp.status != 200:
                raise BackendError(f"{self.url}{path} answered HTTP {resp.status}")
            return json.loads(body)
        except (OSError, http.client.HTTPException, ValueError) as exc:
            raise BackendError(f"cannot reach {self.url}: {_reason(exc)}") from exc
        finally:
            conn.close()

    def health(self) -> Health:
        try:
            data = self._get("/models", timeout=min(self.timeout, 2.0))
        except BackendError as err:
            return Health(False, err.message)
        names = [m.get("id", "") for m in data.get("data", [])] if isinstance(data, dict) else []
        if self.model and names and self.model not in names:
            return Health(False, f"{self.url} does not serve model {self.model!r} "
                                 f"(it has {', '.join(names)})")
        if not self.model and names:
            self.model = names[0]
        return Health(True, f"{self.url} ({self.model or 'default model'})")

    def complete(self, request: Request) -> Completion:
        t0 = time.perf_counter()
        body = {
            "messages": [{"role": "system", "content": request.system},
                         {"role": "user", "content": request.user}],
            "max_tokens": request.max_tokens, "temperature": 0, "stream": True,
        }
        if self.model:
            body["model"] = self.model
        if request.stop:
            body["stop"] = list(request.stop)[:4]  # the OpenAI API accepts at most 4
        conn = self._conn(self.timeout)
        pieces: list[str] = []
        ttft = None
        n_chunks = 0
        model = self.model
        try:
            conn.request("POST", self._base + "/chat/completions", body=json.dumps(body),
                         headers=self._headers())
            resp = conn.getresponse()
            if resp.status != 200:
                detail = resp.read(500).decode("utf-8", "replace").strip()
                raise BackendError(f"{self.url} answered HTTP {resp.status}: {detail}")
            for raw in resp:  # one SSE line at a time; each wait is bounded by the timeout
                if request.cancel.is_set():
                    raise Cancelled()
                line = raw.decode("utf-8", "replace").strip()
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    break
                try:
                    event = json.loads(data)
                except ValueError as exc:
                    raise BackendError(f"{self.url} sent a malformed event: {data[:80]!r}") from exc
                if "error" in event:
                    raise BackendError(f"{self.url} reported: {event['error']}")
                model = event.get("model") or model
                for choice in event.get("choices", []):
                    piece = (choice.get("delta") or {}).get("content") or ""
                    if piece:
                        n_chunks += 1
                        if ttft is None:
                            ttft = (time.perf_counter() - t0) * 1000
                        pieces.append(piece)
                        if request.on_token:
                            request.on_token(piece)
        except (OSError, http.client.HTTPException) as exc:
            raise BackendError(f"request to {self.url} failed: {_reason(exc)}") from exc
        finally:
            conn.close()
        text = "".join(pieces)
        for stop in request.stop:  # servers that ignore extra stop strings
            text = text.split(stop, 1)[0]
        return Completion(text=text, model=model or "server", ttft_ms=ttft,
                          total_ms=(time.perf_counter() - t0) * 1000, completion_tokens=n_chunks)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return "timed out"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (is the server running?)"
    return str(exc) or type(exc).__name__
