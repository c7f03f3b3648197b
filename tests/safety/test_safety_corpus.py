"""Recall on the dangerous corpus (benchmarks/data/dangerous.toml) and no critical verdict on the
everyday NL2Bash commands (../shared/data/nl2bash_dev.jsonl, read in place)."""

from __future__ import annotations

import json
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


@pytest.mark.skipif(not EVERYDAY.exists(), reason="shared NL2Bash sample not present")
def test_everyday_commands_are_never_critical() -> None:
    critical = []
    for line in EVERYDAY.read_text().splitlines():
        cmd = json.loads(line)["bash"]
        if check(cmd, blast_radius=False).level == "critical":
            critical.append(cmd)
    assert critical == []
