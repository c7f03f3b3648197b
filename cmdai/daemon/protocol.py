"""The daemon's wire format, shared by the server, the in-process fallback and the tests.

The widget client (``cmdai/client.py``) cannot import this module (it runs with ``python -I -S``
and imports only the standard library), so it repeats the few constants it needs;
``tests/daemon`` checks that the two agree.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

from cmdai import paths

VERSION = 1
MAX_REQUEST = 1 << 20  # bytes in one request line
OPS = ("ping", "status", "assist", "generate", "explain", "ingest", "search", "shutdown")


class ProtocolError(ValueError):
    pass


def socket_path() -> Path:
    return paths.runtime_dir() / "daemon.sock"


def lock_path() -> Path:
    return paths.runtime_dir() / "daemon.lock"


def encode(message: dict[str, Any]) -> bytes:
    return (json.dumps({"v": VERSION, **message}, ensure_ascii=False) + "\n").encode()


def decode_request(line: bytes) -> dict[str, Any]:
    try:
        message = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProtocolError(f"not a JSON line: {exc}") from None
    if not isinstance(message, dict):
        raise ProtocolError("a request is a JSON object")
    if message.get("v") != VERSION:
        raise ProtocolError(f"unsupported protocol version {message.get('v')!r} (this is {VERSION})")
    if message.get("op") not in OPS:
        raise ProtocolError(f"unknown op {message.get('op')!r}; known: {', '.join(OPS)}")
    for key in ("text", "cwd", "shell", "session"):
        if key in message and not isinstance(message[key], str):
            raise ProtocolError(f"'{key}' must be a string")
    return message


def request(message: dict[str, Any], timeout: float = 5.0) -> list[dict[str, Any]]:
    """Send one request and read every reply line (for the CLI and tests)."""
    path = socket_path()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(str(path))
        s.sendall(json.dumps({"v": VERSION, **message}).encode() + b"\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    return [json.loads(line) for line in data.splitlines() if line.strip()]
