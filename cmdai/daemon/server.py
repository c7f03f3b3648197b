"""The daemon: asyncio, one per user, a unix socket (0600) in a 0700 runtime directory.

It holds the generation backends (and so the model) warm, ingests the spool every second, and
answers one request per connection. Generation runs in a worker thread; a client that goes away
cancels its generation; a bad request gets an error line and the daemon carries on; a model that
fails to load is reported to the client and the daemon keeps serving what it can.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import signal
import socket
import struct
import sys
import threading
import time
from pathlib import Path
from typing import Any

from cmdai import paths
from cmdai.daemon import protocol
from cmdai.errors import CmdaiError

INGEST_EVERY = 1.0  # seconds between spool scans
EMBED_BATCH = 256  # commands embedded per scan in the background


class AlreadyRunning(CmdaiError):
    pass


def _rss_kb() -> int:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _peer_uid(writer: asyncio.StreamWriter) -> int | None:
    sock = writer.get_extra_info("socket")
    if sock is None or not hasattr(socket, "SO_PEERCRED"):
        return None  # macOS: the 0700 directory is the guard
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return struct.unpack("3i", creds)[1]


def prepare_runtime_dir() -> Path:
    """The runtime directory, created 0700; refuse one that someone else owns."""
    d = paths.runtime_dir()
    d.mkdir(parents=True, exist_ok=True, mode=0o700)
    st = d.stat()
    if st.st_uid != os.getuid():
        raise CmdaiError(f"{d} belongs to another user", "set XDG_RUNTIME_DIR or CMDAI_HOME")
    if st.st_mode & 0o077:
        os.chmod(d, 0o700)
    return d


class Daemon:
    def __init__(self, *, idle_unload: float | None = None, lazy: bool = False) -> None:
        from cmdai import config

        self.cfg = config.load()
        self.idle_unload = (self.cfg.daemon.idle_unload_minutes * 60
                            if idle_unload is None else idle_unload)
        self.started = time.time()
        self.requests = 0
        self.errors = 0
        self.backends: list[Any] | None = None
        self.backend_error: str | None = None
        self.last_used = time.monotonic()
        self.gen_lock = asyncio.Lock()
        self.stopping = asyncio.Event()
        self.store = None  # the ingest thread's connection
        self.gen_store = None  # the generation thread's (an APSW connection is not shared)
        self.ingested = 0
        self.ingest_lock = threading.Lock()
        self.embed_store = None  # the background embedding's connection
        self.embedded = 0
        self.lock_fh = None
        self.picker = None
        self.lazy = lazy  # started for the picker: load the language model at the first Ctrl-G
        self.searches = 0
        self.vectors: tuple[tuple[str, int], Any] | None = None  # `cmdai search`'s index
        self.vectors_lock = threading.Lock()

    # -- lifecycle -------------------------------------------------------------------------
    def acquire_lock(self) -> None:
        prepare_runtime_dir()
        fh = open(protocol.lock_path(), "a+")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            pid = fh.read().strip() or "?"
            fh.close()
            raise AlreadyRunning(f"a cmdai daemon is already running (pid {pid})",
                                 "`cmdai daemon status` shows it; `cmdai daemon stop` stops it")
        fh.seek(0)
        fh.truncate()
        fh.write(f"{os.getpid()}\n")
        fh.flush()
        self.lock_fh = fh

    async def serve(self) -> None:
        self.acquire_lock()
        try:
            # numpy (under llama_cpp, the embedder and the picker's ranking) refuses to be
            # imported by two threads at once ("cannot load module more than once per
            # process"): import it here, before the worker threads start
            import numpy  # noqa: F401
        except ImportError:
            pass
        self._prepare_store()
        sock_path = protocol.socket_path()
        # we hold the lock, so a socket file left here belongs to a daemon that died
        sock_path.unlink(missing_ok=True)
        old_umask = os.umask(0o177)
        try:
            server = await asyncio.start_unix_server(self.handle, path=str(sock_path),
                                                     limit=protocol.MAX_REQUEST)
        finally:
            os.umask(old_umask)
        os.chmod(sock_path, 0o600)
        from cmdai.daemon.picker import PickerServer

        self.picker = PickerServer(self.cfg.search, self.log, before_pick=self._ingest,
                                   make_searcher=self._searcher)
        self.picker.start()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stopping.set)
        tasks = [asyncio.create_task(self.ingest_loop()), asyncio.create_task(self.idle_loop()),
                 asyncio.create_task(self.preload())]
        self.log(f"listening on {sock_path} (pid {os.getpid()})")
        try:
            async with server:
                await self.stopping.wait()
        finally:
            for t in tasks:
                t.cancel()
            server.close()
            sock_path.unlink(missing_ok=True)
            if self.picker is not None:
                self.picker.close()
            self.unload()
            self.log("stopped")

    def _prepare_store(self) -> None:
        """Create and migrate the history database once, before any worker thread opens it.
        The generation, ingest and embedding threads each open their own connection at once;
        on a new database their migrations raced and one failed with "database is locked"
        (a first Ctrl-G answered with that error)."""
        from cmdai.history.store import Store

        try:
            Store.open().close()
        except CmdaiError as exc:  # each user of the store reports it again when it needs it
            self.log(f"history database: {exc}")

    def log(self, message: str) -> None:
        from cmdai.log import logger

        logger().info("daemon: " + message)

    # -- the model -------------------------------------------------------------------------
    def _load_backends(self) -> list[Any]:
        """Create the configured backends once and load the first healthy local model."""
        if self.backends is None:
            from cmdai.backends import create

            made = []
            for name in self.cfg.generate.backends:
                try:
                    made.append(create(name, self.cfg.generate))
                except CmdaiError as exc:
                    self.log(f"backend {name}: {exc}")
            self.backends = made
            for b in made:
                if hasattr(b, "load") and b.health().ok:
                    try:
                        b.load()
                        self.backend_error = None
                    except CmdaiError as exc:
                        self.backend_error = str(exc)
                        self.log(f"backend {b.name} failed to load: {exc}")
                    break
        self.last_used = time.monotonic()
        return self.backends

    def _warm_picker(self) -> None:
        """Import what the picker draws with, and load the embedding model, ahead of Up."""
        import prompt_toolkit.application  # noqa: F401

        import cmdai.ui.picker  # noqa: F401

        if self.cfg.search.semantic:
            from cmdai.semantic import model

            if model.available():
                from cmdai.semantic.embedder import shared

                shared()

    async def preload(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(None, self._warm_picker)
        except Exception as exc:  # noqa: BLE001 - the picker loads what it needs itself
            self.log(f"picker warm-up failed: {type(exc).__name__}: {exc}")
        if self.lazy:
            return
        async with self.gen_lock:
            try:
                await asyncio.get_running_loop().run_in_executor(None, self._load_backends)
            except Exception as exc:  # noqa: BLE001 - reported in status, never fatal
                self.backend_error = f"{type(exc).__name__}: {exc}"
                self.log(f"preload failed: {self.backend_error}")

    def unload(self) -> None:
        if self.backends is None:
            return
        self.backends = None
        from cmdai.backends import llama_cpp, mlx

        llama_cpp.close_all()
        mlx.close_all()
        import gc

        gc.collect()

    async def idle_loop(self) -> None:
        while True:
            await asyncio.sleep(5)
            if (self.idle_unload and self.backends is not None and not self.gen_lock.locked()
                    and time.monotonic() - self.last_used > self.idle_unload):
                self.log(f"unloading the model after {self.idle_unload:.0f} s idle")
                self.unload()

    # -- the spool ---------------------------------------------------------------------------
    def _ingest(self) -> dict[str, Any]:
        from cmdai.history import generations
        from cmdai.history.spool import ingest
        from cmdai.history.store import Store

        with self.ingest_lock:  # the ingest loop and the picker threads share one connection
            if self.store is None:
                self.store = Store.open()
            report = ingest(self.store, paths.spool_dir(), paths.quarantine_file())
            if report.inserted:
                generations.link(self.store)
            self.ingested += report.inserted
        return {"inserted": report.inserted, "lines": report.lines, "bad": report.bad}

    def _embed(self) -> int:
        """Embed a batch of commands that have no vector yet (semantic search), so that
        `cmdai search` and the picker find nothing left to do."""
        if not self.cfg.search.semantic:
            return 0
        from cmdai.semantic import model

        if not model.available():
            return 0
        from cmdai.semantic.vectors import embed_pending

        if self.embed_store is None:  # its own connection: a pick never waits for a batch
            from cmdai.history.store import Store

            self.embed_store = Store.open()
        done = embed_pending(self.embed_store, limit=EMBED_BATCH)
        self.embedded += done
        return done

    def _search(self, request: dict[str, Any]) -> dict[str, Any]:
        """`cmdai search` with the embedding model and the vectors already in memory."""
        from cmdai.history.store import Store
        from cmdai.semantic.search import MODES, Context, HardFilters

        mode = request.get("mode") or self.cfg.search.mode
        limit = request.get("limit") or self.cfg.search.limit
        raw = request.get("filters") or {}
        if mode not in MODES or not isinstance(limit, int) or limit < 1 \
                or not isinstance(raw, dict) or set(raw) - set(HardFilters.__dataclass_fields__):
            self.errors += 1
            return {"type": "error", "code": 2,
                    "message": "a search takes mode (one of " + ", ".join(MODES)
                    + "), limit (a positive integer) and filters (HardFilters fields)"}
        self.searches += 1
        store = Store.open()
        try:
            searcher = self._searcher(store, Context.current(
                cwd=request.get("cwd") or None, session=request.get("session") or None))
            text = str(request.get("text", ""))
            if mode in ("semantic", "hybrid") and text.strip():
                searcher.load_semantic(embed_limit=0)  # the background embedder keeps up
            hits = searcher.search(text, mode, HardFilters(**raw), limit)
        finally:
            store.close()
        return {"type": "hits", "hits": [h.to_wire() for h in hits],
                "semantic_error": searcher.semantic_error}

    def _meaning(self, store: Any, text: str, n: int) -> list[str]:
        """History examples for Ctrl-G ranked by meaning, with the warm model and vectors."""
        from cmdai.retrieval.history import by_meaning
        from cmdai.semantic import model

        if not self.cfg.search.semantic or not model.available():
            return []
        from cmdai.semantic.embedder import shared

        return by_meaning(store, text, n, embedder=shared(), vectors=self._vectors)

    def _searcher(self, store: Any, context: Any) -> Any:
        """A Searcher with the daemon's embedding model and cached vector index."""
        from cmdai.semantic.embedder import shared
        from cmdai.semantic.search import Searcher

        return Searcher(store, self.cfg.search, context, embedder_factory=shared,
                        vector_loader=self._vectors)

    def _vectors(self, store: Any, model_id: str) -> Any:
        """The vector index, reloaded only when the number of vectors changed."""
        from cmdai.semantic.vectors import VectorIndex

        (count,) = store.conn.execute(
            "SELECT count(*) FROM embeddings WHERE model = ?", (model_id,)).fetchall()[0]
        with self.vectors_lock:
            if self.vectors is not None and self.vectors[0] == (model_id, count):
                return self.vectors[1]
        index = VectorIndex.load(store, model_id)
        with self.vectors_lock:
            self.vectors = ((model_id, count), index)
        return index

    def picker_busy(self) -> bool:
        return self.picker is not None and self.picker.active > 0

    async def ingest_loop(self) -> None:
        spool = paths.spool_dir()
        loop = asyncio.get_running_loop()
        pending = True  # commands imported or recorded before the daemon started
        while True:
            try:
                if spool.is_dir() and any(p.name.endswith(".tsv") for p in os.scandir(spool)):
                    pending = bool((await loop.run_in_executor(None, self._ingest))["inserted"])
                # background embedding yields to Ctrl-G and to an open picker: all want the CPU
                if pending and not self.gen_lock.locked() and not self.picker_busy():
                    pending = await loop.run_in_executor(None, self._embed) == EMBED_BATCH
            except Exception as exc:  # noqa: BLE001 - the spool stays; the next scan retries
                self.log(f"ingest failed: {type(exc).__name__}: {exc}")
            await asyncio.sleep(INGEST_EVERY)

    # -- requests --------------------------------------------------------------------------
    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            uid = _peer_uid(writer)
            if uid is not None and uid != os.getuid():
                # take the request line off the socket unread (never parsed): closing with it
                # still queued resets the connection and the client would lose this reply
                try:
                    await asyncio.wait_for(reader.readline(), timeout=2)
                except (TimeoutError, asyncio.LimitOverrunError, ValueError):
                    pass
                await self.send(writer, {"type": "error", "code": 1,
                                         "message": "this daemon serves its own user only"})
                return
            try:
                line = await asyncio.wait_for(reader.readline(), timeout=10)
            except (asyncio.LimitOverrunError, ValueError):
                raise protocol.ProtocolError("request line too long") from None
            if not line:
                return
            request = protocol.decode_request(line)
            self.requests += 1
            await self.dispatch(request, reader, writer)
        except protocol.ProtocolError as exc:
            self.errors += 1
            await self.send(writer, {"type": "error", "code": 2, "message": str(exc)})
        except (ConnectionError, asyncio.TimeoutError):
            pass
        except Exception as exc:  # noqa: BLE001 - one bad request never stops the daemon
            self.errors += 1
            self.log(f"request failed: {type(exc).__name__}: {exc}")
            await self.send(writer, {"type": "error", "code": 1,
                                     "message": f"internal error: {type(exc).__name__}: {exc}"})
        finally:
            try:
                writer.close()
                await writer.wait_closed()
            except (ConnectionError, OSError):
                pass

    async def send(self, writer: asyncio.StreamWriter, message: dict[str, Any]) -> None:
        try:
            writer.write(protocol.encode(message))
            await writer.drain()
        except (ConnectionError, OSError):
            pass

    async def dispatch(self, request: dict[str, Any], reader: asyncio.StreamReader,
                       writer: asyncio.StreamWriter) -> None:
        op = request["op"]
        if op == "ping":
            await self.send(writer, {"type": "pong", "pid": os.getpid()})
        elif op == "status":
            await self.send(writer, {"type": "status", **self.status()})
        elif op == "ingest":
            result = await asyncio.get_running_loop().run_in_executor(None, self._ingest)
            await self.send(writer, {"type": "ingested", **result})
        elif op == "search":
            result = await asyncio.get_running_loop().run_in_executor(None, self._search, request)
            await self.send(writer, result)
        elif op == "shutdown":
            await self.send(writer, {"type": "bye"})
            self.stopping.set()
        else:
            await self.answer(request, reader, writer)

    def status(self) -> dict[str, Any]:
        loaded = []
        for b in self.backends or []:
            loaded.append({"name": b.name, "model": getattr(b, "model_name", None)})
        return {
            "pid": os.getpid(), "uptime_s": round(time.time() - self.started, 1),
            "requests": self.requests, "errors": self.errors, "rss_kb": _rss_kb(),
            "backends": loaded, "model_loaded": self.backends is not None,
            "backend_error": self.backend_error, "ingested": self.ingested,
            "picks": self.picker.picks if self.picker else 0, "embedded": self.embedded,
            "searches": self.searches,
            "python": sys.executable,
        }

    async def answer(self, request: dict[str, Any], reader: asyncio.StreamReader,
                     writer: asyncio.StreamWriter) -> None:
        from cmdai.assist import assist

        loop = asyncio.get_running_loop()
        events: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        cancel = threading.Event()

        def on_event(message: dict[str, Any]) -> None:
            loop.call_soon_threadsafe(events.put_nowait, message)

        mode = {"assist": "auto", "generate": "generate", "explain": "explain"}[request["op"]]
        await self.send(writer, {"type": "progress", "stage": "queued"})

        def work() -> dict[str, Any]:
            backends = self._load_backends()
            if self.gen_store is None:
                from cmdai.history.store import Store

                self.gen_store = Store.open()
            return assist(request.get("text", ""), cwd=request.get("cwd") or os.getcwd(),
                          shell=request.get("shell") or "bash",
                          session=request.get("session") or "", mode=mode,
                          cfg=self.cfg.generate, backends=backends or None,
                          on_event=on_event, cancel=cancel, store=self.gen_store,
                          meaning=self._meaning)

        async def watch_disconnect() -> None:
            await reader.read()  # returns at EOF: the client went away (or half-closed)
            if reader.at_eof():
                cancel.set()

        watcher = asyncio.create_task(watch_disconnect())
        async with self.gen_lock:
            job = loop.run_in_executor(None, work)
            while True:
                getter = asyncio.create_task(events.get())
                done, _ = await asyncio.wait({getter, job}, return_when=asyncio.FIRST_COMPLETED)
                if getter in done:
                    await self.send(writer, getter.result())
                    continue
                getter.cancel()
                break
            while not events.empty():
                await self.send(writer, events.get_nowait())
        watcher.cancel()
        try:
            result = job.result()
        except CmdaiError as exc:
            self.errors += 1
            await self.send(writer, {"type": "error", "code": int(exc.exit_code),
                                     "message": exc.message, "hint": exc.hint})
            return
        await self.send(writer, result)


def run_foreground(*, lazy: bool = False) -> None:
    """Run the daemon in this process until SIGTERM or a shutdown request."""
    daemon = Daemon(lazy=lazy)
    try:
        asyncio.run(daemon.serve())
    finally:
        for store in (daemon.store, daemon.gen_store, daemon.embed_store):
            if store is not None:
                store.close()
