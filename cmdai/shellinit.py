"""`cmdai init SHELL`: the real shell scripts in shell/, with absolute paths filled in.

The scripts live in the repository's ``shell/`` folder; a wheel carries them as
``cmdai/shell/`` (see pyproject.toml), an editable install reads them from the checkout.
"""

from __future__ import annotations

import re
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


def key_sequences(key: str) -> dict[str, str]:
    """A key like ``ctrl-g`` or ``alt-g`` in each shell's notation ("" for none)."""
    key = key.strip().lower()
    if key in ("", "none"):
        return {"zsh": "", "bash": "", "fish3": "", "fish4": ""}
    m = re.fullmatch(r"(ctrl|alt)-([a-z])", key)
    if not m:
        raise UsageError(f"cannot bind the key {key!r}",
                         "use ctrl-<letter> or alt-<letter>, e.g. ctrl-g, or none")
    mod, letter = m.groups()
    if mod == "ctrl":
        return {"zsh": f"^{letter.upper()}", "bash": f"\\C-{letter}", "fish3": f"\\c{letter}",
                "fish4": f"ctrl-{letter}"}
    return {"zsh": f"^[{letter}", "bash": f"\\e{letter}", "fish3": f"\\e{letter}",
            "fish4": f"alt-{letter}"}


def render(shell: str, *, up_arrow: bool = True, ctrl_r: bool = True,
           key: str | None = None) -> str:
    """The script for ``shell``. ``key`` is the Ctrl-G key (default: keys.generate)."""
    from cmdai import config

    keys_cfg = config.load().keys
    if key is None:
        key = keys_cfg.generate
    # the picker's keys: off when the flag or the config (keys.up_arrow, keys.ctrl_r) says so
    up_arrow = up_arrow and keys_cfg.up_arrow
    ctrl_r = ctrl_r and keys_cfg.ctrl_r
    keys = key_sequences(key)
    text = script_path(shell).read_text(encoding="utf-8")
    spool = paths.ensure_dir(paths.spool_dir())
    values = {
        "@CMDAI_PYTHON@": shlex.quote(sys.executable),
        "@CMDAI_SPOOL@": shlex.quote(str(spool)),
        "@CMDAI_CLIENT@": shlex.quote(str(Path(__file__).resolve().parent / "client.py")),
        "@CMDAI_UP_ARROW@": "1" if up_arrow else "0",
        "@CMDAI_CTRL_R@": "1" if ctrl_r else "0",
        "@CMDAI_KEY@": shlex.quote(keys["bash" if shell == "bash" else "zsh"]),
        # unquoted: fish turns \cg into the control character only outside quotes (the
        # sequences come from key_sequences(), letters only)
        "@CMDAI_KEY_FISH3@": keys["fish3"] or "''",
        "@CMDAI_KEY_FISH4@": keys["fish4"] or "''",
    }
    for placeholder, value in values.items():
        text = text.replace(placeholder, value)
    return text
