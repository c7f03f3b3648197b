"""Where cmdai keeps its state.

Plain XDG base directories; ``CMDAI_HOME`` overrides all of them at once (tests and side-by-side
installs set it). Nothing here creates directories except the ``ensure_*`` helpers.
"""

from __future__ import annotations

import os
from pathlib import Path


def _home_override() -> Path | None:
    value = os.environ.get("CMDAI_HOME")
    return Path(value).expanduser().absolute() if value else None


def _xdg(var: str, fallback: str) -> Path:
    value = os.environ.get(var)
    if value and os.path.isabs(value):
        return Path(value)
    return Path.home() / fallback


def config_dir() -> Path:
    home = _home_override()
    return home / "config" if home else _xdg("XDG_CONFIG_HOME", ".config") / "cmdai"


def config_file() -> Path:
    return config_dir() / "config.toml"


def data_dir() -> Path:
    home = _home_override()
    return home / "data" if home else _xdg("XDG_DATA_HOME", ".local/share") / "cmdai"


def cache_dir() -> Path:
    home = _home_override()
    return home / "cache" if home else _xdg("XDG_CACHE_HOME", ".cache") / "cmdai"


def runtime_dir() -> Path:
    home = _home_override()
    if home:
        return home / "run"
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg and os.path.isabs(xdg):
        return Path(xdg) / "cmdai"
    return Path(os.environ.get("TMPDIR", "/tmp")) / f"cmdai-{os.getuid()}"


def db_file() -> Path:
    return data_dir() / "history.db"


def spool_dir() -> Path:
    return data_dir() / "spool"


def quarantine_file() -> Path:
    return data_dir() / "quarantine.tsv"


def log_file() -> Path:
    return data_dir() / "cmdai.log"


def ensure_dir(path: Path, mode: int = 0o700) -> Path:
    path.mkdir(parents=True, exist_ok=True, mode=mode)
    return path
