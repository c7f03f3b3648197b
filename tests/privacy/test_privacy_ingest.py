"""Redaction and filters where text enters the store: spool ingest (live capture) and imports.
The database files themselves are searched for the secrets afterwards."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cmdai import privacy
from cmdai.errors import ConfigError
from cmdai.history import spool
from cmdai.history.entry import Entry
from cmdai.history.importers import driver
from cmdai.history.store import Store
from tests.privacy.corpus import NEAR_MISSES, SECRETS

T0 = 1_700_000_000 * 10**9


def db_bytes(db: Path) -> bytes:
    """Everything SQLite keeps on disk for this database: the file, its WAL and journal."""
    out = b""
    for suffix in ("", "-wal", "-shm", "-journal"):
        p = Path(str(db) + suffix)
        if p.exists():
            out += p.read_bytes()
    return out


def assert_no_secret_on_disk(db: Path, secrets: list[str]) -> None:
    data = db_bytes(db)
    leaked = [s for s in secrets if s.encode() in data]
    assert leaked == []
    with Store.open(db) as store:  # the FTS index cannot find them either
        for s in secrets:
            assert store.search_fulltext(s[:12] if len(s) >= 12 else s) == [], s


def embed_everything(db: Path, embedder) -> int:
    """Fill the embedding cache the way the daemon does, so that its bytes are on disk too."""
    from cmdai.semantic.vectors import embed_pending

    with Store.open(db) as store:
        embed_pending(store, embedder, limit=100_000)
        (n,) = store.conn.execute("SELECT count(*) FROM embeddings").fetchall()[0]
    assert n > 0
    return n


def write_spool(spool_dir: Path, entries: list[Entry], name: str = "host-s1.tsv") -> None:
    spool_dir.mkdir(parents=True, exist_ok=True)
    with open(spool_dir / name, "a", encoding="utf-8") as fh:
        for e in entries:
            fh.write(spool.encode(e))


def entries(commands: list[str], **kw) -> list[Entry]:
    return [Entry(command=c, timestamp=T0 + i * 10**9, session="s1", exit=0, cwd="/home/u",
                  shell="zsh", **kw) for i, c in enumerate(commands)]


def ALL_SECRETS() -> list[str]:
    return [s for _, secrets in SECRETS for s in secrets]


# -- live capture -------------------------------------------------------------------------
def test_ingest_redacts_the_corpus_and_keeps_near_misses(tmp_path):
    db, sp, q = tmp_path / "h.db", tmp_path / "spool", tmp_path / "q.tsv"
    commands = [c for c, _ in SECRETS] + NEAR_MISSES
    write_spool(sp, entries(commands))
    with Store.open(db) as store:
        report = spool.ingest(store, sp, q)
        assert (report.inserted, report.redacted, report.filtered) == (len(commands), len(SECRETS), 0)
        stored = [e.command for e in reversed(store.list(limit=1000))]
    assert stored[len(SECRETS):] == NEAR_MISSES  # byte for byte
    assert all("<redacted:" in c for c in stored[:len(SECRETS)])
    assert_no_secret_on_disk(db, ALL_SECRETS())
    # the rest of a redacted command stays searchable
    with Store.open(db) as store:
        (hit,) = store.search_fulltext("pg_dump app.sql")
    assert hit.command == "PGPASSWORD=<redacted:secret-assignment> pg_dump -h db -U app app > app.sql"


def test_ingest_applies_filters_before_storing(tmp_path, cmdai_home):
    cfg = cmdai_home / "config" / "config.toml"
    cfg.parent.mkdir(parents=True)
    cfg.write_text(
        "[history]\nstore_failed = false\nignore_commands = ['^pass ', 'vpn-connect']\n"
        "ignore_dirs = ['~/secret-project', '/srv/*/private']\n"
    )
    home = os.path.expanduser("~")
    E = lambda *a, **kw: Entry(*a, shell="bash", **kw)  # noqa: E731
    rows = [
        E("ls", T0, "s1", exit=0, cwd="/tmp"),
        E("make test", T0 + 1, "s1", exit=2, cwd="/tmp"),  # failed
        E("pass show bank", T0 + 2, "s1", exit=0, cwd="/tmp"),
        E("sudo vpn-connect corp", T0 + 3, "s1", exit=0, cwd="/tmp"),
        E("cat notes.md", T0 + 4, "s1", exit=0, cwd=f"{home}/secret-project/docs"),
        E("cat plan.md", T0 + 5, "s1", exit=0, cwd="/srv/app/private/x"),
        E("cat readme", T0 + 6, "s1", exit=0, cwd=f"{home}/secret-projects"),  # not below
    ]
    write_spool(cmdai_home / "data" / "spool", rows)
    store, report = spool.open_history()
    with store:
        kept = [e.command for e in reversed(store.list())]
    assert kept == ["ls", "cat readme"]
    assert (report.filtered, report.inserted) == (5, 2)


def test_policy_reasons():
    policy = privacy.Policy(redactor=None, ignore_commands=[__import__("re").compile("^rm ")],
                            ignore_dirs=["/a/b"], store_failed=False)
    assert policy.filtered("rm x", "/", 0) == "history.ignore_commands"
    assert policy.filtered("ls", "/a/b", 0) == "history.ignore_dirs"
    assert policy.filtered("ls", "/a/bc", 0) is None
    assert policy.filtered("ls", "/", 1) == "history.store_failed"
    assert policy.filtered("ls", "/", None) is None  # imports without an exit status are kept


def test_quarantined_lines_are_redacted_too(tmp_path):
    sp, q = tmp_path / "spool", tmp_path / "q.tsv"
    sp.mkdir()
    (sp / "h-s1.tsv").write_text("v1\tzsh\ts1\tnot-a-time\t0\t1\t/\tmysql -pCmd4iQuarantinePw db\n")
    with Store.open(tmp_path / "h.db") as store:
        report = spool.ingest(store, sp, q, policy=privacy.load_policy())
    assert len(report.bad) == 1
    text = q.read_text()
    assert "Cmd4iQuarantinePw" not in text and "mysql -p<redacted:password> db" in text


def test_a_broken_config_stores_nothing_and_keeps_the_spool(tmp_path, cmdai_home):
    cfg = cmdai_home / "config" / "config.toml"
    cfg.parent.mkdir(parents=True)
    cfg.write_text("[privacy]\ndisabled_rules = ['no-such-rule']\n")
    sp = cmdai_home / "data" / "spool"
    write_spool(sp, entries(["export API_TOKEN=Cmd4iKeptInSpool"]))
    with pytest.raises(ConfigError, match="no-such-rule"):
        spool.open_history()
    assert "Cmd4iKeptInSpool" in "".join(p.read_text() for p in sp.iterdir())
    cfg.write_text("[privacy]\ndisabled_rules = ['secret-assignment']\n")
    store, report = spool.open_history()
    with store:
        assert [e.command for e in store.list()] == ["export API_TOKEN=Cmd4iKeptInSpool"]


def test_redaction_can_be_turned_off_and_extended(tmp_path, cmdai_home):
    cfg = cmdai_home / "config" / "config.toml"
    cfg.parent.mkdir(parents=True)
    cfg.write_text("[privacy]\nextra_patterns = ['ACME-[0-9]{4}-[A-Z]{4}']\n")
    assert privacy.load_policy().redact("activate ACME-1234-WXYZ now") == \
        "activate <redacted:custom> now"
    cfg.write_text("[privacy]\nredact = false\n")
    assert privacy.load_policy().redact("export API_TOKEN=x1") == "export API_TOKEN=x1"
    cfg.write_text("[privacy]\nextra_patterns = ['(']\n")
    with pytest.raises(ConfigError, match="bad regex"):
        privacy.load_policy()


# -- imports ------------------------------------------------------------------------------
def _history_files(tmp_path: Path, commands: list[str]) -> list[driver.Source]:
    bash = tmp_path / "bash_history"
    bash.write_text("".join(f"#{1700000000 + i}\n{c}\n" for i, c in enumerate(commands)))
    zsh = tmp_path / "zsh_history"
    zsh.write_text("".join(f": {1700000000 + i}:0;{c}\n" for i, c in enumerate(commands)))
    fish = tmp_path / "fish_history"
    fish.write_text("".join(
        f"- cmd: {c.replace(chr(92), chr(92) * 2)}\n  when: {1700000000 + i}\n"
        for i, c in enumerate(commands)
    ))
    return [driver.Source("bash", bash, "--file"), driver.Source("zsh", zsh, "--file"),
            driver.Source("fish", fish, "--file")]


def test_imports_are_redacted_and_reimport_adds_nothing(tmp_path, embedder):
    commands = [c for c, _ in SECRETS] + NEAR_MISSES
    db = tmp_path / "h.db"
    sources = _history_files(tmp_path, commands)
    results = driver.run(sources, store_path=db)
    assert [r.imported for r in results] == [len(commands)] * 3, [r.problems[:3] for r in results]
    assert embed_everything(db, embedder) >= len(commands)
    assert_no_secret_on_disk(db, ALL_SECRETS())
    with Store.open(db) as store:
        stored = {e.command for e in store.list(limit=10_000)}
    assert set(NEAR_MISSES) <= stored
    again = driver.run(sources, store_path=db)
    assert [(r.imported, r.present) for r in again] == [(0, len(commands))] * 3
