"""What `cmdai doctor` reports: what is installed, where state lives, whether hooks are active."""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
import time
from dataclasses import dataclass
from typing import Any

from cmdai import __version__, paths

OPTIONAL = {
    "tree_sitter": "safety parser",
    "llama_cpp": "llama.cpp backend",
    "mlx_lm": "mlx backend (Apple Silicon)",
    "onnxruntime": "semantic search",
    "numpy": "semantic search",
}


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def run() -> dict[str, Any]:
    checks: list[Check] = []
    checks.append(Check("cmdai", True, f"{__version__} on Python {sys.version.split()[0]} "
                                      f"({sys.executable})"))
    for module, what in OPTIONAL.items():
        checks.append(Check(module, _installed(module), what))
    for shell in ("zsh", "bash", "fish"):
        where = shutil.which(shell)
        checks.append(Check(shell, where is not None, where or "not found"))

    session = os.environ.get("CMDAI_SESSION")
    checks.append(Check(
        "hooks", bool(session),
        f"active in this shell (session {session})" if session
        else "not active in this shell: add the `cmdai init` line to your shell's rc file",
    ))
    if session:
        from cmdai import privacy

        try:
            paused = privacy.is_paused(session)
        except Exception:  # noqa: BLE001 - doctor reports, never fails
            paused = False
        checks.append(Check("recording", True, "paused in this shell (`cmdai resume` restarts it)"
                            if paused else "on in this shell (`cmdai pause` stops it)"))
    spool = paths.spool_dir()
    newest = max((p.stat().st_mtime for p in spool.glob("*.tsv")), default=None) if spool.is_dir() else None
    checks.append(Check(
        "spool", spool.is_dir(),
        f"{spool} (last write {int(time.time() - newest)}s ago)" if newest
        else f"{spool} (nothing waiting)",
    ))
    db = paths.db_file()
    if db.exists():
        from cmdai.history.store import Store

        try:
            store = Store.open(db)
            detail = f"{db} ({store.count()} entries, schema {store.version})"
            ok = True
            store.close()
        except Exception as exc:  # noqa: BLE001 - doctor reports, never fails
            ok, detail = False, f"{db}: {exc}"
    else:
        ok, detail = True, f"{db} (not created yet)"
    checks.append(Check("database", ok, detail))
    q = paths.quarantine_file()
    bad = sum(1 for _ in open(q, "rb")) if q.exists() else 0
    checks.append(Check("quarantine", bad == 0, f"{bad} unreadable line(s) kept in {q}" if bad else "empty"))
    cfg = paths.config_file()
    backends: list[dict[str, Any]] = []
    try:
        from cmdai import config

        loaded = config.load()
        checks.append(Check("config", True, f"{cfg}" + ("" if cfg.exists() else " (defaults)")))
        from cmdai.backends import status_table

        backends = status_table(loaded.generate)
    except Exception as exc:  # noqa: BLE001
        checks.append(Check("config", False, str(exc)))
    from cmdai.daemon.lifecycle import status as daemon_status

    st = daemon_status()
    checks.append(Check(
        "daemon", st is not None,
        f"running (pid {st['pid']}, {st['rss_kb'] // 1024} MB, model "
        f"{'loaded' if st['model_loaded'] else 'not loaded'})" if st
        else "not running (Ctrl-G starts it; `cmdai daemon start`)",
    ))
    state = {
        "config": str(paths.config_dir()), "data": str(paths.data_dir()),
        "cache": str(paths.cache_dir()), "runtime": str(paths.runtime_dir()),
        "log": str(paths.log_file()),
    }
    return {"checks": [c.__dict__ for c in checks], "backends": backends, "paths": state}
