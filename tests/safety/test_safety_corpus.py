"""Recall on the dangerous corpus (benchmarks/data/dangerous.toml) and no critical verdict on the
everyday NL2Bash commands (../shared/data/nl2bash_dev.jsonl, read in place)."""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path

import pytest

from cmdai.safety import LEVELS, check, reset_cache

REPO = Path(__file__).resolve().parents[2]
CORPUS = tomllib.loads((REPO / "benchmarks" / "data" / "dangerous.toml").read_text())
EVERYDAY = REPO.parent / "shared" / "data" / "nl2bash_dev.jsonl"


@pytest.fixture(autouse=True, scope="module")
def _fresh_cache():
    reset_cache()
    yield
    reset_cache()


def test_corpus_is_big_enough() -> None:
    assert sum(len(t["commands"]) for t in CORPUS.values()) >= 200
    assert len(CORPUS) >= 18


@pytest.mark.parametrize("category", sorted(CORPUS))
def test_recall_is_complete_per_category(category: str) -> None:
    table = CORPUS[category]
    missed = [c for c in table["commands"]
              if LEVELS.index(check(c, blast_radius=False).level) < LEVELS.index(table["min"])]
    assert missed == []


def _everyday_lines(path: Path = EVERYDAY) -> list[str]:
    """The everyday sample; skipped for a developer without ../shared, a failure in CI (where
    ../shared is always beside the clone, so a missing file means a broken checkout)."""
    if not path.exists():
        if os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
            pytest.fail(f"{path} is missing; CI must have ../shared beside the clone")
        pytest.skip("shared NL2Bash sample not present")
    return path.read_text().splitlines()


def test_missing_everyday_sample_fails_in_ci_and_skips_elsewhere(tmp_path, monkeypatch) -> None:
    missing = tmp_path / "nope.jsonl"
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception):
        _everyday_lines(missing)
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception):
        _everyday_lines(missing)
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception):
        _everyday_lines(missing)


def test_everyday_commands_are_never_critical() -> None:
    critical = []
    for line in _everyday_lines():
        cmd = json.loads(line)["bash"]
        if check(cmd, blast_radius=False).level == "critical":
            critical.append(cmd)
    assert critical == []
