"""`cmdai config` on a terminal: a full-screen form over every setting.

The form is built from the Config dataclasses (a section another feature adds shows up by
itself), grouped by section, each field with the comment of its declaration as help. Values are
validated as they are typed with config's own checks; Ctrl-S writes only the keys that changed,
one by one through ``config.set_value`` (which keeps the rest of the file and its comments).

Input and output are injected, so tests drive it in-process with ``create_pipe_input()`` and
``DummyOutput()``.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import tomllib
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cmdai import config
from cmdai.errors import ConfigError

# sections shown first, with the titles users know them by; any other section follows
TITLES = {
    "keys": "Keys",
    "generate": "Backends and models",
    "safety": "Safety policy",
    "search": "Search ranking",
    "privacy": "Privacy",
    "history": "History and filters",
}
_FIELD_COMMENT = re.compile(r"^\s+([a-z_][a-z0-9_]*)\s*:[^#]*#\s*(.+?)\s*$")


def field_comments(cls: type) -> dict[str, str]:
    """The trailing ``# comment`` of each field in the dataclass's source (its help text)."""
    try:
        source = inspect.getsource(cls)
    except (OSError, TypeError):
        return {}
    out = {}
    for line in source.splitlines():
        m = _FIELD_COMMENT.match(line)
        if m:
            out[m.group(1)] = m.group(2)
    return out


def render_value(value: Any) -> str:
    """A value as TOML (what `config set` and the file take)."""
    import tomli_w

    return tomli_w.dumps({"v": value}).strip()[len("v = "):]


def to_text(value: Any, kind: Any) -> str:
    """What the text box shows: strings bare, everything else as TOML."""
    return value if kind is str else render_value(value)


def parse_text(dotted: str, kind: Any, text: str, where: str) -> Any:
    """The value typed for ``dotted``, validated like the config file; ConfigError says why not."""
    if kind is str:
        value: Any = text
    else:
        try:
            value = tomllib.loads(f"v = {text.strip()}")["v"]
        except tomllib.TOMLDecodeError:
            value = text  # not TOML: the type check below says what was expected
    return config._check_value(dotted, kind, value, where)  # config's own validation


@dataclass
class Field:
    section: str
    key: str
    kind: Any
    original: Any
    help: str
    widget: Any = None
    error: str | None = None
    value: Any = None

    @property
    def dotted(self) -> str:
        return f"{self.section}.{self.key}"

    @property
    def is_bool(self) -> bool:
        return self.kind is bool


def _short(message: str, where: str) -> str:
    return message.replace(f"{where}: ", "")


def build_fields(cfg: config.Config) -> list[tuple[str, list[Field]]]:
    sections = config._sections()
    order = [s for s in TITLES if s in sections] + [s for s in sections if s not in TITLES]
    out = []
    for name in order:
        cls = sections[name]
        hints = typing.get_type_hints(cls)
        comments = field_comments(cls)
        current = getattr(cfg, name)
        fields = [
            Field(section=name, key=f.name, kind=hints[f.name], original=getattr(current, f.name),
                  help=comments.get(f.name, ""), value=getattr(current, f.name))
            for f in dataclasses.fields(cls)
        ]
        out.append((name, fields))
    return out


