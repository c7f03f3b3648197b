"""Tests generated from the rules themselves: every example must hit its rule, every near-miss
must not. The real tree-sitter parser runs for each."""

from __future__ import annotations

import pytest

from cmdai.safety import check, reset_cache
from cmdai.safety.rules import LEVELS, build, builtin_data

RULES = build(builtin_data()).rules
CATEGORIES = {
    "filesystem", "disk", "fork-bomb", "system", "permissions", "privilege", "download-exec",
    "remote-shell", "exfiltration", "persistence", "security", "environment", "packages",
    "processes", "vcs", "infrastructure", "exploit", "parse",
}


@pytest.fixture(autouse=True, scope="module")
def _fresh_cache():
    reset_cache()  # built-in rules only: each test's CMDAI_HOME holds no user rules file
    yield
    reset_cache()


def _ids(command: str) -> list[str]:
    return [m.id for m in check(command, blast_radius=False, policy="balanced").rules]


EXAMPLES = [pytest.param(r.id, ex, id=f"{r.id}:{ex[:40]}") for r in RULES for ex in r.examples]
NEAR = [pytest.param(r.id, nm, id=f"{r.id}:{nm[:40]}") for r in RULES for nm in r.near_misses]


@pytest.mark.parametrize(("rule_id", "command"), EXAMPLES)
def test_example_hits_its_rule(rule_id: str, command: str) -> None:
    assert rule_id in _ids(command)


@pytest.mark.parametrize(("rule_id", "command"), NEAR)
def test_near_miss_does_not_hit(rule_id: str, command: str) -> None:
    assert rule_id not in _ids(command)


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_rule_is_complete(rule) -> None:
    assert rule.examples, "every rule needs examples it must hit"
    assert rule.near_misses, "every rule needs near-misses it must not hit"
    assert rule.level in LEVELS and rule.level != "safe"
    assert rule.category in CATEGORIES
    assert rule.reason.endswith(".") and len(rule.reason.split()) >= 6


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_example_level_is_at_least_the_rule_level(rule) -> None:
    for ex in rule.examples:
        v = check(ex, blast_radius=False)
        assert LEVELS.index(v.level) >= LEVELS.index(rule.level), ex


def test_every_catalog_category_has_rules() -> None:
    assert {r.category for r in RULES} == CATEGORIES


def test_rule_ids_are_unique() -> None:
    ids = [r.id for r in RULES]
    assert len(ids) == len(set(ids))
