"""Rules as data: load ``rules.toml`` (and a user file), validate, compile, match.

A rule says what it matches on a parsed simple command (see :mod:`cmdai.safety.parse`):

- ``program`` / ``program_re``: the program (basename, lower-cased) after unwrapping sudo & co.
- ``subcommand``: alternatives such as ``"push"`` or ``"s3 rm"`` (leading positionals).
- ``flags_all`` / ``flags_any`` / ``flags_none``: flag groups such as ``"r|R|recursive"``;
  short clusters (``-rf``), long flags (``--force``, ``--force=x``) and any order are normalised.
- ``args_any`` / ``args_all`` / ``args_none`` (positionals after the subcommand),
  ``sources_any`` (all positionals but the last), ``dest_any`` (the last),
  ``words_any`` / ``words_all`` / ``words_none`` (every word after the program),
  ``writes_any`` (output redirections), ``redirects_any`` (any redirection),
  ``feeds_any`` / ``feeds_args_any`` (commands whose output flows in), ``exec_feeds_any``
  (programs whose output the command runs as code), ``pipes_to_any``, ``code_all`` (the
  ``-c``/``-e`` code of an interpreter), ``stdin_any`` (statically known input), ``sudo``,
  ``input_args`` (true: the command gets more arguments from input nobody can see, as
  ``ls | xargs rm -rf`` does), ``fact`` (a structural finding such as ``fork-bomb``, or
  ``unparsed`` for a line that does not parse).
- A matcher is a regex (searched, so anchor it) or ``@class`` / ``PREFIX@class``: the word, after
  path normalisation (``//``, ``/./``, ``..``, ``~``, ``$HOME``), matches a path class.

Each rule carries ``examples`` it must hit and ``near_misses`` it must not; the tests are
generated from them. A user file may add rules, or name an existing id to change its ``level`` or
set ``enabled = false``.
"""

from __future__ import annotations

import os
import posixpath
import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from cmdai.errors import ConfigError

LEVELS = ("safe", "moderate", "high", "critical")
RANK = {name: i for i, name in enumerate(LEVELS)}
ACTIONS = ("allow", "warn", "confirm", "block")

_LIST_FIELDS = (
    "program", "subcommand", "flags_all", "flags_any", "flags_none", "args_any", "args_all",
    "args_none", "sources_any", "dest_any", "words_any", "words_all", "words_none", "writes_any",
    "redirects_any", "feeds_any", "feeds_args_any", "exec_feeds_any", "pipes_to_any", "code_all",
    "stdin_any", "line_any", "examples", "near_misses",
)
_SCALAR_FIELDS = {"id": str, "category": str, "level": str, "reason": str, "program_re": str,
                  "sudo": bool, "sudo_raises": bool, "fact": str, "enabled": bool,
                  "stdin_script": bool, "input_args": bool}
_MATCHER_FIELDS = ("args_any", "args_all", "args_none", "sources_any", "dest_any", "words_any",
                   "words_all", "words_none", "writes_any", "redirects_any", "feeds_args_any",
                   "stdin_any", "line_any")


class Matcher:
    __slots__ = ("prefix", "cls", "rx", "source")

    def __init__(self, source: str, classes: dict[str, list[re.Pattern[str]]], where: str):
        self.source = source
        m = re.fullmatch(r"([^@\s]*)@([a-z_]+)", source)
        self.prefix = ""
        self.cls: list[re.Pattern[str]] | None = None
        self.rx: re.Pattern[str] | None = None
        if m:
            if m.group(2) not in classes:
                raise ConfigError(f"{where}: unknown path class @{m.group(2)}",
                                  f"known: {', '.join(sorted(classes))}")
            self.prefix, self.cls = m.group(1), classes[m.group(2)]
        else:
            try:
                self.rx = re.compile(source)
            except re.error as exc:
                raise ConfigError(f"{where}: bad regex {source!r}: {exc}")

    def match(self, word: str, tainted: frozenset[str] = frozenset()) -> bool:
        if self.rx is not None:
            return self.rx.search(word) is not None
        assert self.cls is not None
        if self.prefix:
            if not word.startswith(self.prefix):
                return False
            cands = [word[len(self.prefix):]]
        else:
            cands = [word]
            m = _TAIL.match(word)
            if m and m.group(1) != word:
                cands.append(m.group(1))
        for c in cands:
            p = norm_path(c)
            if any(rx.search(p) for rx in self.cls):
                return True
            if tainted and p in tainted and self.cls is _SECRET_SENTINEL.get("secret"):
                return True
        return False


_TAIL = re.compile(r"^(?:-{1,2}[\w-]{1,40}=|[\w.-]{1,40}=)?@?(.+)$", re.S)
_SECRET_SENTINEL: dict[str, Any] = {}


