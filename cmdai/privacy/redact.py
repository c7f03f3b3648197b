"""Secrets redaction: rules as data (rules.toml next to this file), compiled once.

``Redactor.redact(text)`` replaces each secret with ``<redacted:KIND>`` and keeps the rest of the
text. A rule runs only when the lower-cased text contains one of its keywords, so a command
without any costs a few substring tests. Redaction is deterministic and idempotent (redacting
twice gives the same text), which the dedup keys of imports and ``history prune`` rely on.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from cmdai.errors import ConfigError

MARKER = "<redacted:{}>"
_MARKER_RE = re.compile(r"<redacted:[a-z0-9-]{1,40}>")
# a shell word: 'single-quoted', "double-quoted" or bare (never starting with '-', '=' or '<')
VALUE = (
    r"""(?P<secret>'[^'\n]{1,2048}'|"[^"\n]{1,2048}"|[^\s'"`;|&<>()=-][^\s'"`;|&<>()]{0,2047})"""
)
CUSTOM_KIND = "custom"


@dataclass(frozen=True)
class Rule:
    id: str
    kind: str
    description: str
    keywords: tuple[str, ...]
    regex: re.Pattern[str]
    examples: tuple[tuple[str, str], ...] = ()
    near_misses: tuple[str, ...] = ()
    groups: tuple[str, ...] = field(default=("secret",))

    @property
    def marker(self) -> str:
        return MARKER.format(self.kind)


def _compile(rule_id: str, pattern: str) -> tuple[re.Pattern[str], tuple[str, ...]]:
    try:
        regex = re.compile(pattern.replace("@VALUE@", VALUE))
    except re.error as exc:
        raise ConfigError(f"redaction rule {rule_id!r}: bad regex: {exc}") from None
    groups = tuple(sorted(g for g in regex.groupindex if g.startswith("secret")))
    return regex, groups


def builtin_data() -> dict[str, Any]:
    text = resources.files("cmdai.privacy").joinpath("rules.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def build_rules(data: dict[str, Any]) -> list[Rule]:
    rules: list[Rule] = []
    seen: set[str] = set()
    for raw in data.get("rule", []):
        rule_id = raw["id"]
        if rule_id in seen:
            raise ConfigError(f"redaction rule {rule_id!r} is defined twice")
        seen.add(rule_id)
        keywords = tuple(k.lower() for k in raw.get("keywords", ()))
        if not keywords:
            raise ConfigError(f"redaction rule {rule_id!r} has no keywords")
        regex, groups = _compile(rule_id, raw["pattern"])
        if not groups:
            raise ConfigError(f"redaction rule {rule_id!r} has no group named 'secret'")
        rules.append(Rule(
            id=rule_id, kind=raw.get("kind", rule_id), description=raw.get("description", ""),
            keywords=keywords, regex=regex,
            examples=tuple((a, b) for a, b in raw.get("examples", ())),
            near_misses=tuple(raw.get("near_misses", ())), groups=groups,
        ))
    return rules


_BUILTIN: list[Rule] | None = None


def builtin_rules() -> list[Rule]:
    global _BUILTIN
    if _BUILTIN is None:
        _BUILTIN = build_rules(builtin_data())
    return _BUILTIN


def custom_rules(patterns: list[str], where: str = "privacy.extra_patterns") -> list[Rule]:
    """The user's own regexes: the match (or its group named 'secret') becomes
    <redacted:custom>. They run on every command (no keywords)."""
    out = []
    for i, pattern in enumerate(patterns):
        try:
            regex = re.compile(pattern)
        except re.error as exc:
            raise ConfigError(f"{where}: bad regex {pattern!r}: {exc}") from None
        groups = tuple(g for g in regex.groupindex if g.startswith("secret"))
        if not groups:
            regex = re.compile(f"(?P<secret>{pattern})")
            groups = ("secret",)
        out.append(Rule(id=f"custom-{i + 1}", kind=CUSTOM_KIND, description=pattern,
                        keywords=("",), regex=regex, groups=groups))
    return out


def _skip(value: str) -> bool:
    """A variable reference or command substitution is not a secret."""
    return not value or value[0] == "$" or value[0] == "`"


class Redactor:
    """Applies rules in order. Later rules never touch text an earlier one redacted."""

    def __init__(self, rules: list[Rule]) -> None:
        self.rules = rules
        self._always = [i for i, r in enumerate(rules) if "" in r.keywords]
        # each distinct keyword tested once (`in` on the lower-cased text), then its rules run;
        # faster here than one big alternation regex, which sre scans position by position
        keywords = sorted({k for r in rules for k in r.keywords if k})
        self._keywords = [
            (k, tuple(i for i, r in enumerate(rules) if k in r.keywords)) for k in keywords
        ]
        # most commands hold no keyword at all: one search says so and skips the loop above
        self._any_keyword = re.compile("|".join(re.escape(k) for k in keywords)) if keywords \
            else None

    def redact(self, text: str) -> str:
        return self.redact_kinds(text)[0]

    def redact_kinds(self, text: str) -> tuple[str, list[str]]:
        """The redacted text and the kinds of what was redacted (one per secret)."""
        kinds: list[str] = []
        lower = text.lower()
        todo: list[int] | set[int] = self._always
        if self._any_keyword is None or not self._any_keyword.search(lower):
            if not todo:
                return text, kinds
            keywords: list[tuple[str, tuple[int, ...]]] = []
        else:
            keywords = self._keywords
        for k, ids in keywords:
            if k in lower:
                if todo is self._always:
                    todo = set(self._always)
                todo.update(ids)  # type: ignore[union-attr]
        if todo is not self._always:
            todo = sorted(todo)
        rules = self.rules
        for i in todo:  # in rule order: earlier rules win
            text = self._apply(rules[i], text, kinds)
        return text, kinds

    @staticmethod
    def _apply(rule: Rule, text: str, kinds: list[str]) -> str:
        matches = list(rule.regex.finditer(text))
        if not matches:
            return text
        taken = [m.span() for m in _MARKER_RE.finditer(text)] if "<redacted:" in text else []
        out: list[str] = []
        pos = 0
        for m in matches:
            for g in rule.groups:
                start, end = m.span(g)
                if start < 0:
                    continue
                value = text[start:end]
                if len(value) >= 2 and value[0] in "'\"" and value[-1] == value[0]:
                    start, end = start + 1, end - 1  # keep the quotes of a quoted word
                    value = value[1:-1]
                if _skip(value) or any(s < end and start < e for s, e in taken):
                    continue
                if start < pos:  # overlaps the previous replacement
                    continue
                out.append(text[pos:start])
                out.append(rule.marker)
                kinds.append(rule.kind)
                pos = end
        if not out:
            return text
        out.append(text[pos:])
        return "".join(out)
