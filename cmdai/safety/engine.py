"""The verdict: parse, match every simple command against the rules, apply sudo, model opinion,
policy, and blast radius.

The rule set is compiled once per process (and again only when the user's rules file changes).
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cmdai.errors import ConfigError
from cmdai.safety import rules as R
from cmdai.safety.parse import Parsed, Simple, parse, program_name

LEVELS = R.LEVELS
RANK = R.RANK
POLICIES = ("strict", "balanced", "permissive")


@dataclass(frozen=True)
class RuleMatch:
    id: str
    category: str
    level: str  # the level this match contributes (after sudo)
    reason: str
    matched: str  # the part of the command it matched, as written
    resolved: str = ""  # the same after quote removal / expansion, when it differs
    via: tuple[str, ...] = ()  # wrappers or sinks it was found inside (sudo, sh -c, ...)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"id": self.id, "category": self.category, "level": self.level,
                             "reason": self.reason, "matched": self.matched}
        if self.resolved:
            d["resolved"] = self.resolved
        if self.via:
            d["via"] = list(self.via)
        return d


@dataclass(frozen=True)
class Verdict:
    command: str
    level: str
    action: str
    policy: str
    rules: tuple[RuleMatch, ...] = ()
    blast: str | None = None
    model_level: str | None = None
    parse_error: bool = False
    subcommands: int = 0

    @property
    def safe(self) -> bool:
        return self.level == "safe"

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"level": self.level,
                             "rules": [m.to_dict() for m in self.rules],
                             "action": self.action, "policy": self.policy}
        if self.blast:
            d["blast"] = self.blast
        if self.model_level:
            d["model_level"] = self.model_level
        if self.parse_error:
            d["parse_error"] = True
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False)


# ---------------------------------------------------------------------------- rule set cache
_CACHE: dict[str, Any] = {}


def _user_rules_path() -> Path | None:
    """The user's rules file: [safety] rules_file, else <config dir>/rules.toml if present."""
    from cmdai import config, paths

    try:
        cfg = config.load()
        explicit = cfg.safety.rules_file
    except ConfigError:
        explicit = ""
    if explicit:
        p = Path(explicit).expanduser()
        if not p.exists():
            raise ConfigError(f"safety rules file {p} does not exist",
                              "fix [safety] rules_file in the config, or create the file")
        return p
    p = paths.config_dir() / "rules.toml"
    return p if p.exists() else None


def ruleset(user_file: Path | None | bool = True) -> R.RuleSet:
    """The compiled rules. ``user_file``: True = the configured file, None/False = built-ins only,
    or an explicit path."""
    if "builtin" not in _CACHE:
        _CACHE["builtin"] = R.builtin_data()
    if user_file is True:
        if "user_path" not in _CACHE:  # resolved once per process (reset_cache() to look again)
            _CACHE["user_path"] = _user_rules_path()
        path = _CACHE["user_path"]
    else:
        path = user_file or None
    key: tuple[Any, ...] = ("none",)
    if path is not None:
        st = path.stat()
        key = (str(path), st.st_mtime_ns, st.st_size)
    cached = _CACHE.get("set")
    if cached is not None and cached[0] == key:
        return cached[1]
    user = None
    if path is not None:
        try:
            user = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}")
    rs = R.build(_CACHE["builtin"], user, str(path) if path else "")
    _CACHE["set"] = (key, rs)
    return rs


def _default_policy() -> str:
    if "policy" not in _CACHE:
        from cmdai import config

        try:
            _CACHE["policy"] = config.load().safety.policy
        except ConfigError:
            _CACHE["policy"] = "balanced"
    return _CACHE["policy"]


def reset_cache() -> None:
    """Forget the compiled rules and the configured policy (tests, config changes)."""
    _CACHE.clear()


# ---------------------------------------------------------------------------- matching
def _raise(level: str) -> str:
    return LEVELS[min(RANK[level] + 1, len(LEVELS) - 1)] if level != "safe" else level


def _matchers_any(ms: list[R.Matcher], words: list[str], tainted: frozenset[str]) -> bool:
    return any(m.match(w, tainted) for w in words for m in ms)