def norm_path(word: str) -> str:
    """Normalise a path-looking word the way the kernel would resolve it (no I/O)."""
    if not word or len(word) > 4096:
        return word
    if word[0] == "~":
        head, sep, rest = word.partition("/")
        if head == "~":
            base = os.path.expanduser("~")
        elif re.fullmatch(r"~[\w.-]+", head):
            base = "/root" if head == "~root" else "/home/" + head[1:]
        else:
            return word
        word = base + (sep + rest if sep else "")
    if word[0] not in "/.":
        return word
    trailing_glob = ""
    word = re.sub(r"/{2,}", "/", word)
    n = posixpath.normpath(word)
    if n.startswith("//"):
        n = n[1:]
    del trailing_glob
    return n


def flag_groups(groups: list[str]) -> list[frozenset[str]]:
    return [frozenset(g.split("|")) for g in groups]


@dataclass
class Rule:
    id: str
    category: str
    level: str
    reason: str
    data: dict[str, Any] = field(repr=False)
    program: frozenset[str] | None = None
    program_re: re.Pattern[str] | None = None
    subcommand: list[tuple[str, ...]] = field(default_factory=list)
    flags_all: list[frozenset[str]] = field(default_factory=list)
    flags_any: frozenset[str] = frozenset()
    flags_none: frozenset[str] = frozenset()
    m: dict[str, list[Matcher]] = field(default_factory=dict)
    feeds_any: frozenset[str] = frozenset()
    exec_feeds_any: frozenset[str] = frozenset()
    pipes_to_any: frozenset[str] = frozenset()
    code_all: list[re.Pattern[str]] = field(default_factory=list)
    sudo: bool | None = None
    input_args: bool | None = None
    sudo_raises: bool = True
    fact: str | None = None
    enabled: bool = True
    examples: list[str] = field(default_factory=list)
    near_misses: list[str] = field(default_factory=list)


def _check_rule_fields(d: dict[str, Any], where: str) -> None:
    for k, v in d.items():
        if k in _SCALAR_FIELDS:
            if not isinstance(v, _SCALAR_FIELDS[k]):
                raise ConfigError(f"{where}: '{k}' must be {_SCALAR_FIELDS[k].__name__}")
        elif k in _LIST_FIELDS:
            if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
                raise ConfigError(f"{where}: '{k}' must be a list of strings")
        else:
            raise ConfigError(f"{where}: unknown rule key '{k}'",
                              f"known: {', '.join(sorted([*_SCALAR_FIELDS, *_LIST_FIELDS]))}")
    if "level" in d and d["level"] not in LEVELS:
        raise ConfigError(f"{where}: level must be one of {', '.join(LEVELS)}, got {d['level']!r}")


def compile_rule(d: dict[str, Any], classes: dict[str, list[re.Pattern[str]]], where: str) -> Rule:
    _check_rule_fields(d, where)
    for k in ("id", "category", "level", "reason"):
        if k not in d:
            raise ConfigError(f"{where}: rule is missing '{k}'")
    r = Rule(id=d["id"], category=d["category"], level=d["level"], reason=d["reason"], data=d)
    if "program" in d:
        r.program = frozenset(p.lower() for p in d["program"])
    if "program_re" in d:
        r.program_re = re.compile(d["program_re"])
    r.subcommand = [tuple(s.split()) for s in d.get("subcommand", [])]
    r.flags_all = flag_groups(d.get("flags_all", []))
    r.flags_any = frozenset().union(*flag_groups(d.get("flags_any", [])))
    r.flags_none = frozenset().union(*flag_groups(d.get("flags_none", [])))
    for k in _MATCHER_FIELDS:
        if k in d:
            r.m[k] = [Matcher(s, classes, f"{where} {k}") for s in d[k]]
    r.feeds_any = frozenset(d.get("feeds_any", []))
    r.exec_feeds_any = frozenset(d.get("exec_feeds_any", []))
    r.pipes_to_any = frozenset(d.get("pipes_to_any", []))
    r.code_all = [re.compile(x) for x in d.get("code_all", [])]
    r.sudo = d.get("sudo")
    r.input_args = d.get("input_args")
    r.sudo_raises = d.get("sudo_raises", r.sudo is not True)
    r.fact = d.get("fact")
    r.enabled = d.get("enabled", True)
    r.examples = list(d.get("examples", []))
    r.near_misses = list(d.get("near_misses", []))
    return r


@dataclass
class RuleSet:
    rules: list[Rule]
    by_program: dict[str, list[Rule]]
    anywhere: list[Rule]  # rules without a fixed program name
    fact_rules: list[Rule]
    tables: dict[str, Any]  # wrappers, sinks, programs
    policies: dict[str, dict[str, str]]
    sources: list[str]

    def get(self, rule_id: str) -> Rule | None:
        for r in self.rules:
            if r.id == rule_id:
                return r
        return None


