"""`cmdai generate` and `cmdai model`: stdout holds only the answer; errors are one line + fix."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from .conftest import SMALL

ONLY_LLAMA = {"CMDAI_GENERATE__BACKENDS": '["llama_cpp"]'}


def cmdai(*args, env=None, **kw):
    return subprocess.run([sys.executable, "-m", "cmdai", *args], capture_output=True,
                          text=True, env={**os.environ, **(env or {})}, timeout=600, **kw)


def test_generate_modules_do_not_import_heavy_libraries():
    code = ("import sys, cmdai.cli.generate, cmdai.cli.model, cmdai.generate, cmdai.backends, "
            "cmdai.backends.llama_cpp, cmdai.backends.openai_http, cmdai.backends.mlx, "
            "cmdai.models\n"
            "heavy = [m for m in ('llama_cpp', 'numpy', 'mlx', 'mlx_lm', 'tree_sitter') "
            "if m in sys.modules]\n"
            "assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_model_list_json_shows_every_catalog_model():
    from cmdai import models

    out = cmdai("model", "list", "--json")
    assert out.returncode == 0, out.stderr
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert [r["name"] for r in rows] == list(models.CATALOG)
    assert all(r["status"] == "missing" for r in rows)  # a fresh CMDAI_HOME
    assert [r["name"] for r in rows if r["selected"]] == [models.DEFAULT]


def test_model_use_writes_the_config_and_rejects_unknown_names(cmdai_home):
    out = cmdai("model", "use", SMALL)
    assert out.returncode == 0 and out.stdout == ""
    assert "not installed yet" in out.stderr
    assert f'model = "{SMALL}"' in (cmdai_home / "config" / "config.toml").read_text()
    bad = cmdai("model", "use", "gpt-17")
    assert bad.returncode == 2 and "unknown model" in bad.stderr


def test_generate_without_a_model_says_how_to_fix_it():
    out = cmdai("generate", "list", "files", env=ONLY_LLAMA)
    assert out.returncode == 4  # ExitCode.NO_BACKEND
    assert out.stdout == ""
    assert "cmdai model install" in out.stderr
    assert "Traceback" not in out.stderr


def test_a_blocked_answer_never_reaches_stdout(monkeypatch):
    from click.testing import CliRunner

    from cmdai import generate as g
    from cmdai.cli.generate import generate
    from cmdai.errors import BlockedError
    from cmdai.safety import check

    def fake(text, **kw):  # a test double for the model: the answer is fixed
        cmd = "rm -rf /"
        return g.Answer(command=cmd, explanation="wipe", safety=check(cmd, cwd="/tmp"),
                        backend="double", model="double", latency_ms=1.0)

    monkeypatch.setattr(g, "generate", fake)
    result = CliRunner().invoke(generate, ["delete", "everything"])
    assert isinstance(result.exception, BlockedError)
    assert result.stdout == ""
    assert "rm -rf /" in result.stderr


@pytest.mark.slow
def test_generate_prints_the_command_alone_and_json_on_request(link_model, project):
    link_model(SMALL)
    env = {**ONLY_LLAMA, "CMDAI_GENERATE__MODEL": f'"{SMALL}"'}
    out = cmdai("generate", "list", "the", "python", "files", env=env, cwd=project)
    assert out.returncode in (0, 3), out.stderr
    if out.returncode == 0:
        assert len(out.stdout.splitlines()) == 1 and out.stdout.strip()
    assert f"{SMALL} (llama_cpp)" in out.stderr
    js = cmdai("generate", "--json", "count", "lines", "in", "notes.txt", env=env, cwd=project)
    data = json.loads(js.stdout)
    assert set(data) == {"command", "explanation", "safety", "backend", "model", "latency_ms"}
    assert data["backend"] == "llama_cpp" and data["model"] == SMALL
    assert data["safety"]["level"] in {"safe", "moderate", "high", "critical"}


@pytest.mark.slow
def test_ctrl_c_cancels_cleanly(link_model, project):
    pexpect = pytest.importorskip("pexpect")
    link_model(SMALL)
    env = {**os.environ, **ONLY_LLAMA, "CMDAI_GENERATE__MODEL": f'"{SMALL}"',
           "CMDAI_GENERATE__MAX_TOKENS": "2000", "CMDAI_GENERATE__CONTEXT_SIZE": "4096"}
    child = pexpect.spawn(sys.executable, ["-m", "cmdai", "generate", "write", "a", "very",
                                           "long", "shell", "script"],
                          env=env, cwd=str(project), encoding="utf-8", timeout=120)
    child.expect("thinking")  # progress shows before any model work
    child.sendintr()
    child.expect(pexpect.EOF)
    child.wait()  # close() would kill a child still exiting (slow under load): no status then
    child.close()
    assert child.exitstatus == 130
    assert "cancelled" in child.before
    assert "Traceback" not in child.before
