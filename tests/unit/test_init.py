"""`cmdai init` finds the real shell scripts from a checkout (editable) and from a wheel."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("shell", ["zsh", "bash", "fish"])
def test_init_fills_in_absolute_paths(cmdai_home, shell):
    out = subprocess.run([sys.executable, "-m", "cmdai", "init", shell], capture_output=True,
                         text=True, check=True).stdout
    assert "@CMDAI_" not in out
    assert sys.executable in out
    assert str(cmdai_home / "data" / "spool") in out
    assert (cmdai_home / "data" / "spool").is_dir()
    client = str(ROOT / "cmdai" / "client.py")
    assert client in out
    assert out == (ROOT / "shell" / f"cmdai.{shell}").read_text().replace(
        "@CMDAI_PYTHON@", sys.executable).replace(
        "@CMDAI_SPOOL@", str(cmdai_home / "data" / "spool")).replace(
        "@CMDAI_CLIENT@", client).replace(
        "@CMDAI_UP_ARROW@", "1").replace("@CMDAI_CTRL_R@", "1").replace(
        "@CMDAI_KEY@", "'\\C-g'" if shell == "bash" else "'^G'").replace(
        "@CMDAI_KEY_FISH3@", "\\cg").replace("@CMDAI_KEY_FISH4@", "ctrl-g")


def test_init_flags(cmdai_home):
    out = subprocess.run(
        [sys.executable, "-m", "cmdai", "init", "zsh", "--disable-up-arrow", "--disable-ctrl-r",
         "--key", "alt-k"], capture_output=True, text=True, check=True).stdout
    assert "__cmdai_up_arrow=0" in out and "__cmdai_ctrl_r=0" in out
    assert "__cmdai_key='^[k'" in out


@pytest.mark.parametrize("key, expected", [
    ("ctrl-g", {"zsh": "^G", "bash": "\\C-g", "fish3": "\\cg", "fish4": "ctrl-g"}),
    ("Alt-E", {"zsh": "^[e", "bash": "\\ee", "fish3": "\\ee", "fish4": "alt-e"}),
    ("none", {"zsh": "", "bash": "", "fish3": "", "fish4": ""}),
])
def test_key_sequences(key, expected):
    from cmdai.shellinit import key_sequences

    assert key_sequences(key) == expected


@pytest.mark.parametrize("key", ["f5", "ctrl-", "ctrl-gg", "super-g"])
def test_bad_keys_are_usage_errors(key):
    from cmdai.errors import UsageError
    from cmdai.shellinit import key_sequences

    with pytest.raises(UsageError, match="ctrl-<letter> or alt-<letter>"):
        key_sequences(key)


def test_key_from_config_and_none(cmdai_home):
    cfg = cmdai_home / "config" / "config.toml"
    cfg.parent.mkdir(parents=True)
    cfg.write_text('[keys]\ngenerate = "none"\n')
    out = subprocess.run([sys.executable, "-m", "cmdai", "init", "fish"], capture_output=True,
                         text=True, check=True).stdout
    assert "set -g __cmdai_key ''" in out


@pytest.mark.parametrize("shell,check", [
    ("zsh", ["zsh", "-n"]), ("bash", ["bash", "-n"]), ("fish", ["fish", "--no-execute"]),
])
def test_printed_scripts_parse(cmdai_home, tmp_path, shell, check):
    out = subprocess.run([sys.executable, "-m", "cmdai", "init", shell], capture_output=True,
                         text=True, check=True).stdout
    f = tmp_path / f"s.{shell}"
    f.write_text(out)
    subprocess.run([*check, str(f)], check=True)


def test_editable_install_reads_the_checkout():
    from cmdai.shellinit import script_path

    assert script_path("zsh") == ROOT / "shell" / "cmdai.zsh"


@pytest.mark.slow
def test_wheel_carries_the_scripts(tmp_path, cmdai_home):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tmp_path / "dist"), str(ROOT)],
        check=True, capture_output=True,
    )
    (wheel,) = (tmp_path / "dist").glob("cmdai-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert {"cmdai/shell/cmdai.zsh", "cmdai/shell/cmdai.bash", "cmdai/shell/cmdai.fish"} <= set(names)
    unpacked = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(unpacked)
    # the unpacked wheel comes first on sys.path, ahead of the editable checkout
    env = dict(os.environ, PYTHONPATH=str(unpacked))
    code = ("import cmdai.shellinit as s, sys; p = s.script_path('fish'); "
            "print(p); print(s.render('fish')[:40])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         cwd=tmp_path,
                         check=True).stdout.splitlines()
    assert out[0] == str(unpacked / "cmdai" / "shell" / "cmdai.fish")
    assert out[1].startswith("# cmdai shell integration for fish")
