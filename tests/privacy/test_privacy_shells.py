"""Secrets typed in real zsh, bash and fish never reach the database files; pause/resume."""

from __future__ import annotations

import sys

import pytest

from cmdai import paths
from tests.e2e.shells import Shell
from tests.privacy.corpus import NEAR_MISSES, SECRETS
from tests.privacy.test_privacy_ingest import db_bytes, embed_everything

SHELLS = ["zsh", "bash", "fish"]
pytestmark = pytest.mark.e2e
# nothing typed may really run (curl, ssh, mysql ... would reach for the network): an empty PATH
NO_PATH = {"fish": ("set -gx PATH /nonexistent",)}


@pytest.mark.parametrize("name", SHELLS)
def test_secrets_typed_in_a_real_shell_are_redacted_before_storage(shell_factory, name,
                                                                   embedder):
    sh = shell_factory(name, rc_lines=NO_PATH.get(name, ("PATH=/nonexistent",)))
    commands = [c for c, _ in SECRETS] + NEAR_MISSES
    for command in commands:
        sh.run(command)
    entries = sh.history()  # ingests the spool into the database
    stored = [e["command"] for e in entries]
    assert len(stored) == len(commands)
    assert stored[len(SECRETS):] == NEAR_MISSES  # near-misses byte for byte
    for (typed, secrets), got in zip(SECRETS, stored):
        assert "<redacted:" in got, typed
        assert not [s for s in secrets if s in got], got
    db = sh.tmp / "cmdai" / "data" / "history.db"
    assert embed_everything(db, embedder) >= len(commands)  # the embedding cache is on disk too
    data = db_bytes(db)
    assert data, db
    leaked = [s for _, ss in SECRETS for s in ss if s.encode() in data]
    assert leaked == []
    assert not list(sh.spool_dir.glob("*.tsv*")), "the spool file is deleted once ingested"


@pytest.mark.parametrize("name", SHELLS)
def test_pause_and_resume_apply_to_one_session(shell_factory, name):
    a = shell_factory(name, "-a")
    b = Shell(name, a.tmp, rc_lines=())  # a second session sharing the same cmdai home
    try:
        a.run("echo before")
        a.run(f"{sys.executable} -m cmdai pause", records=0)

        def flags() -> list[str]:
            return [p.name for p in a.spool_dir.iterdir() if p.name.startswith(".paused-")]

        a.wait_for(lambda: flags(), "the pause flag")  # a loaded machine starts Python slowly
        assert len(flags()) == 1
        a.run("echo while-paused Cmd4iPausedSecret", records=0)
        b.run("echo other-session")  # not paused
        a.run(f"{sys.executable} -m cmdai resume")
        a.run("echo after")
        stored = [e["command"] for e in a.history()]
    finally:
        b.close()
    # (sorted: fish stamps whole seconds, so two sessions' commands may tie)
    assert sorted(stored) == sorted(["echo before", "echo other-session",
                                     f"{sys.executable} -m cmdai resume", "echo after"])
    assert not [p for p in a.spool_dir.iterdir() if p.name.startswith(".paused-")]


def test_pause_needs_a_session(cmdai_home):
    import subprocess

    out = subprocess.run([sys.executable, "-m", "cmdai", "pause"], capture_output=True, text=True,
                         env={"CMDAI_HOME": str(cmdai_home), "PATH": "/usr/bin:/bin"})
    assert out.returncode == 2 and "CMDAI_SESSION" in out.stderr
    assert not paths.spool_dir().exists() or not list(paths.spool_dir().iterdir())