def builtin_data() -> dict[str, Any]:
    text = resources.files("cmdai.safety").joinpath("rules.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def _compile_classes(raw: dict[str, Any], where: str) -> dict[str, list[re.Pattern[str]]]:
    home = re.escape(os.path.expanduser("~").rstrip("/") or "/")
    out = {}
    for name, pats in raw.items():
        if not isinstance(pats, list):
            raise ConfigError(f"{where}: path class '{name}' must be a list of regexes")
        out[name] = [re.compile(p.replace("{HOME}", home)) for p in pats]
    return out


def build(builtin: dict[str, Any], user: dict[str, Any] | None = None,
          user_where: str = "") -> RuleSet:
    classes_raw = dict(builtin.get("classes", {}))
    if user and "classes" in user:
        for k, v in user["classes"].items():
            classes_raw[k] = list(classes_raw.get(k, [])) + list(v)
    classes = _compile_classes(classes_raw, user_where or "rules.toml")
    _SECRET_SENTINEL["secret"] = classes.get("secret")
    rules: list[Rule] = []
    ids: dict[str, int] = {}
    for i, d in enumerate(builtin.get("rule", [])):
        r = compile_rule(d, classes, f"rules.toml rule #{i + 1} ({d.get('id', '?')})")
        if r.id in ids:
            raise ConfigError(f"rules.toml: duplicate rule id {r.id}")
        ids[r.id] = len(rules)
        rules.append(r)
    policies = {k: dict(v) for k, v in builtin.get("policies", {}).items()}
    sources = ["<builtin>"]
    if user:
        unknown = set(user) - {"rule", "classes", "policies"}
        if unknown:
            raise ConfigError(f"{user_where}: unknown section(s) {', '.join(sorted(unknown))}",
                              "a rules file holds [[rule]] tables (and optional [classes])")
        for i, d in enumerate(user.get("rule", [])):
            where = f"{user_where} rule #{i + 1} ({d.get('id', '?')})"
            if not isinstance(d, dict) or "id" not in d:
                raise ConfigError(f"{where}: every rule needs an 'id'")
            if d["id"] in ids:
                _check_rule_fields(d, where)
                base = rules[ids[d["id"]]]
                merged = dict(base.data)
                merged.update(d)
                rules[ids[d["id"]]] = compile_rule(merged, classes, where)
            else:
                r = compile_rule(d, classes, where)
                ids[r.id] = len(rules)
                rules.append(r)
        for name, mapping in user.get("policies", {}).items():
            policies.setdefault(name, {}).update(mapping)
        sources.append(user_where)
    for name, mapping in policies.items():
        for level, action in mapping.items():
            if level not in LEVELS or action not in ACTIONS:
                raise ConfigError(f"policy '{name}': bad mapping {level} = {action}")
    by_program: dict[str, list[Rule]] = {}
    anywhere: list[Rule] = []
    fact_rules: list[Rule] = []
    for r in rules:
        if not r.enabled:
            continue
        if r.fact:
            fact_rules.append(r)
        elif r.program is not None:
            for p in r.program:
                by_program.setdefault(p, []).append(r)
        else:
            anywhere.append(r)
    tables = {k: builtin.get(k, {}) for k in ("wrappers", "sinks", "programs", "taint")}
    return RuleSet(rules, by_program, anywhere, fact_rules, tables, policies, sources)


# ---------------------------------------------------------------------------- analysis
@dataclass
class View:
    """What rules look at for one simple command."""

    prog: str
    words: list[str]
    flags: frozenset[str]
    positionals: list[str]


def analyse(argv: list[str], prog: str, spec: dict[str, Any] | None) -> View:
    words = argv[1:]
    spec = spec or {}
    value_opts = set(spec.get("value_options", ()))
    leading = spec.get("positionals") == "leading"
    stop_at_positional = bool(spec.get("stop_at_positional"))
    flags: set[str] = set()
    pos: list[str] = []
    i = 0
    after_dd = False
    while i < len(words):
        w = words[i]
        if after_dd or w == "-" or not w.startswith("-") or len(w) == 1:
            if stop_at_positional:
                pos.extend(words[i:])  # the rest is the wrapped command's
                break
            if leading and flags:
                i += 1
                continue
            pos.append(w)
        elif w == "--":
            after_dd = True
        elif w.startswith("--"):
            name = w[2:].split("=", 1)[0]
            flags.add(name)
            if w.split("=", 1)[0] in value_opts and "=" not in w:
                i += 1
        else:
            body = w[1:]
            flags.add(body)
            for j, ch in enumerate(body):
                flags.add(ch)
                if "-" + ch in value_opts:
                    if j == len(body) - 1:
                        i += 1
                    break
            if w in value_opts and len(body) > 1:
                i += 1
        i += 1
    return View(prog, words, frozenset(flags), pos)
