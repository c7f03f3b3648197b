"""Secrets redaction: rules as data (rules.toml next to this file), compiled once.

``Redactor.redact(text)`` replaces each secret with ``<redacted:KIND>`` and keeps the rest of the
text. A rule runs only when the lower-cased text contains one of its keywords, so a command
without any costs a few substring tests. Redaction is deterministic and idempotent (redacting
twice gives the same text), which the dedup keys of imports and ``history prune`` rely on.
"""

from __future__ import annotations

import re
import tomllib
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
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
    pattern: str  # the regex, compiled on first use: most rules never run in a process
    examples: tuple[tuple[str, str], ...] = ()
    near_misses: tuple[str, ...] = ()

    @property
    def marker(self) -> str:
        return MARKER.format(self.kind)

    @cached_property
    def regex(self) -> re.Pattern[str]:
        return re.compile(self.pattern)

    @cached_property
    def groups(self) -> tuple[str, ...]:
        """The names of the groups that hold the secret (``secret``, ``secret2``...)."""
        return tuple(sorted(g for g in self.regex.groupindex if g.startswith("secret")))


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
        pattern = raw["pattern"].replace("@VALUE@", VALUE)
        if "(?P<secret" not in pattern:
            raise ConfigError(f"redaction rule {rule_id!r} has no group named 'secret'")
        rules.append(Rule(
            id=rule_id, kind=raw.get("kind", rule_id), description=raw.get("description", ""),
            keywords=keywords, pattern=pattern,
            examples=tuple((a, b) for a, b in raw.get("examples", ())),
            near_misses=tuple(raw.get("near_misses", ())),
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
        wrapped = pattern if any(g.startswith("secret") for g in regex.groupindex) \
            else f"(?P<secret>{pattern})"
        out.append(Rule(id=f"custom-{i + 1}", kind=CUSTOM_KIND, description=pattern,
                        keywords=("",), pattern=wrapped))
    return out


def _skip(value: str) -> bool:
    """A variable reference or command substitution is not a secret."""
    return not value or value[0] == "$" or value[0] == "`"


def _trie_pattern(words: list[str]) -> str:
    """A regex matching any of ``words``, shaped as a trie (``a(?:kia|sia)|...``): sre tries
    one branch per character instead of every word at every position, 3-4x faster over a
    long text than a flat alternation."""
    trie: dict[str, dict] = {}
    for word in words:
        node = trie
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def build(node: dict[str, dict]) -> str:
        branches = [re.escape(ch) + build(child) for ch, child in sorted(node.items()) if ch]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if "" in node else body

    return build(trie)


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
        self._any_keyword = re.compile(_trie_pattern(keywords)) if keywords else None

    def redact(self, text: str) -> str:
        return self.redact_kinds(text)[0]

    def redact_many(self, texts: Sequence[str]) -> dict[int, tuple[str, list[str]]]:
        """``redact_kinds`` over a batch: ``{index: (redacted text, kinds)}`` for the texts that
        held a secret. One keyword scan over the whole batch finds the few texts worth a closer
        look, instead of one scan per text (spool ingest of 100k lines)."""
        candidates: Sequence[int] = range(len(texts))
        if not self._always and self._any_keyword is not None and texts:
            joined = "\0".join(texts)
            lower = joined.lower()
            # the positions map back to texts only when lower() kept every length and no text
            # holds the separator itself; otherwise every text is looked at, one by one
            if len(lower) == len(joined) and joined.count("\0") == len(texts) - 1:
                starts = [0]
                for t in texts:
                    starts.append(starts[-1] + len(t) + 1)
                candidates = sorted({bisect_right(starts, m.start()) - 1
                                     for m in self._any_keyword.finditer(lower)})
        out: dict[int, tuple[str, list[str]]] = {}
        for i in candidates:
            text, kinds = self.redact_kinds(texts[i])
            if kinds:
                out[i] = (text, kinds)
        return out

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
