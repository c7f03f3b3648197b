"""The picker in-process: prompt-toolkit pipe input and DummyOutput, a real store."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from cmdai.config import SearchConfig
from cmdai.semantic.search import Context, Searcher
from cmdai.ui.picker import Choice, Picker, format_row
from tests.search.conftest import NOW, NS, seed_entries

CTX = Context(cwd="/home/u/src/api", session="s4", hostname="box", now_ns=NOW * NS)


def run_picker(store, keys: str, *, embedder=None, query: str = "", **cfg) -> tuple[Picker, object]:
    with create_pipe_input() as inp:
        searcher = Searcher(store, SearchConfig(**cfg), CTX,
                            embedder_factory=(lambda: embedder) if embedder else None,
                            semantic=embedder is not None)
        picker = Picker(store, SearchConfig(**cfg), CTX, query=query, input=inp,
                        output=DummyOutput(), background=False, searcher=searcher)
        if embedder is not None:
            picker._load_semantic()
        inp.send_text(keys)
        return picker, picker.run()


def test_enter_inserts_the_top_match(store):
    _, choice = run_picker(store, "docker vol\r")
    assert choice == Choice("insert", "docker volume prune -f")


def test_enter_runs_when_configured_and_tab_edits(store):
    assert run_picker(store, "git st\r", enter="run")[1] == Choice("run", "git status")
    assert run_picker(store, "git st\t")[1] == Choice("edit", "git status")


def test_arrows_move_the_selection(store):
    picker, choice = run_picker(store, "make\x1b[B\r")  # Down, Enter
    assert choice.command == picker.hits[1].entry.command
    _, choice = run_picker(store, "make\x1b[B\x1b[A\r")  # Down, Up, Enter
    assert choice.command == "make test"


def test_escape_and_ctrl_c_cancel(store):
    assert run_picker(store, "git\x1b")[1] is None
    assert run_picker(store, "git\x03")[1] is None


def test_results_update_as_you_type_and_seed(store):
    picker, choice = run_picker(store, "\r", query="kubectl")
    assert choice.command == "kubectl get pods -n prod"
    assert picker.query == "kubectl"


def test_mode_and_filter_keys_cycle(store):
    picker, _ = run_picker(store, "\x14\x14\x12\x12\x1b")  # Ctrl-T twice, Ctrl-R twice
    assert (picker.mode, picker.filter_name) == ("fulltext", "directory")  # from hybrid
    # the directory filter (/home/u/src/api) keeps only commands run there
    assert picker.hits and all(h.entry.cwd == "/home/u/src/api" for h in picker.hits)


def test_delete_asks_then_removes_every_run(store):
    picker, choice = run_picker(store, "git status\x04y\x1b")
    assert choice is None
    assert "deleted 3 runs" in picker.message
    assert store.conn.execute("SELECT count(*) FROM history WHERE command='git status'"
                              ).fetchall()[0][0] == 0
    # n keeps it
    picker, _ = run_picker(store, "ls -la\x04n\x1b")
    assert store.conn.execute("SELECT count(*) FROM history WHERE command='ls -la'"
                              " AND deleted_at IS NULL").fetchall()[0][0] == 1


def test_semantic_results_in_the_picker(store, embedder):
    _, choice = run_picker(store, "check memory usage\r", embedder=embedder)
    assert choice == Choice("insert", "free -h")


def test_rows_show_time_exit_duration_cwd_and_count(store):
    picker, _ = run_picker(store, "git status\x1b")
    row = format_row(picker.hits[0], NOW * NS, 100)
    assert row.split()[:3] == ["1h", "✓", "120ms"]
    assert "~" not in row and "…src/api" in row or "/home/u/src/api" in row
    assert row.rstrip().endswith("git status ×3")


def cli(*args, env_home):
    import os

    env = {**os.environ, "CMDAI_HOME": str(env_home)}
    return subprocess.run([sys.executable, "-m", "cmdai", *args], capture_output=True,
                          text=True, env=env)


@pytest.fixture
def cli_home(tmp_path, cmdai_home):
    from cmdai.history.store import Store

    st = Store.open(cmdai_home / "data" / "history.db")
    st.insert(seed_entries())
    st.close()
    return cmdai_home


def test_cli_search_json_folds_and_scores(cli_home):
    out = cli("search", "--json", "--mode", "fulltext", "git", "status", env_home=cli_home)
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assert [r["command"] for r in rows] == ["git status"]
    assert rows[0]["count"] == 3 and rows[0]["score"] > 0
    assert set(rows[0]) >= {"id", "command", "cwd", "exit", "duration_ms", "timestamp",
                            "session", "hostname", "shell", "source"}


def test_cli_hybrid_search_embeds_and_finds_by_meaning(cli_home):
    out = cli("search", "--json", "--limit", "3", "remove", "unused", "docker", "volumes",
              env_home=cli_home)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)[0]["command"] == "docker volume prune -f"
    out = cli("search", "--json", "--mode", "semantic", "--exit", "0", "--limit", "3",
              "how much memory is in use", env_home=cli_home)
    assert "free -h" in [r["command"] for r in json.loads(out.stdout)]


def test_cli_interactive_without_a_terminal_fails_cleanly(cli_home):
    out = cli("search", "--interactive", env_home=cli_home)
    assert out.returncode == 2 and out.stdout == ""
    assert "needs a terminal" in out.stderr


def test_the_picker_returns_at_once_and_wait_outlasts_the_background_loader(store, embedder):
    """The daemon closes the store after ``wait()``: the loader thread, still loading when the
    user pressed Enter, uses that store (closing it under the loader failed the pick)."""
    import threading

    release = threading.Event()

    def slow_model():
        release.wait(10)
        return embedder

    searcher = Searcher(store, SearchConfig(), CTX, embedder_factory=slow_model, semantic=True)
    with create_pipe_input() as inp:
        picker = Picker(store, SearchConfig(), CTX, query="docker vol", input=inp,
                        output=DummyOutput(), searcher=searcher)
        inp.send_text("\r")
        choice = picker.run()
    assert choice == Choice("insert", "docker volume prune -f")  # from the text index
    assert picker._loader is not None and picker._loader.is_alive()
    release.set()
    picker.wait()
    assert searcher.semantic_ready() and not picker.message  # the loader used the open store
    store.close()


def test_a_picker_with_embed_limit_0_never_embeds(store, embedder):
    """The daemon's pickers: its background loop embeds new commands, a pick only loads."""
    searcher = Searcher(store, SearchConfig(), CTX, embedder_factory=lambda: embedder,
                        semantic=True)
    with create_pipe_input() as inp:
        picker = Picker(store, SearchConfig(), CTX, query="docker", input=inp,
                        output=DummyOutput(), searcher=searcher, embed_limit=0)
        inp.send_text("\r")
        picker.run()
    picker.wait()
    assert searcher.semantic_ready()
    assert store.conn.execute("SELECT count(*) FROM embeddings").fetchall()[0][0] == 0
