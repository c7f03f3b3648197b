"""The `cmdai config` form, driven in-process with prompt-toolkit's pipe input, and once on a
real pseudo-terminal."""

from __future__ import annotations

import sys
import tomllib

import pexpect
import pytest
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from cmdai import config
from cmdai.config_form import ConfigForm, build_fields, field_comments

HOME, END, KILL, SAVE, QUIT = "\x01", "\x05", "\x0b", "\x13", "\x11"
ORIGINAL = """\
# my cmdai settings: keep this comment
[search]
# how I like to search
mode = "fulltext"  # trailing comment stays
limit = 20
"""


@pytest.fixture
def cfg_file(cmdai_home):
    path = cmdai_home / "config" / "config.toml"
    path.parent.mkdir(parents=True)
    path.write_text(ORIGINAL)
    return path


def drive(path, *keys: str) -> ConfigForm:
    """Run the form on ``keys`` (each a field's dotted name to go to, or raw key text)."""
    with create_pipe_input() as inp:
        form = ConfigForm(path, input=inp, output=DummyOutput())
        order = [f.dotted for f in form.fields]
        at = 0
        text = ""
        for k in keys:
            if k in order:
                target = order.index(k)
                text += "\t" * (target - at) if target >= at else "\x1b[Z" * (at - target)
                at = target
            else:
                text += k
        inp.send_text(text)
        form.result = form.run()
    return form


def test_every_section_and_field_is_in_the_form():
    sections = build_fields(config.Config())
    names = [name for name, _ in sections]
    assert names[:5] == ["keys", "generate", "safety", "search", "privacy"]
    assert set(names) == set(config.as_dict(config.Config()))  # sections added later show up
    for name, fields in sections:
        assert [f.key for f in fields] == list(config.as_dict(config.Config())[name])
    assert field_comments(config.SearchConfig)["mode"] == "prefix | fulltext | fuzzy | semantic | hybrid"


def test_edit_and_save_writes_only_what_changed_keeping_comments(cfg_file):
    form = drive(cfg_file, "keys.up_arrow", " ", "search.mode", HOME + KILL + "prefix",
                 "privacy.extra_patterns", HOME + KILL + '["ACME-[0-9]{4}"]',
                 "history.store_failed", " ", SAVE)
    assert form.result == [("keys.up_arrow", False), ("search.mode", "prefix"),
                           ("privacy.extra_patterns", ["ACME-[0-9]{4}"]),
                           ("history.store_failed", False)]
    text = cfg_file.read_text()
    assert "# my cmdai settings: keep this comment" in text and "# how I like to search" in text
    assert 'mode = "prefix"  # trailing comment stays' in text
    assert "limit = 20" in text
    cfg = config.load(cfg_file)
    assert (cfg.keys.up_arrow, cfg.search.mode, cfg.history.store_failed) == (False, "prefix", False)
    assert cfg.privacy.extra_patterns == ["ACME-[0-9]{4}"]
    assert "[generate]" not in text  # untouched sections are not written


@pytest.mark.parametrize(("key", "typed", "reason"), [
    ("search.mode", "telepathy", "must be one of prefix, fulltext, fuzzy, semantic, hybrid, got 'telepathy'"),
    ("search.limit", "many", "must be int, got 'many'"),
    ("safety.policy", "yolo", "must be one of strict, balanced, permissive"),
    ("history.ignore_commands", '["(unclosed"]', "bad regex '(unclosed'"),
    ("history.ignore_dirs", '"~/x"', "must be a list of str"),
    ("privacy.disabled_rules", '["no-such-rule"]', "unknown rule(s): no-such-rule"),
])
def test_bad_values_are_rejected_with_the_reason(cfg_file, key, typed, reason):
    form = drive(cfg_file, key, HOME + KILL + typed, SAVE, QUIT)
    assert form.result is None  # Ctrl-S refused, Ctrl-Q left without saving
    assert reason in form.errors[key]
    assert "invalid value" in form.status and key in form.status
    assert cfg_file.read_text() == ORIGINAL


def test_fixing_a_bad_value_clears_the_error(cfg_file):
    form = drive(cfg_file, "search.limit", HOME + KILL + "many", HOME + KILL + "50", SAVE)
    assert form.errors == {} and form.result == [("search.limit", 50)]
    assert tomllib.loads(cfg_file.read_text())["search"]["limit"] == 50


def test_quit_changes_nothing(cfg_file):
    form = drive(cfg_file, "search.mode", HOME + KILL + "prefix", QUIT)
    assert form.result is None and cfg_file.read_text() == ORIGINAL


def test_no_config_file_yet(cmdai_home):
    path = cmdai_home / "config" / "config.toml"
    form = drive(path, "generate.threads", END + "\x08" + "4", SAVE)
    assert form.result == [("generate.threads", 4)]
    assert tomllib.loads(path.read_text()) == {"generate": {"threads": 4}}


def test_cmdai_config_opens_the_form_on_a_terminal(cfg_file, cmdai_home):
    env = {"CMDAI_HOME": str(cmdai_home), "PATH": "/usr/bin:/bin", "HOME": str(cmdai_home),
           "TERM": "xterm-256color", "LANG": "C.UTF-8"}
    child = pexpect.spawn(sys.executable, ["-m", "cmdai", "config"], env=env, encoding="utf-8",
                          dimensions=(30, 120), timeout=20)
    try:
        child.expect("Backends and models")
        child.send(SAVE)  # nothing changed: saving writes nothing
        child.expect("0 setting\\(s\\) written")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert cfg_file.read_text() == ORIGINAL
