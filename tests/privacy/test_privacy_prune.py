"""`cmdai history prune`: rules and filters applied to history stored before they existed."""

from __future__ import annotations

import json
import subprocess
import sys

from cmdai import privacy
from cmdai.history.entry import Entry
from cmdai.history.store import Store
from cmdai.privacy.prune import prune
from tests.privacy.corpus import NEAR_MISSES, SECRETS
from tests.privacy.test_privacy_ingest import T0, assert_no_secret_on_disk, db_bytes

RAW = privacy.Policy(redactor=None)  # what an old cmdai stored: no redaction at all


def seed(db, commands, **kw):
    rows = [Entry(command=c, timestamp=T0 + i * 10**9, session="s1", exit=kw.get("exit", 0),
                  cwd=kw.get("cwd", "/home/u"), shell="zsh") for i, c in enumerate(commands)]
    with Store.open(db) as store:
        store.insert(rows)
    return rows


def test_prune_rewrites_secrets_and_the_files_forget_them(tmp_path):
    db = tmp_path / "h.db"
    commands = [c for c, _ in SECRETS] + NEAR_MISSES
    seed(db, commands)
    secrets = [s for _, ss in SECRETS for s in ss]
    assert any(s.encode() in db_bytes(db) for s in secrets)  # stored as typed, before prune
    policy = privacy.load_policy()
    with Store.open(db) as store:
        dry = prune(store, policy, dry_run=True)
        assert (dry.redacted, dry.deleted) == (len(SECRETS), 0)
        assert store.count() == len(commands)
        assert any(s in e.command for e in store.list(limit=1000) for s in secrets)  # untouched
        report = prune(store, policy)
        assert (report.redacted, report.deleted, report.scanned) == (len(SECRETS), 0, len(commands))
        assert report.kinds["password"] >= 5
        stored = [e.command for e in reversed(store.list(limit=1000))]
    assert stored[len(SECRETS):] == NEAR_MISSES
    assert_no_secret_on_disk(db, secrets)
    with Store.open(db) as store:  # idempotent
        assert prune(store, policy).redacted == 0


def test_prune_dedup_key_matches_a_redacted_reimport(tmp_path):
    """After prune, importing the same secret line again (redacted on the way in) adds nothing."""
    db = tmp_path / "h.db"
    (row,) = seed(db, ["mysql -u root -pCmd4iOldPw app"])
    with Store.open(db) as store:
        prune(store, privacy.load_policy())
        again = Entry(command=privacy.redact(row.command), timestamp=row.timestamp, session="s1")
        assert store.insert([again]) == 0
        assert [e.command for e in store.list()] == ["mysql -u root -p<redacted:password> app"]


def test_prune_removes_a_duplicate_whose_redacted_form_exists(tmp_path):
    db = tmp_path / "h.db"
    (row,) = seed(db, ["export API_TOKEN=Cmd4iDup"])
    with Store.open(db) as store:
        store.insert([Entry(command="export API_TOKEN=<redacted:secret-assignment>",
                            timestamp=row.timestamp, session="s1")])
        report = prune(store, privacy.load_policy())
        assert (report.redacted, report.duplicates, store.count()) == (0, 1, 1)
    assert b"Cmd4iDup" not in db.read_bytes()


def test_prune_applies_filters(tmp_path, cmdai_home):
    cfg = cmdai_home / "config" / "config.toml"
    cfg.parent.mkdir(parents=True)
    cfg.write_text("[history]\nstore_failed = false\nignore_commands = ['^pass ']\n"
                   "ignore_dirs = ['/srv/secret']\n")
    db = tmp_path / "h.db"
    seed(db, ["ls", "pass show bank-Cmd4iPassEntry"])
    seed(db, ["make"], exit=2)
    seed(db, ["cat x"], cwd="/srv/secret/a")
    with Store.open(db) as store:
        report = prune(store, privacy.load_policy())
        assert report.reasons == {"history.ignore_commands": 1, "history.store_failed": 1,
                                  "history.ignore_dirs": 1}
        assert [e.command for e in store.list()] == ["ls"]
    assert b"Cmd4iPassEntry" not in db.read_bytes()


def test_prune_redacts_ctrl_g_records(tmp_path):
    db = tmp_path / "h.db"
    with Store.open(db) as store:
        store.conn.execute(
            "INSERT INTO generations (timestamp, request, command) VALUES (?, ?, ?)",
            (T0, "log in with password=Cmd4iGenReq", "sshpass -p Cmd4iGenCmd ssh host"),
        )
        report = prune(store, privacy.load_policy())
        assert report.generations == 1
        ((req, cmd),) = store.conn.execute("SELECT request, command FROM generations").fetchall()
    assert "Cmd4iGen" not in req + cmd


def test_prune_cli(cmdai_home):
    from cmdai import paths

    seed(paths.db_file(), ["ls", "curl -u bob:Cmd4iCli https://x"])
    env = {"CMDAI_HOME": str(cmdai_home), "PATH": "/usr/bin:/bin", "HOME": str(cmdai_home)}
    run = lambda *a: subprocess.run([sys.executable, "-m", "cmdai", "history", "prune", *a],  # noqa: E731
                                    env=env, capture_output=True, text=True)
    out = run("--dry-run")
    assert out.returncode == 0 and "1 would be rewritten" in out.stderr
    assert "curl -u bob:<redacted:password> https://x" in out.stderr
    out = run("--json")
    assert json.loads(out.stdout)["redacted"] == 1
    assert json.loads(run("--json").stdout)["redacted"] == 0


def test_prune_and_delete_drop_the_vectors_of_texts_no_row_holds(tmp_path):
    """Cached embeddings of a rewritten or deleted text leave in one pass per batch; a text
    still held by another live row keeps its vector."""
    db = tmp_path / "h.db"
    secret_cmd = SECRETS[0][0]
    seed(db, [secret_cmd, "git status", "git status", NEAR_MISSES[0]])
    with Store.open(db) as store:
        with store.conn:
            for text in (secret_cmd, "git status", NEAR_MISSES[0]):
                store.conn.execute("INSERT INTO embeddings(model, command, vector) VALUES"
                                   " ('m', ?, x'00000000')", (text,))

        def vectors():
            return {r[0] for r in store.conn.execute("SELECT command FROM embeddings")}

        prune(store, privacy.load_policy())
        assert vectors() == {"git status", NEAR_MISSES[0]}
        ids = [r[0] for r in store.conn.execute(
            "SELECT id FROM history WHERE command = 'git status' ORDER BY id")]
        store.delete(ids[:1])
        assert "git status" in vectors()  # the other run still holds it
        store.delete(ids[1:])
        assert vectors() == {NEAR_MISSES[0]}
