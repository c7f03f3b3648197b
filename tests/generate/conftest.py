"""Real models for the generation tests, without re-downloading them per test.

The models live in the REAL user data dir (where `cmdai model install` puts them), resolved at
import time, before the autouse fixture points CMDAI_HOME at a temp dir. A session fixture
installs a missing model there once; each test then gets a symlink (plus the checksum stamp, so
the file is not rehashed) inside its own CMDAI_HOME.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from cmdai import models


def _real_models_dir() -> Path:
    override = os.environ.get("CMDAI_TEST_MODELS_DIR")
    if override:
        return Path(override)
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".local" / "share"
    return base / "cmdai" / "models"


REAL_MODELS = _real_models_dir()
SMALL = "qwen2.5-coder-0.5b"


@pytest.fixture(scope="session")
def installed():
    """name -> verified path in the real models dir (installed once if missing)."""
    done: dict[str, Path] = {}

    def get(name: str) -> Path:
        if name not in done:
            model = models.get(name)
            if models.status(model, REAL_MODELS) != "verified":
                models.install(name, directory=REAL_MODELS)
            done[name] = models.verify(model, REAL_MODELS)
        return done[name]

    return get


@pytest.fixture
def link_model(installed, cmdai_home):
    """Make a catalog model available inside this test's CMDAI_HOME; returns its path there."""

    def link(name: str) -> Path:
        src = installed(name)
        model = models.get(name)
        dest_dir = models.models_dir()
        dest_dir.mkdir(parents=True, exist_ok=True)
        dest = dest_dir / model.file
        if not dest.exists():
            dest.symlink_to(src)
            shutil.copy(str(src) + ".verified", str(dest) + ".verified")
        return dest

    return link


@pytest.fixture
def project(tmp_path):
    """A small project directory to generate commands in."""
    root = tmp_path / "project"
    (root / "src").mkdir(parents=True)
    (root / "src" / "main.py").write_text("print('hi')\n")
    (root / "src" / "util.py").write_text("X = 1\n")
    (root / "notes.txt").write_text("a\nb\n")
    return root


def cancel_after_first_token(backend) -> list[str]:
    """Cancel a long request at its first token: Cancelled is raised; the tokens seen."""
    import threading

    from cmdai.backends import Request
    from cmdai.errors import Cancelled

    cancel = threading.Event()
    seen: list[str] = []

    def on_token(piece):
        seen.append(piece)
        cancel.set()

    with pytest.raises(Cancelled):
        backend.complete(Request(system="Write a long story.", user="go", max_tokens=64,
                                 on_token=on_token, cancel=cancel))
    return seen
