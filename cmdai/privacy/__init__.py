"""Privacy: what is kept out of the history, and what is redacted in what is kept.

One ``Policy`` is built from the config (``[privacy]`` and the filters of ``[history]``) and
applied wherever text enters cmdai: spool ingest (live capture), imports, prompts for the model,
and ``cmdai history prune`` for what is already stored.

- Filters drop a whole entry: ``history.ignore_commands`` (regexes searched in the command),
  ``history.ignore_dirs`` (a directory and everything below it; ``~`` and ``*`` allowed),
  ``history.store_failed = false`` (drop commands that exited non-zero).
- Redaction keeps the entry and replaces each secret with ``<redacted:KIND>``
  (rules in ``rules.toml``; ``privacy.disabled_rules``, ``privacy.extra_patterns``).
- Pause: ``cmdai pause`` creates ``<spool>/.paused-<session>``; the shell hooks test for it with
  a builtin and write nothing while it exists.
"""

from __future__ import annotations

import fnmatch
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from cmdai.errors import ConfigError
from cmdai.history.entry import COMMAND, CWD, EXIT
from cmdai.privacy.redact import Redactor, Rule, builtin_rules, custom_rules

if TYPE_CHECKING:
    from cmdai.config import Config
    from cmdai.history.entry import Row

PAUSE_PREFIX = ".paused-"
_SESSION_RE = re.compile(r"[A-Za-z0-9_.:]{1,64}")


# -- filters ------------------------------------------------------------------------------
def _dir_matcher(patterns: list[str]):
    """cwd -> bool: the cwd is one of ``patterns`` or below one. ``~`` expands; a pattern with
    ``*``/``?``/``[`` is matched (fnmatch) against the cwd and each of its parents."""
    plain: list[str] = []
    globs: list[str] = []
    for p in patterns:
        p = os.path.expanduser(p.strip())
        if not p:
            continue
        p = p.rstrip("/") or "/"
        (globs if any(c in p for c in "*?[") else plain).append(p)

    def match(cwd: str) -> bool:
        cwd = cwd.rstrip("/") or "/"
        for p in plain:
            if cwd == p or cwd.startswith(p + "/") or p == "/":
                return True
        if globs:
            d = cwd
            while True:
                if any(fnmatch.fnmatchcase(d, g) for g in globs):
                    return True
                parent = os.path.dirname(d)
                if parent == d:
                    break
                d = parent
        return False

    return match


@dataclass
class Policy:
    redactor: Redactor | None
    ignore_commands: list[re.Pattern[str]] = field(default_factory=list)
    ignore_dirs: list[str] = field(default_factory=list)
    store_failed: bool = True

    def __post_init__(self) -> None:
        self._in_ignored_dir = _dir_matcher(self.ignore_dirs) if self.ignore_dirs else None

    @property
    def filters(self) -> bool:
        return bool(self.ignore_commands or self.ignore_dirs or not self.store_failed)

    def filtered(self, command: str, cwd: str | None, exit_: int | None) -> str | None:
        """Why an entry is not to be kept (the config key), or None to keep it."""
        if not self.store_failed and exit_ is not None and exit_ != 0:
            return "history.store_failed"
        for rx in self.ignore_commands:
            if rx.search(command):
                return "history.ignore_commands"
        if self._in_ignored_dir is not None and cwd and self._in_ignored_dir(cwd):
            return "history.ignore_dirs"
        return None

    def redact(self, text: str) -> str:
        return self.redactor.redact(text) if self.redactor is not None else text

    def redact_kinds(self, text: str) -> tuple[str, list[str]]:
        return self.redactor.redact_kinds(text) if self.redactor is not None else (text, [])

    def apply_rows(self, rows: list[Row]) -> tuple[list[Row], int, int]:
        """The policy over a batch of ``Row`` tuples: (rows to store, how many were filtered,
        how many had a secret redacted). Filters see the command as typed (the user's patterns
        are written against it); the stored text is redacted."""
        kept = rows
        if self.filters:
            kept = [r for r in rows if self.filtered(r[COMMAND], r[CWD], r[EXIT]) is None]
        redacted = 0
        if self.redactor is not None:
            changed = self.redactor.redact_many([r[COMMAND] for r in kept])
            if changed:
                kept = list(kept)
                for i, (text, _kinds) in changed.items():
                    r = kept[i]
                    kept[i] = (*r[:COMMAND], text, *r[COMMAND + 1:])
            redacted = len(changed)
        return kept, len(rows) - len(kept), redacted


def rules_for(cfg: Config) -> list[Rule]:
    rules = builtin_rules()
    disabled = set(cfg.privacy.disabled_rules)
    unknown = disabled - {r.id for r in rules}
    if unknown:
        raise ConfigError(
            f"{cfg.source}: 'privacy.disabled_rules' names unknown rule(s): {', '.join(sorted(unknown))}",
            f"known rules: {', '.join(r.id for r in rules)}",
        )
    return [r for r in rules if r.id not in disabled] + custom_rules(cfg.privacy.extra_patterns)


def policy_from(cfg: Config) -> Policy:
    redactor = Redactor(rules_for(cfg)) if cfg.privacy.redact else None
    return Policy(
        redactor=redactor,
        ignore_commands=[re.compile(p) for p in cfg.history.ignore_commands],
        ignore_dirs=list(cfg.history.ignore_dirs),
        store_failed=cfg.history.store_failed,
    )


def load_policy(path: Path | None = None) -> Policy:
    """The policy of the current config (read now). A broken config raises ConfigError: the
    caller then stores nothing, rather than storing what the user meant to keep out."""
    from cmdai import config

    return policy_from(config.load(path))


_CACHE: tuple[float, tuple, Policy] | None = None
_RECHECK_S = 2.0


def current_policy() -> Policy:
    """``load_policy()`` cached for callers that redact one string at a time (imports, prompts);
    the config file is checked for changes at most every two seconds."""
    global _CACHE
    now = time.monotonic()
    if _CACHE is not None and now - _CACHE[0] < _RECHECK_S:
        return _CACHE[2]
    from cmdai import paths

    path = paths.config_file()
    try:
        st = path.stat()
        stamp: tuple = (str(path), st.st_mtime_ns, st.st_size)
    except OSError:
        stamp = (str(path), None, None)
    stamp += tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("CMDAI_") and "__" in k))
    if _CACHE is not None and _CACHE[1] == stamp:
        _CACHE = (now, stamp, _CACHE[2])
        return _CACHE[2]
    policy = load_policy(path)
    _CACHE = (now, stamp, policy)
    return policy


def redact(text: str) -> str:
    """Redact ``text`` with the current config's rules (``privacy.redact = false``: unchanged)."""
    return current_policy().redact(text)


# -- pause --------------------------------------------------------------------------------
def pause_flag(session: str, spool: Path | None = None) -> Path:
    from cmdai import paths

    if not _SESSION_RE.fullmatch(session):
        raise ConfigError(f"bad session id {session!r} in CMDAI_SESSION")
    return (spool or paths.spool_dir()) / f"{PAUSE_PREFIX}{session}"


def is_paused(session: str, spool: Path | None = None) -> bool:
    return pause_flag(session, spool).exists()


def set_paused(session: str, paused: bool, spool: Path | None = None) -> bool:
    """Pause or resume recording for one shell session. Returns whether it changed."""
    from cmdai import paths

    flag = pause_flag(session, spool)
    if paused:
        if flag.exists():
            return False
        paths.ensure_dir(flag.parent)
        flag.touch(mode=0o600)
        return True
    try:
        flag.unlink()
        return True
    except FileNotFoundError:
        return False
