"""Backend selection: order, health, fallback with one line saying why, clear failures."""

from __future__ import annotations

import socket
import threading

import pytest

from cmdai import backends
from cmdai.backends import BackendError, Completion, Health, Request
from cmdai.config import GenerateConfig
from cmdai.errors import NoBackendError


class Double:
    """A test double backend: fixed health, a fixed answer or a failure."""

    def __init__(self, name, ok=True, answer="ls -la\n# list", fail=None):
        self.name, self.ok, self.answer, self.fail = name, ok, answer, fail
        self.calls = 0

    def health(self):
        return Health(self.ok, "fine" if self.ok else f"{self.name} is down")

    def complete(self, request):
        self.calls += 1
        if self.fail:
            raise BackendError(self.fail)
        return Completion(text=self.answer, model=self.name)


def test_doubles_satisfy_the_protocol():
    assert isinstance(Double("x"), backends.Backend)


def test_first_healthy_backend_answers_and_the_skip_is_said_once():
    warnings = []
    a, b = Double("a", ok=False), Double("b")
    used, completion = backends.complete_with_fallback(
        GenerateConfig(), Request("s", "u"), warn=warnings.append, backends=[a, b])
    assert used is b and completion.text.startswith("ls")
    assert a.calls == 0
    assert warnings == ["backend a unavailable (a is down); trying b"]


def test_failure_while_answering_falls_back():
    warnings = []
    a, b = Double("a", fail="model crashed"), Double("b")
    used, _ = backends.complete_with_fallback(
        GenerateConfig(), Request("s", "u"), warn=warnings.append, backends=[a, b])
    assert used is b and a.calls == 1
    assert warnings == ["backend a failed (model crashed); trying b"]


def test_no_backend_names_every_reason():
    with pytest.raises(NoBackendError) as err:
        backends.complete_with_fallback(
            GenerateConfig(), Request("s", "u"), warn=lambda m: None,
            backends=[Double("a", ok=False), Double("b", fail="boom")])
    assert "a is down" in err.value.message and "boom" in err.value.message
    assert "cmdai model install" in err.value.hint


def test_unknown_backend_in_config_is_reported():
    cfg = GenerateConfig(backends=["nope"])
    with pytest.raises(NoBackendError, match="nope"):
        backends.complete_with_fallback(cfg, Request("s", "u"), warn=lambda m: None)


def test_builtins_are_registered_like_addons():
    names = backends.factories()
    assert {"llama_cpp", "openai", "mlx"} <= set(names)
    for name in ("llama_cpp", "openai", "mlx"):
        assert isinstance(backends.create(name, GenerateConfig()), backends.Backend)


def test_missing_model_makes_llama_unhealthy_with_the_fix():
    health = backends.create("llama_cpp", GenerateConfig(model="qwen2.5-coder-0.5b")).health()
    assert not health.ok
    assert "cmdai model install qwen2.5-coder-0.5b" in health.detail


def test_mlx_says_why_it_is_unavailable():
    mlx = backends.create("mlx", GenerateConfig())
    health = mlx.health()
    assert not health.ok
    assert "mlx" in health.detail
    with pytest.raises(BackendError):
        mlx.complete(Request("s", "u"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_http_backend_connection_refused_is_clear():
    port = _free_port()
    be = backends.create("openai", GenerateConfig(server_url=f"http://127.0.0.1:{port}"))
    health = be.health()
    assert not health.ok and "connection refused" in health.detail
    with pytest.raises(BackendError, match="connection refused"):
        be.complete(Request("s", "u"))


def test_http_backend_times_out_on_a_silent_server():
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()
    accepted = []
    threading.Thread(target=lambda: accepted.append(srv.accept()), daemon=True).start()
    port = srv.getsockname()[1]
    be = backends.create("openai", GenerateConfig(server_url=f"http://127.0.0.1:{port}",
                                                  server_timeout=0.3))
    try:
        with pytest.raises(BackendError, match="timed out"):
            be.complete(Request("s", "u"))
    finally:
        srv.close()


def test_http_backend_rejects_a_non_http_url():
    with pytest.raises(BackendError, match="not an http"):
        backends.create("openai", GenerateConfig(server_url="ftp://x"))


def test_http_api_key_comes_from_the_named_variable(monkeypatch):
    be = backends.create("openai", GenerateConfig(server_api_key_env="CMDAI_TEST_KEY"))
    monkeypatch.delenv("CMDAI_TEST_KEY", raising=False)
    with pytest.raises(BackendError, match="CMDAI_TEST_KEY"):
        be._headers()
    monkeypatch.setenv("CMDAI_TEST_KEY", "k")
    assert be._headers()["Authorization"] == "Bearer k"


def test_status_table_reports_health_and_recorded_latencies():
    cfg = GenerateConfig(backends=["llama_cpp", "mlx"])
    backends.record_latency("llama_cpp", 812.4)
    backends.record_latency("llama_cpp", 640)
    rows = backends.status_table(cfg)
    assert [r["backend"] for r in rows] == ["llama_cpp", "mlx"]
    assert rows[0]["last_ms"] == [812, 640] and rows[0]["median_ms"] == 812
    assert not rows[1]["ok"] and rows[1]["last_ms"] == []
