"""The OpenAI-compatible backend against a real llama-cpp-python server on loopback."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import pytest

from cmdai import backends, generate as g
from cmdai.backends import Request
from cmdai.config import GenerateConfig

from .conftest import SMALL

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(installed, tmp_path_factory):
    pytest.importorskip("llama_cpp.server", reason="needs the server extra: pip install 'cmdai[server]'")
    model = installed(SMALL)
    port = _free_port()
    log = tmp_path_factory.mktemp("server") / "log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host",
             "127.0.0.1", "--port", str(port), "--n_ctx", "2048", "--model_alias", "small"],
            stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    be = backends.create("openai", GenerateConfig(server_url=url))
    deadline = time.monotonic() + 180
    while not be.health().ok:
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"server did not start: {log.read_text()[-2000:]}")
        time.sleep(0.5)
    yield url
    proc.terminate()
    proc.wait(timeout=30)


def test_health_names_the_served_model(server):
    be = backends.create("openai", GenerateConfig(server_url=server))
    health = be.health()
    assert health.ok and "small" in health.detail
    wrong = backends.create("openai", GenerateConfig(server_url=server, server_model="other"))
    assert not wrong.health().ok and "small" in wrong.health().detail


def test_streams_a_completion(server):
    be = backends.create("openai", GenerateConfig(server_url=server))
    be.health()
    pieces = []
    c = be.complete(Request(system="Answer with one shell command.", user="print the date",
                            max_tokens=16, on_token=pieces.append, stop=g.STOP))
    assert len(pieces) > 1 and "".join(pieces).startswith(c.text[:5])
    assert c.text.strip() and c.ttft_ms is not None and c.model == "small"


def test_generate_end_to_end_through_the_server(server, project):
    cfg = GenerateConfig(backends=["openai"], server_url=server)
    answer = g.generate("list the python files in src", cfg=cfg, cwd=str(project))
    assert answer.backend == "openai"
    assert g.parse_error(answer.command) is None and answer.command


def test_falls_back_from_a_dead_server_to_the_live_one(server, project):
    warnings = []
    dead = backends.create("openai", GenerateConfig(server_url=f"http://127.0.0.1:{_free_port()}"))
    live = backends.create("openai", GenerateConfig(server_url=server))
    answer = g.generate("show the current directory", cfg=GenerateConfig(), cwd=str(project),
                        backends=[dead, live], warn=warnings.append)
    assert answer.command and len(warnings) == 1 and "connection refused" in warnings[0]