def _rule_matches(r: R.Rule, s: Simple, v: R.View, tainted: frozenset[str],
                  code: str | None) -> bool:
    if r.program_re is not None and not r.program_re.search(v.prog):
        return False
    if r.sudo is not None and r.sudo != s.sudo:
        return False
    if r.input_args is not None and r.input_args != s.input_args:
        return False
    pos = v.positionals
    if r.subcommand:
        for sub in r.subcommand:
            if tuple(pos[:len(sub)]) == sub:
                pos = pos[len(sub):]
                break
        else:
            return False
    if r.flags_all and not all(g & v.flags for g in r.flags_all):
        return False
    if r.flags_any and not (r.flags_any & v.flags):
        return False
    if r.flags_none and (r.flags_none & v.flags):
        return False
    m = r.m
    if m:
        if "args_any" in m and not _matchers_any(m["args_any"], pos, tainted):
            return False
        if "args_all" in m and not all(any(x.match(w, tainted) for w in pos) for x in m["args_all"]):
            return False
        if "args_none" in m and _matchers_any(m["args_none"], pos, tainted):
            return False
        if "sources_any" in m and not _matchers_any(m["sources_any"], pos[:-1], tainted):
            return False
        if "dest_any" in m and not (len(pos) >= 2 and _matchers_any(m["dest_any"], pos[-1:], tainted)):
            return False
        if "words_any" in m and not _matchers_any(m["words_any"], v.words, tainted):
            return False
        if "words_all" in m and not all(any(x.match(w, tainted) for w in v.words)
                                        for x in m["words_all"]):
            return False
        if "words_none" in m and _matchers_any(m["words_none"], v.words, tainted):
            return False
        if "writes_any" in m:
            targets = [t for op, t in s.redirects if ">" in op and not op.startswith("<")]
            if not _matchers_any(m["writes_any"], targets, tainted):
                return False
        if "redirects_any" in m and not _matchers_any(m["redirects_any"],
                                                      [t for _, t in s.redirects], tainted):
            return False
        if "feeds_args_any" in m:
            words = [w for argv in s.feeds for w in argv[1:]]
            if not _matchers_any(m["feeds_args_any"], words, tainted):
                return False
        if "line_any" in m and not _matchers_any(m["line_any"], [" ".join(v.words)], tainted):
            return False
        if "stdin_any" in m and (s.stdin_text is None or not _matchers_any(
                m["stdin_any"], [s.stdin_text], tainted)):
            return False
    if r.feeds_any and not any(argv and program_name(argv[0]) in r.feeds_any for argv in s.feeds):
        return False
    if r.exec_feeds_any and not (r.exec_feeds_any & s.exec_feeds):
        return False
    if r.pipes_to_any and not (r.pipes_to_any & set(s.pipes_to)):
        return False
    if r.code_all:
        if code is None or not all(rx.search(code) for rx in r.code_all):
            return False
    return True


def _interp_code(s: Simple, v: R.View, tables: dict[str, Any]) -> str | None:
    from cmdai.safety.parse import _sink_code

    sinks = tables.get("sinks", {})
    sink = sinks.get(v.prog) or (sinks.get("python") if re.fullmatch(r"python[\d.]*", v.prog) else None)
    if sink is None:
        return None
    code, reads_stdin, _ = _sink_code(s.argv[1:], sink)
    if code is None and reads_stdin and s.stdin_text:
        return s.stdin_text
    return code


def _taint(s: Simple, v: R.View, tainted: set[str], rs: R.RuleSet) -> None:
    """Files produced from secrets (tar czf k.tgz ~/.ssh) are secrets too, later on the line."""
    taint_progs = rs.tables.get("taint", {}).get("programs", [])
    if v.prog not in taint_progs:
        return
    secret = R.Matcher("@secret", {"secret": R._SECRET_SENTINEL.get("secret") or []}, "taint")
    if not any(secret.match(w) for w in v.words):
        return
    for w in v.positionals + [t for op, t in s.redirects if ">" in op]:
        if not secret.match(w):
            tainted.add(R.norm_path(w))
    for i, w in enumerate(v.words[:-1]):
        if re.fullmatch(r"-[a-zA-Z]*f", w) or w in ("--file", "-o", "--output"):
            tainted.add(R.norm_path(v.words[i + 1]))


