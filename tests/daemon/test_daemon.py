"""The daemon as a process: lifecycle, robustness, concurrency, and the stdlib client."""

from __future__ import annotations

import ast
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CLIENT = ROOT / "cmdai" / "client.py"


@pytest.fixture
def env(cmdai_home):
    (cmdai_home / "config").mkdir(parents=True)
    (cmdai_home / "config" / "config.toml").write_text(
        '[generate]\nbackends = ["tests.doubles:FixedBackend"]\nhistory_examples = 0\n'
        "docs = false\n")
    e = dict(os.environ, PYTHONPATH=str(ROOT), CMDAI_TEST_ANSWER="echo hi\n# says hi",
             CMDAI_TEST_DELAY="20", CMDAI_TEST_DELAY_SLOW_ONLY="1")
    yield e
    subprocess.run([sys.executable, "-m", "cmdai", "daemon", "stop"], env=e, capture_output=True)


def cli(env, *args, check=True):
    return subprocess.run([sys.executable, "-m", "cmdai", *args], env=env, capture_output=True,
                          text=True, check=check, timeout=60)


def send(home: Path, payload: bytes, timeout: float = 30) -> list[dict]:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(str(home / "run" / "daemon.sock"))
        try:
            s.sendall(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the daemon refused a huge line early; its error reply is still readable
        data = b""
        try:
            while chunk := s.recv(65536):
                data += chunk
        except ConnectionResetError:
            pass
    return [json.loads(line) for line in data.splitlines()]


def request(home: Path, **message) -> list[dict]:
    return send(home, json.dumps({"v": 1, **message}).encode() + b"\n")


def client(env, *args, timeout=60):
    return subprocess.run([sys.executable, "-I", "-S", str(CLIENT), *args], env=env,
                          capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def daemon_pid(home: Path) -> int:
    return int((home / "run" / "daemon.lock").read_text())


def test_start_status_stop_and_permissions(env, cmdai_home):
    out = cli(env, "daemon", "start")
    assert "started" in out.stderr
    assert "already running" in cli(env, "daemon", "start").stderr
    run_dir = cmdai_home / "run"
    assert stat.S_IMODE(run_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE((run_dir / "daemon.sock").stat().st_mode) == 0o600
    status = json.loads(cli(env, "daemon", "status", "--json").stdout)
    assert status["pid"] == daemon_pid(cmdai_home)
    assert "cmdai daemon stopped" in cli(env, "daemon", "stop").stderr
    assert not (run_dir / "daemon.sock").exists()
    assert cli(env, "daemon", "status", check=False).returncode == 1


def test_a_second_daemon_is_refused(env, cmdai_home):
    cli(env, "daemon", "start")
    second = cli(env, "daemon", "run", check=False)
    assert second.returncode == 1
    assert f"already running (pid {daemon_pid(cmdai_home)})" in second.stderr
    assert request(cmdai_home, op="ping")[0]["type"] == "pong"


def test_stale_socket_is_replaced(env, cmdai_home):
    run_dir = cmdai_home / "run"
    run_dir.mkdir(mode=0o700, parents=True)
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(run_dir / "daemon.sock"))
    stale.close()  # the file stays, nobody listens
    assert "started" in cli(env, "daemon", "start").stderr
    assert request(cmdai_home, op="ping")[0]["type"] == "pong"


@pytest.mark.parametrize("payload, message", [
    (b"this is not json\n", "not a JSON line"),
    (b'["a list"]\n', "a request is a JSON object"),
    (b'{"v": 99, "op": "ping"}\n', "unsupported protocol version"),
    (b'{"v": 1, "op": "rm-rf"}\n', "unknown op"),
    (b'{"v": 1, "op": "assist", "text": 5}\n', "'text' must be a string"),
    (b'{"v": 1, "op": "ping", "pad": "' + b"x" * (2 << 20) + b'"}\n', "too long"),
])
def test_bad_requests_get_an_error_and_the_daemon_carries_on(env, cmdai_home, payload, message):
    cli(env, "daemon", "start")
    (reply,) = send(cmdai_home, payload)
    assert reply["type"] == "error" and message in reply["message"], reply
    assert request(cmdai_home, op="ping")[0]["type"] == "pong"


def test_streams_progress_tokens_then_the_result(env, cmdai_home):
    cli(env, "daemon", "start")
    replies = request(cmdai_home, op="assist", text="say hi", cwd=str(cmdai_home), shell="zsh",
                      session="s1")
    kinds = [r["type"] for r in replies]
    assert kinds[0] == "progress" and kinds[-1] == "result" and "token" in kinds
    result = replies[-1]
    assert result["command"] == "echo hi" and result["action"] == "insert"
    assert result["safety"]["level"] == "safe" and all(r["v"] == 1 for r in replies)


def test_concurrent_clients_all_get_their_answer(env, cmdai_home):
    cli(env, "daemon", "start")
    results: list = [None] * 6

    def one(i: int) -> None:
        results[i] = request(cmdai_home, op="generate", text=f"say hi {i}",
                             cwd=str(cmdai_home), shell="bash")[-1]

    threads = [threading.Thread(target=one, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert [r["type"] for r in results] == ["result"] * 6


def test_a_client_that_disconnects_cancels_its_generation(env, cmdai_home):
    cli(env, "daemon", "start")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(str(cmdai_home / "run" / "daemon.sock"))
        s.sendall(json.dumps({"v": 1, "op": "generate", "text": "a slow one",
                              "cwd": str(cmdai_home)}).encode() + b"\n")
        s.recv(100)  # the "queued" line: the request is under way
    # the 20 s generation was cancelled, so the next one does not wait for it
    t0 = time.monotonic()
    reply = request(cmdai_home, op="generate", text="a quick one", cwd=str(cmdai_home))[-1]
    assert reply["type"] == "result"
    assert time.monotonic() - t0 < 15, "the abandoned generation was not cancelled"


def test_killed_daemon_is_restarted_by_the_client(env, cmdai_home):
    cli(env, "daemon", "start")
    old = daemon_pid(cmdai_home)
    os.kill(old, signal.SIGKILL)
    time.sleep(0.2)
    out = client(env, "--shell", "zsh", "--cwd", str(cmdai_home), "--session", "s9", "say", "hi")
    action, message, command = out.stdout.split("\n", 2)
    assert (action, command) == ("insert", "echo hi"), out
    assert daemon_pid(cmdai_home) != old


def test_client_falls_back_in_process_and_says_so_once(env, cmdai_home):
    with open(cmdai_home / "config" / "config.toml", "a") as fh:
        fh.write("[daemon]\nautostart = false\n")
    first = client(env, "--shell", "bash", "--session", "s1", "--cwd", str(cmdai_home), "say hi")
    action, message, command = first.stdout.split("\n", 2)
    assert action == "insert" and command == "echo hi"
    assert "no daemon: answered in-process" in message
    second = client(env, "--shell", "bash", "--session", "s1", "--cwd", str(cmdai_home), "say hi")
    assert "no daemon" not in second.stdout.split("\n")[1]
    assert not (cmdai_home / "run" / "daemon.sock").exists()


def test_a_model_that_fails_to_load_is_reported_and_the_daemon_keeps_serving(env, cmdai_home):
    bad = cmdai_home / "broken.gguf"
    bad.write_bytes(b"GGUF" + b"\0" * 4096)
    (cmdai_home / "config" / "config.toml").write_text(
        f'[generate]\nbackends = ["llama_cpp"]\nmodel_path = "{bad}"\n')
    cli(env, "daemon", "start")
    reply = request(cmdai_home, op="generate", text="list files", cwd=str(cmdai_home))[-1]
    assert reply["type"] == "error" and "broken.gguf" in reply["message"], reply
    assert request(cmdai_home, op="ping")[0]["type"] == "pong"
    status = request(cmdai_home, op="status")[0]
    assert status["errors"] >= 1


def test_daemon_ingests_the_spool_as_it_appears(env, cmdai_home):
    from cmdai.history import spool
    from cmdai.history.entry import Entry

    cli(env, "daemon", "start")
    sp = cmdai_home / "data" / "spool"
    sp.mkdir(parents=True, exist_ok=True)
    (sp / "box-s1.tsv").write_text(spool.encode(Entry("make test", 1_700_000_000 * 10**9, "s1",
                                                      shell="zsh")))
    deadline = time.monotonic() + 10
    while request(cmdai_home, op="status")[0]["ingested"] < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert request(cmdai_home, op="status")[0]["ingested"] == 1
    assert list(sp.iterdir()) == []


def test_client_imports_only_the_standard_library():
    tree = ast.parse(CLIENT.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            names.add((node.module or "").split(".")[0])
    assert names <= set(sys.stdlib_module_names), names - set(sys.stdlib_module_names)


def test_client_and_server_agree_on_the_socket_path(cmdai_home, monkeypatch):
    import importlib.util

    from cmdai.daemon import protocol

    spec = importlib.util.spec_from_file_location("client_under_test", CLIENT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.VERSION == protocol.VERSION
    for home in (str(cmdai_home), None):
        if home is None:
            monkeypatch.delenv("CMDAI_HOME")
            monkeypatch.setenv("XDG_RUNTIME_DIR", str(cmdai_home / "xdg"))
        assert Path(mod.runtime_dir()) / "daemon.sock" == protocol.socket_path()


def test_daemon_embeds_history_in_the_background(env, cmdai_home):
    from cmdai.history.entry import Entry
    from cmdai.history.store import Store

    store = Store.open()
    store.insert(Entry(f"echo imported-{i}", (1_700_000_000 + i) * 10**9, "old")
                 for i in range(300))
    store.close()
    cli(env, "daemon", "start")
    deadline = time.monotonic() + 120
    while request(cmdai_home, op="status")[0]["embedded"] < 300:
        assert time.monotonic() < deadline, request(cmdai_home, op="status")
        time.sleep(0.2)
    store = Store.open()
    (n,) = store.conn.execute("SELECT count(*) FROM embeddings").fetchall()[0]
    assert n == 300


def test_idle_unload_frees_every_local_runtime(cmdai_home):
    """Unloading releases llama.cpp's and mlx's models (both loaders are asked)."""
    from cmdai.backends import llama_cpp, mlx
    from cmdai.daemon.server import Daemon

    closed = []
    daemon = Daemon(idle_unload=1)
    daemon.backends = [object()]
    orig = llama_cpp.close_all, mlx.close_all
    llama_cpp.close_all = lambda: closed.append("llama_cpp")
    mlx.close_all = lambda: closed.append("mlx")
    try:
        daemon.unload()
    finally:
        llama_cpp.close_all, mlx.close_all = orig
    assert closed == ["llama_cpp", "mlx"] and daemon.backends is None


def test_the_history_database_is_ready_before_the_daemon_serves(env, cmdai_home):
    # The generation, ingest and embedding threads open their own connections at once; on a
    # new database their migrations raced and a first Ctrl-G failed with "database is locked".
    # The daemon now creates and migrates it before it accepts a connection.
    import apsw

    from cmdai.history.store import MIGRATIONS

    config = cmdai_home / "config" / "config.toml"
    config.write_text(config.read_text() + "[search]\nsemantic = false\n")  # nothing else opens it
    db = cmdai_home / "data" / "history.db"
    assert not db.exists()
    cli(env, "daemon", "start")
    conn = apsw.Connection(str(db), flags=apsw.SQLITE_OPEN_READONLY)
    try:
        assert conn.execute("PRAGMA user_version").fetchall()[0][0] == len(MIGRATIONS)
        assert conn.execute("PRAGMA journal_mode").fetchall()[0][0] == "wal"
    finally:
        conn.close()
    # and several first requests at once all get their answer
    results: list[list[dict]] = []
    threads = [threading.Thread(target=lambda i=i: results.append(request(
        cmdai_home, op="generate", text=f"say hi {i}", cwd=str(cmdai_home), shell="bash",
        session=f"s{i}"))) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(r[-1]["type"] for r in results) == ["result"] * 3, results