class ConfigForm:
    def __init__(self, path: Path | None = None, *, input: Any = None, output: Any = None) -> None:
        from cmdai import paths

        self.path = path or paths.config_file()
        self.where = str(self.path)
        self.sections = build_fields(config.load(self.path))
        self.fields = [f for _, fs in self.sections for f in fs]
        self.status = ""
        self.saved: list[tuple[str, Any]] | None = None
        self.app = self._build(input, output)

    # -- validation ------------------------------------------------------------------------
    def validate(self, field: Field, text: str) -> None:
        try:
            field.value = parse_text(field.dotted, field.kind, text, self.where)
            field.error = None
            if field.dotted == "privacy.disabled_rules":
                from cmdai.privacy.redact import builtin_rules

                unknown = sorted(set(field.value) - {r.id for r in builtin_rules()})
                if unknown:
                    field.error = f"unknown rule(s): {', '.join(unknown)}"
        except ConfigError as exc:
            field.error = _short(exc.message, self.where)

    @property
    def errors(self) -> dict[str, str]:
        return {f.dotted: f.error for f in self.fields if f.error}

    def changes(self) -> list[tuple[str, Any]]:
        return [(f.dotted, f.value) for f in self.fields if f.value != f.original]

    # -- layout ----------------------------------------------------------------------------
    def _build(self, input: Any, output: Any):
        from prompt_toolkit.application import Application
        from prompt_toolkit.filters import Condition
        from prompt_toolkit.key_binding import KeyBindings
        from prompt_toolkit.key_binding.bindings.focus import focus_next, focus_previous
        from prompt_toolkit.layout import (
            ConditionalContainer, FormattedTextControl, HSplit, Layout, ScrollablePane, VSplit,
            Window,
        )
        from prompt_toolkit.layout.dimension import Dimension as D
        from prompt_toolkit.styles import Style
        from prompt_toolkit.widgets import Checkbox, Frame, TextArea

        label_width = max(len(f.key) for f in self.fields) + 2
        frames = []
        for name, fields in self.sections:
            rows = []
            for f in fields:
                if f.is_bool:
                    # a Checkbox has no change event: its state is read when needed
                    widget = f.widget = Checkbox(text="", checked=bool(f.original))
                else:
                    area = TextArea(text=to_text(f.original, f.kind), multiline=False, height=1,
                                    style="class:input", focus_on_click=True)
                    f.widget = area

                    def changed(buffer, f=f) -> None:
                        self.validate(f, buffer.text)
                    area.buffer.on_text_changed += changed
                    widget = area
                rows.append(VSplit([
                    Window(FormattedTextControl(f.key), width=D.exact(label_width),
                           style="class:label"),
                    widget,
                ]))
                if f.help:
                    rows.append(VSplit([Window(width=D.exact(label_width)),
                                        Window(FormattedTextControl(f.help), style="class:help",
                                               height=1)]))
                rows.append(ConditionalContainer(
                    VSplit([Window(width=D.exact(label_width)),
                            Window(FormattedTextControl(lambda f=f: f"✗ {f.error}"),
                                   style="class:error", height=1)]),
                    filter=Condition(lambda f=f: bool(f.error)),
                ))
            frames.append(Frame(HSplit(rows), title=f"{TITLES.get(name, name.title())} [{name}]"))

        kb = KeyBindings()
        kb.add("tab")(focus_next)
        kb.add("down")(focus_next)
        kb.add("s-tab")(focus_previous)
        kb.add("up")(focus_previous)

        @kb.add("c-s")
        def _save(event) -> None:
            self._sync_bools()
            if self.errors:
                n = len(self.errors)
                self.status = (f"{n} invalid value{'s' if n > 1 else ''} ({', '.join(self.errors)}):"
                               " fix or press Ctrl-Q to quit without saving")
                return
            event.app.exit(result=self.changes())

        @kb.add("c-q")
        @kb.add("c-c")
        @kb.add("escape", eager=True)
        def _quit(event) -> None:
            event.app.exit(result=None)

        def bottom():
            changed = len(self._pending())
            text = self.status or (
                f"{changed} change{'s' if changed != 1 else ''} · " if changed else "")
            return [("class:status", f" {text}"),
                    ("class:keys", " Tab/↓ next  Shift-Tab/↑ previous  Space toggles  "
                                   "Ctrl-S save  Ctrl-Q quit ")]

        body = HSplit([
            Window(FormattedTextControl(f" cmdai settings · {self.path}"), height=1,
                   style="class:title"),
            ScrollablePane(HSplit(frames)),
            Window(FormattedTextControl(bottom), height=1, style="class:bar"),
        ], key_bindings=kb)
        style = Style.from_dict({
            "title": "bold", "label": "", "help": "#888888", "error": "#ff5555 bold",
            "input": "underline", "bar": "reverse", "status": "bold",
        })
        return Application(layout=Layout(body), key_bindings=kb, full_screen=True,
                           mouse_support=True, style=style, input=input, output=output)

    def _sync_bools(self) -> None:
        for f in self.fields:
            if f.is_bool:
                f.value = f.widget.checked

    def _pending(self) -> list[tuple[str, Any]]:
        self._sync_bools()
        return self.changes()

    # -- running ---------------------------------------------------------------------------
    def run(self) -> list[tuple[str, Any]] | None:
        """Show the form; on save, write what changed and return it (None: quit unsaved)."""
        result = self.app.run()
        if result is None:
            return None
        for dotted, value in result:
            config.set_value(dotted, render_value(value), self.path)
        self.saved = result
        return result
