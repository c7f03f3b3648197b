"""Every test gets its own CMDAI_HOME (all of cmdai's state) in a temp dir."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def cmdai_home(tmp_path, monkeypatch):
    home = tmp_path / "cmdai-home"
    monkeypatch.setenv("CMDAI_HOME", str(home))
    for var in list(__import__("os").environ):
        if var.startswith("CMDAI_") and "__" in var:
            monkeypatch.delenv(var)
    return home


@pytest.fixture
def shell_factory(tmp_path):
    """Start real shells in a pty (tests/e2e/shells.py), one temp dir each; closed afterwards."""
    from tests.e2e.shells import Shell

    opened: list[Shell] = []

    def make(name: str, sub: str = "", **kw) -> Shell:
        sh = Shell(name, tmp_path / (name + sub), **kw)
        opened.append(sh)
        return sh

    yield make
    for sh in opened:
        sh.close()


@pytest.fixture(scope="session")
def embedder():
    """The real ONNX sentence embedder, loaded once per test session."""
    from cmdai.semantic.embedder import Embedder

    return Embedder()
