"""Start, stop and ask the daemon from the command line (and from the widget's autostart)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any

from cmdai import paths
from cmdai.daemon import protocol
from cmdai.daemon.protocol import request
from cmdai.errors import CmdaiError


def ping(timeout: float = 1.0) -> dict[str, Any] | None:
    try:
        replies = request({"op": "ping"}, timeout=timeout)
    except (OSError, ValueError):
        return None
    return replies[0] if replies and replies[0].get("type") == "pong" else None


def status() -> dict[str, Any] | None:
    try:
        replies = request({"op": "status"}, timeout=2.0)
    except (OSError, ValueError):
        return None
    return replies[0] if replies else None


def _lock_pid() -> int | None:
    try:
        return int(protocol.lock_path().read_text().strip())
    except (OSError, ValueError):
        return None


def spawn_lazy() -> None:
    """Start the daemon in the background without waiting, and without loading the language
    model until the first Ctrl-G: what the history picker does, so that the next Up is drawn
    by the daemon. A daemon already running keeps the lock, and the new one exits."""
    paths.ensure_dir(paths.data_dir())
    with open(paths.data_dir() / "daemon.out", "ab") as fh:
        subprocess.Popen(
            [sys.executable, "-m", "cmdai", "daemon", "run", "--lazy"], stdin=subprocess.DEVNULL,
            stdout=fh, stderr=subprocess.STDOUT, start_new_session=True, close_fds=True,
        )


def start(wait: float = 10.0) -> tuple[int, bool]:
    """Start the daemon in the background unless it runs. Returns (pid, started_now)."""
    running = ping()
    if running:
        return running["pid"], False
    paths.ensure_dir(paths.data_dir())
    out = paths.data_dir() / "daemon.out"
    with open(out, "ab") as fh:
        proc = subprocess.Popen(
            [sys.executable, "-m", "cmdai", "daemon", "run"], stdin=subprocess.DEVNULL,
            stdout=fh, stderr=subprocess.STDOUT, start_new_session=True, close_fds=True,
        )
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            if proc.returncode == 0 or ping():
                pong = ping()
                if pong:  # another daemon won the race
                    return pong["pid"], False
            tail = out.read_text(errors="replace").strip().splitlines()[-3:]
            raise CmdaiError(f"the daemon exited at start: {' / '.join(tail) or proc.returncode}",
                             f"see {out}")
        pong = ping(0.5)
        if pong:
            return pong["pid"], True
        time.sleep(0.05)
    raise CmdaiError(f"the daemon did not answer within {wait:.0f} s", f"see {out}")


def stop(wait: float = 10.0) -> bool:
    """Stop the daemon. Returns False when none was running."""
    pid = _lock_pid()
    try:
        request({"op": "shutdown"}, timeout=2.0)
    except (OSError, ValueError):
        if pid is None or not _alive(pid):
            protocol.socket_path().unlink(missing_ok=True)
            return False
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if pid is None or not _alive(pid):
            return True
        time.sleep(0.05)
    raise CmdaiError(f"the daemon (pid {pid}) did not stop within {wait:.0f} s",
                     f"kill {pid}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie child of this process counts as gone
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return True
