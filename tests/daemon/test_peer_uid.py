"""The daemon serves its own user only: the peer's uid is read from the socket (SO_PEERCRED)
and a connection from another uid is refused before its request is read."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from cmdai.daemon import protocol, server

CLIENT = Path(__file__).resolve().parents[2] / "cmdai" / "client.py"

pytestmark = pytest.mark.skipif(not hasattr(socket, "SO_PEERCRED"),
                                reason="SO_PEERCRED is Linux-only (macOS relies on the 0700 dir)")


async def _exchange(path: str, daemon: server.Daemon, payload: bytes) -> tuple[list[dict], int]:
    """Serve ``daemon.handle`` on ``path``, send one request, return the replies and how many
    requests the daemon counted."""
    srv = await asyncio.start_unix_server(daemon.handle, path=path)
    try:
        reader, writer = await asyncio.open_unix_connection(path)
        writer.write(payload)
        await writer.drain()
        data = await asyncio.wait_for(reader.read(), timeout=30)
        writer.close()
        await writer.wait_closed()
    finally:
        srv.close()
        await srv.wait_closed()
    return [json.loads(line) for line in data.splitlines()], daemon.requests


def run(tmp_path, payload: bytes = b'{"v": 1, "op": "ping"}\n') -> tuple[list[dict], int]:
    async def go():
        daemon = server.Daemon()  # reads the test's config; loads no model
        return await _exchange(str(tmp_path / "d.sock"), daemon, payload)

    return asyncio.run(go())


def test_peer_uid_is_read_from_the_connection():
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        class Writer:
            def get_extra_info(self, name):
                return a if name == "socket" else None

        assert server._peer_uid(Writer()) == os.getuid()
    finally:
        a.close()
        b.close()


def test_same_uid_is_served(tmp_path):
    replies, requests = run(tmp_path)
    assert [(r["type"], r["pid"]) for r in replies] == [("pong", os.getpid())]
    assert requests == 1


def test_another_uid_is_refused_before_the_request_is_read(tmp_path, monkeypatch):
    seen: list[int | None] = []
    real = server._peer_uid

    def other_user(writer):
        seen.append(real(writer))  # the real lookup on the real socket
        return os.getuid() + 1

    monkeypatch.setattr(server, "_peer_uid", other_user)
    replies, requests = run(tmp_path, b'{"v": 1, "op": "shutdown"}\n')
    assert seen == [os.getuid()]
    assert [(r["type"], r["message"]) for r in replies] == [
        ("error", "this daemon serves its own user only")]
    assert requests == 0  # the request was never parsed, let alone dispatched


def test_an_unknown_peer_uid_is_served(tmp_path, monkeypatch):
    # no SO_PEERCRED answer (e.g. macOS): the 0700 runtime directory is the guard
    monkeypatch.setattr(server, "_peer_uid", lambda writer: None)
    replies, _ = run(tmp_path)
    assert replies[0]["type"] == "pong"


def test_the_widget_client_of_another_uid_is_told_why(cmdai_home, monkeypatch):
    # the real stdlib client sends its request at once; the refusal must still reach it
    monkeypatch.setattr(server, "_peer_uid", lambda writer: os.getuid() + 1)
    ready, stop = threading.Event(), threading.Event()
    daemon_box: list[server.Daemon] = []

    async def serve():
        server.prepare_runtime_dir()
        daemon = server.Daemon()
        daemon_box.append(daemon)
        srv = await asyncio.start_unix_server(daemon.handle, path=str(protocol.socket_path()))
        ready.set()
        while not stop.is_set():
            await asyncio.sleep(0.02)
        srv.close()
        await srv.wait_closed()

    thread = threading.Thread(target=asyncio.run, args=(serve(),), daemon=True)
    thread.start()
    try:
        assert ready.wait(30)
        env = dict(os.environ, CMDAI_HOME=str(cmdai_home))
        out = subprocess.run([sys.executable, "-I", "-S", str(CLIENT), "--shell", "bash", "--",
                              "list files"], env=env, capture_output=True, text=True, timeout=60, check=False,
                             stdin=subprocess.DEVNULL)
    finally:
        stop.set()
        thread.join(30)
    assert out.stdout.splitlines()[:2] == ["error", "cmdai: this daemon serves its own user only"]
    assert out.returncode == 1
    assert daemon_box[0].requests == 0
