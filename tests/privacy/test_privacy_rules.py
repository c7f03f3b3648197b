"""Tests generated from the redaction rules themselves: every example must become exactly its
expected text, every near-miss must come out unchanged under all rules together."""

from __future__ import annotations

import re

import pytest

from cmdai.errors import ConfigError
from cmdai.privacy.redact import MARKER, VALUE, Redactor, build_rules, builtin_rules, custom_rules

RULES = builtin_rules()
ALL = Redactor(RULES)
EXAMPLES = [pytest.param(r, a, b, id=f"{r.id}:{a[:40]}") for r in RULES for a, b in r.examples]
NEAR = [pytest.param(r.id, nm, id=f"{r.id}:{nm[:40]}") for r in RULES for nm in r.near_misses]


@pytest.mark.parametrize(("rule", "command", "expected"), EXAMPLES)
def test_example_is_redacted_exactly(rule, command, expected):
    assert ALL.redact(command) == expected
    # the rule on its own finds it too (no example relies on another rule's help)
    alone, kinds = Redactor([rule]).redact_kinds(command)
    assert rule.kind in kinds and MARKER.format(rule.kind) in alone


@pytest.mark.parametrize(("rule", "command", "expected"), EXAMPLES)
def test_redaction_is_idempotent(rule, command, expected):
    assert ALL.redact(expected) == expected


@pytest.mark.parametrize(("rule_id", "command"), NEAR)
def test_near_miss_stays_intact(rule_id, command):
    assert ALL.redact_kinds(command) == (command, [])


def test_every_rule_has_examples_near_misses_and_keywords():
    for r in RULES:
        assert r.examples and r.near_misses and r.keywords, r.id
        assert all(k == k.lower() for k in r.keywords), r.id
        assert re.fullmatch(r"[a-z0-9-]{1,40}", r.kind), r.id


def test_every_example_hits_one_of_its_rule_keywords():
    for r in RULES:
        for command, _ in r.examples:
            assert any(k in command.lower() for k in r.keywords), (r.id, command)


def test_coverage_of_what_the_issue_lists():
    kinds = {r.kind for r in RULES}
    assert {
        "aws-access-key-id", "aws-secret-access-key", "gcp-api-key", "azure-storage-key",
        "github-token", "gitlab-token", "slack-token", "stripe-key", "npm-token", "pypi-token",
        "jwt", "private-key", "authorization-header", "bearer-token", "url-password", "password",
        "secret-assignment",
    } <= kinds


def test_quantifiers_are_bounded():
    """No unbounded + or * in a rule (a pasted blob must not make the hook-to-store path slow)."""
    for r in RULES:
        pattern = r.regex.pattern.replace(VALUE, "")
        stripped = re.sub(r"\\.", "", pattern)  # escaped characters
        stripped = re.sub(r"\[[^\]]*\]", "", stripped)  # character classes
        stripped = stripped.replace("(?", "")
        assert "+" not in stripped and "*" not in stripped, (r.id, pattern)


def test_several_secrets_in_one_line_and_the_rest_stays_searchable():
    line = ("PGPASSWORD=pg-cmdai-1 psql postgresql://u:pw-cmdai-2@db/app -c 'select 1' && "
            "curl -H 'Authorization: Bearer tok-cmdai-3x9' https://api.example.com/items")
    got, kinds = ALL.redact_kinds(line)
    for secret in ("pg-cmdai-1", "pw-cmdai-2", "tok-cmdai-3x9"):
        assert secret not in got
    assert sorted(kinds) == ["authorization-header", "secret-assignment", "url-password"]
    for word in ("psql", "db/app", "select 1", "https://api.example.com/items", "Authorization"):
        assert word in got


def test_long_input_is_handled():
    blob = "echo " + "A" * 200_000 + " ghp_" + "x" * 36
    got = ALL.redact(blob)
    assert got.endswith("<redacted:github-token>") and len(got) < len(blob)


def test_custom_patterns():
    (rule,) = custom_rules([r"corp-[0-9]{6}"])
    assert Redactor([rule]).redact("vpn --id corp-123456 up") == "vpn --id <redacted:custom> up"
    (rule,) = custom_rules([r"--pin (?P<secret>\d+)"])
    assert Redactor([rule]).redact("unlock --pin 4321") == "unlock --pin <redacted:custom>"
    with pytest.raises(ConfigError, match="bad regex"):
        custom_rules(["("])


def test_every_builtin_rule_compiles_with_a_secret_group():
    # rules compile on first use, so a broken one would only fail when a keyword hits
    for rule in RULES:
        assert rule.regex.pattern == rule.pattern and rule.groups, rule.id


def test_rule_definition_errors():
    with pytest.raises(ConfigError, match="no group named 'secret'"):
        build_rules({"rule": [{"id": "x", "keywords": ["x"], "pattern": "x"}]})
    with pytest.raises(ConfigError, match="no keywords"):
        build_rules({"rule": [{"id": "x", "pattern": "(?P<secret>x)"}]})
    with pytest.raises(ConfigError, match="defined twice"):
        build_rules({"rule": [{"id": "x", "keywords": ["x"], "pattern": "(?P<secret>x)"}] * 2})


def test_batch_redaction_equals_one_by_one():
    from tests.privacy.corpus import NEAR_MISSES, SECRETS

    texts = [a for r in RULES for a, _ in r.examples] + [c for c, _ in SECRETS] + NEAR_MISSES
    texts += ["ls -la", "echo İSTANBUL ghp_CMDAItest0123456789abcdefghijklmnopq",  # lower() grows
              "printf 'a\0b' --password=hunter2secret", ""]
    expected = {i: ALL.redact_kinds(t) for i, t in enumerate(texts) if ALL.redact_kinds(t)[1]}
    assert len(expected) > len(SECRETS)
    assert ALL.redact_many(texts) == expected
    assert ALL.redact_many(list(reversed(texts))) == {
        len(texts) - 1 - i: v for i, v in expected.items()}
    with_custom = Redactor(RULES + custom_rules([r"hunter\d"]))
    assert with_custom.redact_many(["x hunter2 y", "ls"]) == {
        0: ("x <redacted:custom> y", ["custom"])}
    assert ALL.redact_many([]) == {}
