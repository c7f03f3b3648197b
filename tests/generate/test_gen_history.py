"""History examples for the prompt: by words (FTS) and by meaning (the real ONNX embedder)."""

from __future__ import annotations

import pytest

from cmdai import generate as g
from cmdai.history.entry import Entry
from cmdai.history.store import Store
from cmdai.retrieval import history

ROWS = [  # (command, exit)
    ("du -sh * | sort -h", 0),
    ("du -sh /nonexistent | sort -h", 1),  # failed: never an example
    ("git log --oneline -5", 0),
    ("tar -czf backup.tar.gz src", 0),
    ("docker compose logs -f web", 0),
    ("docker compose up --bogus", 1),
    ("ls", 0),
    ("kill -9 $(pgrep -f runaway)", 0),
]


def _db(tmp_path, embedder=None):
    db = tmp_path / "h.db"
    with Store.open(db) as store:
        store.insert([Entry(command=c, timestamp=1_000 + i, session="s", exit=code)
                      for i, (c, code) in enumerate(ROWS)])
        if embedder is not None:
            from cmdai.semantic.vectors import embed_pending

            embed_pending(store, embedder)
    return db


def test_by_words_keeps_successful_commands_only(tmp_path):
    db = _db(tmp_path)
    found = history.examples("show the docker compose logs", 3, db, semantic=False)
    assert found[0] == "docker compose logs -f web"
    assert "docker compose up --bogus" not in found
    assert "ls" not in found
    assert history.examples("anything", 3, tmp_path / "missing.db") == []
    assert history.examples("docker", 0, db) == []


def test_no_vectors_means_words_only_and_no_model_load(tmp_path, monkeypatch):
    import cmdai.semantic.embedder as emb

    def boom():
        raise AssertionError("the embedding model was loaded with nothing embedded")

    monkeypatch.setattr(emb, "shared", boom)
    db = _db(tmp_path)
    assert history.examples("show the docker compose logs", 2, db, semantic=True)[0] \
        == "docker compose logs -f web"


def test_fuse_prefers_commands_both_lists_rank_high():
    assert history.fuse([["a", "b", "c"], ["x", "b", "y"]])[:3] == ["b", "a", "x"]
    assert history.fuse([["a", "b"], []]) == ["a", "b"]  # ties keep the first list's order
    assert history.fuse([]) == []


@pytest.fixture
def embedded(tmp_path, embedder):
    return _db(tmp_path, embedder)


def test_by_meaning_finds_what_shares_no_word(embedded, embedder):
    request = "which folders take up the most room"
    assert history.examples(request, 3, embedded, semantic=False) == []  # no word in common
    with Store.open(embedded, readonly=True) as store:
        near = history.by_meaning(store, request, 5, embedder=embedder)
    assert near[0] == "du -sh * | sort -h"
    assert "du -sh /nonexistent | sort -h" not in near  # exited 1
    found = history.examples(request, 2, embedded,
                             meaning=lambda s, t, n: history.by_meaning(s, t, n, embedder=embedder))
    assert found[0] == "du -sh * | sort -h"
    # the process's own embedder (what `cmdai generate` outside the daemon uses)
    assert history.examples("stop the stuck process", 1, embedded) == ["kill -9 $(pgrep -f runaway)"]
    # semantic search switched off in the config: words only
    from cmdai import paths

    paths.config_file().parent.mkdir(parents=True, exist_ok=True)
    paths.config_file().write_text("[search]\nsemantic = false\n")
    assert history.examples(request, 2, embedded) == []


def test_generation_prompt_shows_examples_found_by_meaning(embedded, embedder, tmp_path,
                                                         monkeypatch):
    from cmdai.config import GenerateConfig
    from tests.doubles import FixedBackend

    monkeypatch.setenv("CMDAI_TEST_ANSWER", "du -sh */ | sort -h\n# sizes")
    answer = g.generate("which folders take up the most room", cfg=GenerateConfig(prompt="full"),
                        cwd=str(tmp_path), backends=[FixedBackend(None)], db=embedded,
                        meaning=lambda s, t, n: history.by_meaning(s, t, n, embedder=embedder))
    assert "commands I ran before:\n  du -sh * | sort -h" in answer.prompt["user"]
    assert "/nonexistent" not in answer.prompt["user"]


def test_daemon_ranks_by_meaning_with_its_warm_index(embedded, monkeypatch):
    from cmdai.daemon.server import Daemon

    daemon = Daemon(lazy=True)
    with Store.open(embedded, readonly=True) as store:
        assert daemon._meaning(store, "which folders take up the most room", 3)[0] \
            == "du -sh * | sort -h"
        assert daemon.vectors is not None  # the cached index `cmdai search` uses too
        from dataclasses import replace

        daemon.cfg = replace(daemon.cfg, search=replace(daemon.cfg.search, semantic=False))
        assert daemon._meaning(store, "which folders take up the most room", 3) == []
