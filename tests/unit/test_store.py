"""The APSW store: migrations from blank, inserts that dedupe, queries, delete."""

from __future__ import annotations

from pathlib import Path

import apsw
import pytest

from cmdai.errors import StoreError
from cmdai.history.entry import Entry
from cmdai.history.store import MIGRATIONS, Filters, Store

NS = 1_000_000_000


def E(command, t, **kw):
    kw.setdefault("session", "s1")
    return Entry(command=command, timestamp=t * NS, **kw)


@pytest.fixture
def store(tmp_path):
    s = Store.open(tmp_path / "h.db")
    yield s
    s.close()


def test_migrates_from_blank(tmp_path):
    s = Store.open(tmp_path / "new.db")
    assert s.version == len(MIGRATIONS)
    assert s.conn.execute("PRAGMA journal_mode").fetchall()[0][0] == "wal"
    tables = {r[0] for r in s.conn.execute("SELECT name FROM sqlite_master")}
    assert {"history", "history_fts", "history_timestamp", "history_cwd",
            "history_session"} <= tables
    assert s.migrate() == 0  # nothing left to do
    s.close()
    assert Store.open(tmp_path / "new.db").version == len(MIGRATIONS)


def test_refuses_a_newer_schema(tmp_path):
    conn = apsw.Connection(str(tmp_path / "future.db"))
    conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 5}")
    conn.close()
    with pytest.raises(StoreError, match="newer cmdai"):
        Store.open(tmp_path / "future.db")


def test_unopenable_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "not-a-db"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="cannot open the history database"):
        Store.open(bad)


def test_insert_dedupes(store):
    assert store.insert([E("ls", 1), E("ls", 2), E("ls", 1, session="s2")]) == 3
    assert store.insert([E("ls", 1), E("pwd", 3)]) == 1
    assert store.count() == 4


def test_list_newest_first_with_filters(store):
    store.insert([
        E("a", 1, cwd="/x", exit=0), E("b", 2, cwd="/y", exit=1, session="s2"),
        E("c", 3, cwd="/x", exit=0),
    ])
    assert [e.command for e in store.list()] == ["c", "b", "a"]
    assert [e.command for e in store.list(2)] == ["c", "b"]
    assert [e.command for e in store.list(filters=Filters(cwd="/x"))] == ["c", "a"]
    assert [e.command for e in store.list(filters=Filters(exit=1))] == ["b"]
    assert [e.command for e in store.list(filters=Filters(session="s2"))] == ["b"]


def test_fulltext_is_substring_and_case_insensitive(store):
    store.insert([
        E("kubectl get pods", 1), E("git status", 2), E("GIT LOG", 3), E("ls -la", 4),
        E("echo ünïcode", 5),
    ])
    assert [e.command for e in store.search_fulltext("ubect")] == ["kubectl get pods"]
    assert [e.command for e in store.search_fulltext("git")] == ["GIT LOG", "git status"]
    assert [e.command for e in store.search_fulltext("git sta")] == ["git status"]
    assert [e.command for e in store.search_fulltext("-l")] == ["ls -la"]  # short word
    assert [e.command for e in store.search_fulltext("ÜNÏ")] == ["echo ünïcode"]
    assert [e.command for e in store.search_fulltext('"quoted')] == []
    assert len(store.search_fulltext("")) == 5


def test_prefix_search(store):
    store.insert([E("git status", 1), E("git push", 2), E("gitk", 3), E("cat git", 4)])
    assert [e.command for e in store.search_prefix("git ")] == ["git push", "git status"]
    assert [e.command for e in store.search_prefix("git")] == ["gitk", "git push", "git status"]
    assert [e.command for e in store.search_prefix("gi")] == ["gitk", "git push", "git status"]
    assert [e.command for e in store.search_prefix("GIT")] == []  # case-sensitive
    assert len(store.search_prefix("")) == 4


def test_delete_wipes_text_and_survives_reimport(store):
    store.insert([E("export TOKEN=hunter2", 1), E("ls", 2)])
    victim = store.search_fulltext("hunter2")[0]
    assert store.delete([victim.id]) == 1
    assert store.delete([victim.id]) == 0
    assert store.search_fulltext("hunter2") == []
    assert store.count() == 1
    raw = store.conn.execute("SELECT command FROM history WHERE id = ?", (victim.id,)).fetchall()
    assert raw == [("",)]
    assert store.insert([E("export TOKEN=hunter2", 1)]) == 0  # not brought back
    for f in store.path.parent.iterdir():  # nor left behind in the file's free pages
        assert b"hunter2" not in f.read_bytes(), f


def test_migration_4_drops_the_per_row_vector_triggers(tmp_path):
    s = Store.open(tmp_path / "new.db")
    triggers = {r[0] for r in s.conn.execute("SELECT name FROM sqlite_master WHERE type='trigger'")}
    assert not {"embeddings_wipe", "embeddings_delete"} & triggers
    s.close()


def _open_and_close(path: str, errors) -> None:
    try:
        Store.open(Path(path)).close()
    except Exception as exc:  # noqa: BLE001 - reported to the test
        errors.put(repr(exc))


def test_processes_creating_the_same_new_database_at_once_all_succeed(tmp_path):
    # the daemon's threads, a shell's `cmdai history list` and a Ctrl-G can all be first
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    errors = ctx.Queue()
    for round_ in range(25):
        path = str(tmp_path / f"h{round_}.db")
        procs = [ctx.Process(target=_open_and_close, args=(path, errors)) for _ in range(3)]
        for p in procs:
            p.start()
        for p in procs:
            p.join()
        assert [p.exitcode for p in procs] == [0, 0, 0]
        with Store.open(Path(path)) as store:
            assert store.version == len(MIGRATIONS)
    assert errors.empty(), errors.get()
