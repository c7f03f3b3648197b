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
