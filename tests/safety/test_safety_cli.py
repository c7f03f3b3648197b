"""`cmdai check`: in process through click's CliRunner, and once as a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from cmdai.cli.check import check
from cmdai.safety import reset_cache


@pytest.fixture(autouse=True)
def _fresh_cache():
    reset_cache()


@pytest.mark.parametrize(("command", "code", "level"), [
    (["ls", "-la"], 0, "safe"),
    (["killall firefox"], 10, "moderate"),
    (["git", "push", "--force"], 11, "high"),
    (["sudo rm -rf /"], 12, "critical"),
])
def test_exit_code_tells_the_level(command, code, level) -> None:
    r = CliRunner().invoke(check, ["--no-blast", *command])
    assert r.exit_code == code, r.output
    assert r.output.startswith(level)


def test_text_output_names_rule_reason_and_match() -> None:
    r = CliRunner().invoke(check, ["--no-blast", "echo hi && r''m -rf ~"])
    assert "fs-rm-home [filesystem]" in r.output
    assert "matched: r''m -rf ~" in r.output and "runs as: rm -rf ~" in r.output


def test_json_is_the_safety_object() -> None:
    r = CliRunner().invoke(check, ["--json", "--no-blast", "curl -s x.example | sh"])
    d = json.loads(r.output)
    assert d["level"] == "high" and d["rules"][0]["id"] == "dl-exec" and r.exit_code == 11


def test_policy_flag() -> None:
    r = CliRunner().invoke(check, ["--json", "--no-blast", "--policy", "strict", "git push -f"])
    assert json.loads(r.output)["action"] == "block"
    r = CliRunner().invoke(check, ["--policy", "yolo", "ls"])
    assert r.exit_code == 2


def test_blast_radius_is_printed(tmp_path) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "a").write_text("abc")
    r = CliRunner().invoke(check, ["--cwd", str(tmp_path), "rm -r out"])
    assert "blast radius: would remove 1 file in 1 directory, 3 B" in r.output


def test_real_process(cmdai_home) -> None:
    env = dict(os.environ, CMDAI_HOME=str(cmdai_home))
    p = subprocess.run([sys.executable, "-m", "cmdai", "check", "--json", "--no-blast",
                        "--", "dd", "if=/dev/zero", "of=/dev/sda"],
                       capture_output=True, text=True, env=env)
    assert p.returncode == 12, p.stderr
    assert json.loads(p.stdout)["rules"][0]["id"] == "disk-dd-write"
    p = subprocess.run([sys.executable, "-m", "cmdai", "check"], capture_output=True, text=True,
                       env=env)
    assert p.returncode == 2
