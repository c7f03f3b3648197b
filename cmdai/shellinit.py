"""`cmdai init SHELL`: the real shell scripts in shell/, with absolute paths filled in.

The scripts live in the repository's ``shell/`` folder; a wheel carries them as
``cmdai/shell/`` (see pyproject.toml), an editable install reads them from the checkout.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from cmdai import paths
from cmdai.errors import UsageError

SHELLS = ("zsh", "bash", "fish")


def script_path(shell: str) -> Path:
    if shell not in SHELLS:
        raise UsageError(f"unsupported shell {shell!r}", f"choose one of {', '.join(SHELLS)}")
    here = Path(__file__).resolve().parent
    for folder in (here / "shell", here.parent / "shell"):  # wheel, then checkout
        candidate = folder / f"cmdai.{shell}"
        if candidate.is_file():
            return candidate
    raise UsageError(
        f"the {shell} integration script is missing from this installation ({here})",
        "reinstall cmdai with ./install.sh",
    )


def render(shell: str, *, up_arrow: bool = True, ctrl_r: bool = True) -> str:
    text = script_path(shell).read_text(encoding="utf-8")
    spool = paths.ensure_dir(paths.spool_dir())
    values = {
        "@CMDAI_PYTHON@": shlex.quote(sys.executable),
        "@CMDAI_SPOOL@": shlex.quote(str(spool)),
        "@CMDAI_UP_ARROW@": "1" if up_arrow else "0",
        "@CMDAI_CTRL_R@": "1" if ctrl_r else "0",
    }
    for placeholder, value in values.items():
        text = text.replace(placeholder, value)
    return text
