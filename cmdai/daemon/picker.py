"""The history picker, drawn by the daemon on the caller's terminal.

A picker process costs ~110 ms of prompt-toolkit imports before it can draw; the daemon has
them loaded. The widget's stdlib client connects to ``picker.sock``, passes its /dev/tty file
descriptor over SCM_RIGHTS with a JSON request line, and gets one JSON line back:
``{"type": "picked", "action", "command"}`` or ``{"type": "cancelled"}``. Each pick runs in its
own thread with its own prompt-toolkit event loop, store connection and searcher (the ranking
depends on the caller's directory and session). The embedding model is shared process-wide.
"""

from __future__ import annotations

import json
import os
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cmdai import paths
from cmdai.daemon import protocol


def socket_path() -> Path:
    return paths.runtime_dir() / "picker.sock"


class PickerServer:
    def __init__(self, search_cfg: Any, log: Callable[[str], None],
                 before_pick: Callable[[], None] = lambda: None,
                 make_searcher: Callable[[Any, Any], Any] | None = None) -> None:
        self.cfg = search_cfg
        self.log = log
        self.before_pick = before_pick  # e.g. ingest what the shell just recorded
        # (store, context) -> Searcher sharing the daemon's embedder and vector index; the
        # daemon embeds new commands in the background, so a pick never embeds
        self.make_searcher = make_searcher
        self.sock: socket.socket | None = None
        self.picks = 0  # pickers drawn (for `cmdai daemon status`)
        self.active = 0  # pickers open now (background work waits for them)

    def start(self) -> None:
        path = socket_path()
        path.unlink(missing_ok=True)  # the daemon holds the lock: a leftover is stale
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old_umask = os.umask(0o177)
        try:
            sock.bind(str(path))
        finally:
            os.umask(old_umask)
        os.chmod(path, 0o600)
        sock.listen(8)
        self.sock = sock
        threading.Thread(target=self._accept_loop, name="picker-accept", daemon=True).start()

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        socket_path().unlink(missing_ok=True)

    def _accept_loop(self) -> None:
        while self.sock is not None:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), name="picker", daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        fds: list[int] = []
        cleanup: Callable[[], None] = lambda: None
        with conn:
            try:
                if hasattr(socket, "SO_PEERCRED"):
                    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12)
                    if int.from_bytes(creds[4:8], "little") != os.getuid():
                        raise protocol.ProtocolError("this daemon serves its own user only")
                data, fds, _, _ = socket.recv_fds(conn, protocol.MAX_REQUEST, 1)
                request = json.loads(data.decode() or "null")
                if not isinstance(request, dict) or request.get("v") != protocol.VERSION:
                    raise protocol.ProtocolError("a picker request is a version-1 JSON object")
                if len(fds) != 1:
                    raise protocol.ProtocolError("a picker request passes one terminal")
                reply, cleanup = self.pick(request, fds[0])
            except (protocol.ProtocolError, ValueError) as exc:
                reply = {"type": "error", "code": 2, "message": str(exc)}
            except Exception as exc:  # noqa: BLE001 - a failed pick never stops the daemon
                self.log(f"picker failed: {type(exc).__name__}: {exc}")
                reply = {"type": "error", "code": 1,
                         "message": f"picker failed: {type(exc).__name__}: {exc}"}
            finally:
                for fd in fds:
                    os.close(fd)
            try:
                conn.sendall(protocol.encode(reply))
            except OSError:
                pass
            cleanup()  # after the reply: the shell gets its line without waiting for this

    def pick(self, request: dict[str, Any], fd: int
             ) -> tuple[dict[str, Any], Callable[[], None]]:
        """Draw the picker on ``fd``; the reply, and what to run once it is sent."""
        if not os.isatty(fd):
            raise protocol.ProtocolError("the passed file descriptor is not a terminal")
        self.active += 1
        self.picks += 1
        try:
            self.before_pick()
            return self._pick(request, fd)
        finally:
            self.active -= 1

    def _pick(self, request: dict[str, Any], fd: int
              ) -> tuple[dict[str, Any], Callable[[], None]]:
        from prompt_toolkit.input import create_input
        from prompt_toolkit.output import create_output

        from cmdai.history.store import Store
        from cmdai.semantic.search import Context
        from cmdai.ui.picker import Picker

        store = Store.open()
        picker: Picker | None = None

        def cleanup() -> None:
            # the picker's background loader may still be reading vectors from the store:
            # closing the connection under it fails (APSW ThreadingViolationError)
            if picker is not None:
                picker.wait()
            store.close()

        tty_in = os.fdopen(os.dup(fd), "r")
        tty_out = os.fdopen(os.dup(fd), "w")
        try:
            context = Context.current(cwd=request.get("cwd") or None,
                                      session=request.get("session") or None)
            searcher = self.make_searcher(store, context) if self.make_searcher else None
            picker = Picker(store, self.cfg, context, query=str(request.get("text", "")),
                            input=create_input(tty_in), output=create_output(stdout=tty_out),
                            searcher=searcher, embed_limit=0 if searcher else None)
            choice = picker.run()
        except BaseException:
            cleanup()
            raise
        finally:
            tty_in.close()
            tty_out.close()
        if choice is None:
            return {"type": "cancelled"}, cleanup
        return {"type": "picked", "action": choice.action, "command": choice.command}, cleanup
