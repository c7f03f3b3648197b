from __future__ import annotations

import pytest

from cmdai import config, paths
from cmdai.errors import ConfigError


def test_defaults_without_a_file(cmdai_home):
    cfg = config.load()
    assert cfg.safety.policy == "balanced" and cfg.keys.up_arrow is True


def test_file_values_and_env_override(cmdai_home, monkeypatch):
    f = paths.config_file()
    f.parent.mkdir(parents=True)
    f.write_text('[safety]\npolicy = "strict"\n[search]\nlimit = 5\n')
    assert config.load().safety.policy == "strict"
    monkeypatch.setenv("CMDAI_SAFETY__POLICY", "permissive")
    cfg = config.load()
    assert cfg.safety.policy == "permissive" and cfg.search.limit == 5


@pytest.mark.parametrize("text, message", [
    ('[safety]\npolcy = "strict"\n', "unknown key 'safety.polcy'"),
    ('[nope]\nx = 1\n', r"unknown section \[nope\]"),
    ('[search]\nlimit = "ten"\n', "'search.limit' must be int"),
    ('[keys]\nup_arrow = 1\n', "'keys.up_arrow' must be bool"),
    ('[safety]\npolicy = "yolo"\n', "must be one of strict, balanced, permissive"),
    ('[history]\nignore_commands = "ls"\n', "must be a list of str"),
    ('safety = 3\n', "must be a table"),
    ('[safety\n', "not valid TOML"),
])
def test_bad_config_names_key_and_file(cmdai_home, text, message):
    f = paths.config_file()
    f.parent.mkdir(parents=True)
    f.write_text(text)
    with pytest.raises(ConfigError, match=message) as info:
        config.load()
    assert str(f) in str(info.value)


def test_set_keeps_comments_and_other_keys(cmdai_home):
    f = paths.config_file()
    f.parent.mkdir(parents=True)
    f.write_text('# my settings\n[safety]\npolicy = "strict"  # careful\n\n[keys]\nup_arrow = false\n')
    config.set_value("keys.ctrl_r", "false")
    config.set_value("search.limit", "7")
    config.set_value("safety.policy", "permissive")
    text = f.read_text()
    assert text.startswith("# my settings\n[safety]\npolicy = \"permissive\"  # careful\n")
    cfg = config.load()
    assert (cfg.keys.up_arrow, cfg.keys.ctrl_r, cfg.search.limit) == (False, False, 7)


@pytest.mark.parametrize("key, value, message", [
    ("search.limit", "many", "must be int"),
    ("nope.key", "1", "unknown config key"),
    ("safety.policy", "yolo", "must be one of"),
])
def test_set_rejects_bad_values(cmdai_home, key, value, message):
    with pytest.raises(ConfigError, match=message):
        config.set_value(key, value)
    assert not paths.config_file().exists()


def test_cmdai_home_holds_all_state(cmdai_home):
    for where in (paths.config_file(), paths.db_file(), paths.spool_dir(), paths.runtime_dir(),
                  paths.cache_dir(), paths.log_file()):
        assert str(where).startswith(str(cmdai_home))
