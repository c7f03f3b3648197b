"""The real llama.cpp backend on real catalog models (0.5B for speed; the default one too)."""

from __future__ import annotations


import pytest

from cmdai import backends
from cmdai import generate as g
from cmdai.backends import Request
from cmdai.backends import llama_cpp as lc
from cmdai.config import GenerateConfig

from .conftest import SMALL, cancel_after_first_token

pytestmark = pytest.mark.slow


@pytest.fixture
def small(link_model):
    link_model(SMALL)
    return GenerateConfig(model=SMALL, backends=["llama_cpp"])


def test_generates_a_parsable_command_in_context(small, project):
    answer = g.generate("list the python files in src", cfg=small, cwd=str(project))
    assert answer.backend == "llama_cpp" and answer.model == SMALL
    assert g.parse_error(answer.command) is None
    assert answer.command.split()[0] in {"find", "ls"}
    assert "*.py" in answer.command or ".py" in answer.command
    assert answer.to_json()["safety"]["level"] in {"safe", "moderate", "high", "critical",
                                                   "unknown"}


def test_streams_tokens_and_persists_the_prompt_state(small, project):
    be = backends.create("llama_cpp", small)
    pieces = []
    req = Request(system="Answer with one shell command.", user="print the date",
                  max_tokens=16, on_token=pieces.append, stop=g.STOP)
    first = be.complete(req)
    assert pieces and "".join(pieces) == first.text
    assert first.extra["kv"] in {"evaluated", "warm"}
    from cmdai import paths

    state_files = list((paths.cache_dir() / "kv").glob("*.bin"))
    assert len(state_files) == 1
    # a new process is simulated by dropping the warm model: the state comes from disk
    lc.close_all()
    again = backends.create("llama_cpp", small).complete(
        Request(system="Answer with one shell command.", user="print the date", max_tokens=16,
                stop=g.STOP))
    assert again.extra["kv"] == "restored"
    assert again.text == first.text  # greedy: the restored state changes nothing
    warm = be.complete(Request(system="Answer with one shell command.", user="show uptime",
                               max_tokens=8))
    assert warm.extra["kv"] == "warm"


def test_a_corrupt_state_file_is_ignored(small):
    be = backends.create("llama_cpp", small)
    req = Request(system="Reply with a command.", user="list files", max_tokens=8)
    be.complete(req)
    from cmdai import paths

    for f in (paths.cache_dir() / "kv").glob("*.bin"):
        f.write_bytes(b"CMDAIKV1garbage")
    lc.close_all()
    out = backends.create("llama_cpp", small).complete(req)
    assert out.extra["kv"] == "evaluated" and out.text


def test_cancel_stops_generation(small):
    be = backends.create("llama_cpp", small)
    assert len(cancel_after_first_token(be)) == 1


def test_grammar_keeps_the_plain_shape(small, project):
    cfg = GenerateConfig(model=SMALL, backends=["llama_cpp"], grammar=True)
    answer = g.generate("count the lines of notes.txt", cfg=cfg, cwd=str(project))
    assert "\n" not in answer.command and answer.command
    assert g.parse_error(answer.command) is None


def test_the_grammar_forces_the_shape_a_prompt_asks_against(small):
    """Asked for a fenced block and prose, the model writes them; the grammar overrules that."""
    import re

    be = backends.create("llama_cpp", small)
    req = {"system": "Answer in markdown: a ```bash code block, then a paragraph of prose.",
               "user": "print the date", "max_tokens": 40}
    free = be.complete(Request(**req))
    assert free.text.lstrip().startswith("```")
    shaped = be.complete(Request(**req, grammar=g.GRAMMAR))
    assert re.fullmatch(r"[^\n#][^\n]*\n# [^\n]+", shaped.text), shaped.text
    command, explanation = g.parse_answer(shaped.text)
    assert command and explanation


def test_the_small_model_gets_its_own_prompt_shape(small, project):
    from cmdai import models

    shape = g.SHAPES[models.get(SMALL).prompt]
    answer = g.generate("count the lines of notes.txt", cfg=small, cwd=str(project))
    assert answer.prompt["system"] == g.system_prompt(g.gather_context(project), shape)
    assert ("Request:" in answer.prompt["system"]) == bool(shape.shots)
    assert g.parse_error(answer.command) is None


def test_default_model_is_verified_and_answers(link_model, project):
    from cmdai import models

    link_model(models.DEFAULT)
    models.verify(models.get(models.DEFAULT))
    cfg = GenerateConfig(backends=["llama_cpp"])
    assert cfg.model == models.DEFAULT
    answer = g.generate("find files bigger than 1 MB", cfg=cfg, cwd=str(project))
    assert answer.command.startswith("find") and "-size" in answer.command