def _display(s: Simple) -> tuple[str, str]:
    text = s.text.strip()
    resolved = " ".join(a if a and not re.search(r"\s", a) else repr(a) for a in s.argv)
    if s.redirects:
        resolved += " " + " ".join(f"{op} {t}" for op, t in s.redirects)
    norm_text = re.sub(r"\s+", " ", text)
    return text, ("" if resolved == norm_text else resolved)


def match_parsed(parsed: Parsed, rs: R.RuleSet) -> list[RuleMatch]:
    out: list[RuleMatch] = []
    seen: set[tuple[str, str]] = set()
    tainted: set[str] = set()
    programs = rs.tables.get("programs", {})
    wrappers = rs.tables.get("wrappers", {})
    for s in parsed.commands:
        if not s.argv:
            continue
        prog = s.program
        spec = programs.get(prog)
        if spec is None and prog in wrappers:
            # a wrapper's own flags end where the wrapped command starts (sudo ln -s ...)
            spec = {**wrappers[prog], "stop_at_positional": True}
        v = R.analyse(s.argv, prog, spec)
        code = _interp_code(s, v, rs.tables) if not s.synthetic else None
        frozen_taint = frozenset(tainted)
        for r in rs.by_program.get(prog, []) + rs.anywhere:
            if r.program is None and r.program_re is None and s.synthetic and not (
                    "writes_any" in r.m or "redirects_any" in r.m):
                # assignments and bare redirections only meet rules about their words/targets
                if "words_any" not in r.m:
                    continue
            if not _rule_matches(r, s, v, frozen_taint, code):
                continue
            level = r.level
            if s.sudo and r.sudo_raises:
                level = _raise(level)
            text, resolved = _display(s)
            key = (r.id, text)
            if key in seen:
                continue
            seen.add(key)
            out.append(RuleMatch(r.id, r.category, level, r.reason, text, resolved, s.via))
        _taint(s, v, tainted, rs)
    for r in rs.fact_rules:
        if r.fact in parsed.facts:
            out.append(RuleMatch(r.id, r.category, r.level, r.reason, parsed.facts[r.fact]))
    out.sort(key=lambda m: -RANK[m.level])
    return out


# ---------------------------------------------------------------------------- public API
def check(command: str, *, cwd: str | None = None, policy: str | None = None,
          model_level: str | None = None, blast_radius: bool = True,
          rules: R.RuleSet | None = None) -> Verdict:
    """Judge a command line without running it.

    ``policy`` defaults to ``[safety] policy`` from the config; ``model_level`` is the generating
    model's own opinion (it may raise the level, never lower it); ``blast_radius`` resolves what a
    destructive command would touch under ``cwd`` (default: the current directory).
    """
    rs = rules or ruleset()
    policy = policy or _default_policy()
    if policy not in rs.policies:
        raise ConfigError(f"unknown safety policy {policy!r}",
                          f"use one of {', '.join(sorted(rs.policies))}")
    if model_level is not None and model_level not in RANK:
        raise ConfigError(f"unknown model level {model_level!r}",
                          f"use one of {', '.join(LEVELS)}")
    parsed = parse(command, rs.tables)
    matches = match_parsed(parsed, rs)
    level = max((m.level for m in matches), key=RANK.__getitem__, default="safe")
    if model_level is not None and RANK[model_level] > RANK[level]:
        level = model_level
        matches.append(RuleMatch("model-opinion", "model", model_level,
                                 f"the generating model rated this command {model_level}",
                                 command.strip()))
    blast = None
    if blast_radius and command.strip():
        from cmdai.safety.blast import estimate

        blast = estimate(parsed, cwd or os.getcwd())
    return Verdict(command=command, level=level, action=rs.policies[policy][level],
                   policy=policy, rules=tuple(matches), blast=blast, model_level=model_level,
                   parse_error=parsed.error, subcommands=len(parsed.commands))

