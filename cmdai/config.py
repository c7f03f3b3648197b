"""Configuration: TOML read into frozen dataclasses.

Precedence: defaults < config file < environment (``CMDAI_<SECTION>__<KEY>``) < flags.
Unknown sections or keys, and values of the wrong type, are errors naming the key and the file.
Each feature owns one section; add a field with its default and a comment in ``DEFAULT_TOML``.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cmdai import paths
from cmdai.errors import ConfigError


@dataclass(frozen=True)
class KeysConfig:
    up_arrow: bool = True  # Up on an empty line opens the history picker
    ctrl_r: bool = True  # Ctrl-R opens the history picker
    generate: str = "ctrl-g"  # the key that turns the line into a command: ctrl-X, alt-X, none


@dataclass(frozen=True)
class HistoryConfig:
    store_failed: bool = True  # record commands that exited non-zero
    ignore_commands: list[str] = field(default_factory=list)  # regexes of commands not to record
    ignore_dirs: list[str] = field(default_factory=list)  # directories (and below; ~ and * allowed) not to record in


@dataclass(frozen=True)
class SearchConfig:
    mode: str = "hybrid"  # prefix | fulltext | fuzzy | semantic | hybrid
    limit: int = 20
    filter: str = "all"  # the picker's first filter: all | session | directory | workspace | host
    enter: str = "insert"  # Enter in the picker: insert (edit before running) | run
    semantic: bool = True  # embed commands and search by meaning (needs the embedding model)
    embed_per_call: int = 500  # new commands embedded by one search (the rest: next time)
    # one score blends these (see README, "Search and the picker")
    weight_text: float = 1.0  # full-text match (BM25 over the query's words)
    weight_prefix: float = 0.3  # the command starts with the query
    weight_fuzzy: float = 0.5  # the query's letters appear in order (fzf-like)
    weight_semantic: float = 1.0  # cosine similarity of meaning
    weight_recency: float = 0.35  # recently run (half weight after a day)
    weight_frequency: float = 0.2  # often run
    weight_cwd: float = 0.25  # run in the current directory
    weight_workspace: float = 0.1  # run in the current git workspace
    weight_session: float = 0.15  # run in this shell session
    weight_success: float = 0.15  # exited 0
    min_similarity: float = 0.3  # semantic matches below this are not shown


@dataclass(frozen=True)
class SafetyConfig:
    policy: str = "balanced"  # strict | balanced | permissive
    rules_file: str = ""  # extra TOML rules; empty means <config dir>/rules.toml if present


@dataclass(frozen=True)
class GenerateConfig:
    backends: list[str] = field(default_factory=lambda: ["llama_cpp", "openai"])  # tried in order
    model: str = "qwen2.5-coder-1.5b"  # catalog model for llama_cpp (`cmdai model list`)
    model_path: str = ""  # a GGUF file outside the catalog; when set, overrides `model`
    threads: int = 0  # llama.cpp threads; 0 = all cores
    context_size: int = 2048  # llama.cpp context window (tokens)
    max_tokens: int = 96  # generated tokens per answer (a command and one explanation line)
    history_examples: int = 2  # the user's own successful commands shown to the model
    prompt: str = "auto"  # prompt shape: auto (the model's measured one) | full | compact | plain
    docs: bool = False  # add the --help/man option lines matching the request (measured worse: off)
    tldr: bool = True  # add examples from your tldr cache, if you have one
    listing: bool = True  # add a short listing of the cwd
    grammar: bool = False  # constrain output to "command line + # explanation" (GBNF)
    explain: bool = True  # ask for the "# explanation" line (costs ~0.5-1 s on a 2-core CPU)
    server_url: str = "http://127.0.0.1:8080"  # OpenAI-compatible server (llama-server, Ollama, vLLM)
    server_model: str = ""  # model name sent to the server; empty = the server's first model
    server_api_key_env: str = ""  # NAME of the environment variable holding the API key
    server_timeout: float = 30.0  # seconds, for connecting and between streamed chunks
    mlx_model: str = ""  # an MLX model folder (Apple Silicon)


@dataclass(frozen=True)
class DaemonConfig:
    autostart: bool = True  # Ctrl-G starts the daemon when it is not running
    idle_unload_minutes: float = 30.0  # free the model after this long unused; 0 = never


@dataclass(frozen=True)
class PrivacyConfig:
    redact: bool = True  # replace secrets with <redacted:KIND> before anything is stored or prompted
    disabled_rules: list[str] = field(default_factory=list)  # redaction rule ids to turn off
    extra_patterns: list[str] = field(default_factory=list)  # your own regexes to redact (kind: custom)


@dataclass(frozen=True)
class Config:
    keys: KeysConfig = field(default_factory=KeysConfig)
    history: HistoryConfig = field(default_factory=HistoryConfig)
    search: SearchConfig = field(default_factory=SearchConfig)
    safety: SafetyConfig = field(default_factory=SafetyConfig)
    generate: GenerateConfig = field(default_factory=GenerateConfig)
    privacy: PrivacyConfig = field(default_factory=PrivacyConfig)
    daemon: DaemonConfig = field(default_factory=DaemonConfig)

    source: str = field(default="<defaults>", compare=False)


CHOICES: dict[str, tuple[str, ...]] = {
    "search.mode": ("prefix", "fulltext", "fuzzy", "semantic", "hybrid"),
    "search.filter": ("all", "session", "directory", "workspace", "host"),
    "search.enter": ("insert", "run"),
    "safety.policy": ("strict", "balanced", "permissive"),
    "generate.prompt": ("auto", "full", "compact", "plain"),
}


def _sections() -> dict[str, type]:
    """Section name -> dataclass, in declaration order."""
    hints = typing.get_type_hints(Config)
    return {f.name: hints[f.name] for f in dataclasses.fields(Config) if f.name != "source"}


def _check_value(key: str, expected: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(expected)
    if origin is list:
        (item,) = typing.get_args(expected)
        if not isinstance(value, list) or not all(isinstance(v, item) for v in value):
            raise ConfigError(
                f"{where}: '{key}' must be a list of {item.__name__}",
                f"for example {key.split('.')[-1]} = []",
            )
        if key in REGEX_LISTS:
            _check_regexes(key, value, where)
        return list(value)
    if expected is bool:
        ok = isinstance(value, bool)
    elif expected is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif expected is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    else:
        ok = isinstance(value, expected)
    if not ok:
        raise ConfigError(f"{where}: '{key}' must be {expected.__name__}, got {value!r}")
    choices = CHOICES.get(key)
    if choices and value not in choices:
        raise ConfigError(f"{where}: '{key}' must be one of {', '.join(choices)}, got {value!r}")
    return value


REGEX_LISTS = frozenset({"history.ignore_commands", "privacy.extra_patterns"})


def _check_regexes(key: str, value: list[str], where: str) -> None:
    for pattern in value:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ConfigError(f"{where}: '{key}': bad regex {pattern!r}: {exc}") from None


def build(data: dict[str, Any], where: str) -> Config:
    """Turn a parsed TOML mapping into a Config, validating every key."""
    sections = _sections()
    values: dict[str, Any] = {}
    for name, body in data.items():
        if name not in sections:
            raise ConfigError(
                f"{where}: unknown section [{name}]",
                f"known sections: {', '.join(sections)}",
            )
        if not isinstance(body, dict):
            raise ConfigError(f"{where}: '{name}' must be a table ([{name}])")
        cls = sections[name]
        hints = typing.get_type_hints(cls)
        known = {f.name for f in dataclasses.fields(cls)}
        kwargs = {}
        for key, value in body.items():
            if key not in known:
                raise ConfigError(
                    f"{where}: unknown key '{name}.{key}'",
                    f"known keys in [{name}]: {', '.join(sorted(known))}",
                )
            kwargs[key] = _check_value(f"{name}.{key}", hints[key], value, where)
        values[name] = cls(**kwargs)
    return Config(**values, source=where)


def _env_overrides() -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for var, raw in os.environ.items():
        m = re.fullmatch(r"CMDAI_([A-Z0-9]+)__([A-Z0-9_]+)", var)
        if not m:
            continue
        section, key = m.group(1).lower(), m.group(2).lower()
        try:
            value = tomllib.loads(f"v = {raw}")["v"]
        except tomllib.TOMLDecodeError:
            value = raw  # a bare string
        out.setdefault(section, {})[key] = value
    return out


def load(path: Path | None = None) -> Config:
    path = path or paths.config_file()
    data: dict[str, Any] = {}
    if path.exists():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}", "fix the file or run `cmdai config path`")
    env = _env_overrides()
    for section, body in env.items():
        data.setdefault(section, {}).update(body)
    return build(data, str(path) if not env else f"{path} (+ CMDAI_* environment)")


def as_dict(cfg: Config) -> dict[str, dict[str, Any]]:
    return {name: dataclasses.asdict(getattr(cfg, name)) for name in _sections()}


def get_value(cfg: Config, dotted: str) -> Any:
    section, _, key = dotted.partition(".")
    data = as_dict(cfg)
    if section not in data or key not in data[section]:
        raise ConfigError(f"unknown config key '{dotted}'", "see `cmdai config show` for all keys")
    return data[section][key]


def set_value(dotted: str, raw: str, path: Path | None = None) -> Any:
    """Set one key in the config file, keeping the rest of the file (comments included)."""
    import tomli_w

    path = path or paths.config_file()
    section, _, key = dotted.partition(".")
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    current = load(path)
    expected = typing.get_type_hints(type(getattr(current, section, None) or object)).get(key)
    if expected is None:
        raise ConfigError(f"unknown config key '{dotted}'", "see `cmdai config show` for all keys")
    if expected is str and not isinstance(value, str):
        value = raw
    value = _check_value(dotted, expected, value, str(path))
    rendered = tomli_w.dumps({"v": value}).strip()[len("v = "):]
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(_replace_key(text, section, key, rendered), encoding="utf-8")
    return value


def _trailing_comment(line: str) -> str:
    """The `  # comment` after a `key = value` line's value ('#' inside a string is not one)."""
    eq = line.index("=")
    for m in re.finditer(r"\s*#", line[eq + 1:]):
        try:
            tomllib.loads("v = " + line[eq + 1:eq + 1 + m.start()])
        except tomllib.TOMLDecodeError:
            continue
        return line[eq + 1 + m.start():]
    return ""


def _replace_key(text: str, section: str, key: str, rendered: str) -> str:
    lines = text.splitlines()
    header = re.compile(r"^\s*\[\s*([A-Za-z0-9_.-]+)\s*\]\s*(#.*)?$")
    assign = re.compile(rf"^\s*{re.escape(key)}\s*=")
    current = None
    insert_at = None
    for i, line in enumerate(lines):
        m = header.match(line)
        if m:
            if current == section and insert_at is None:
                insert_at = i
            current = m.group(1)
            continue
        if current == section and assign.match(line):
            lines[i] = f"{key} = {rendered}{_trailing_comment(line)}"
            return "\n".join(lines) + "\n"
    if current == section and insert_at is None:
        insert_at = len(lines)
    if insert_at is None:
        if lines and lines[-1].strip():
            lines.append("")
        lines += [f"[{section}]", f"{key} = {rendered}"]
    else:
        while insert_at > 0 and not lines[insert_at - 1].strip():
            insert_at -= 1
        lines.insert(insert_at, f"{key} = {rendered}")
    return "\n".join(lines) + "\n"
