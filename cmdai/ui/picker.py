"""The history picker behind Up and Ctrl-R: prompt-toolkit, inline, drawn on /dev/tty.

Keys: type to search (results update as you type), Up/Down (Ctrl-P/Ctrl-N) move, Enter puts the
command in the shell's line (``search.enter = "run"`` runs it instead), Tab puts it in for
editing, Ctrl-T cycles the search mode, Ctrl-R cycles the filter (all, session, directory,
workspace, host), Ctrl-D deletes the selected command from history (asks y/n), Esc / Ctrl-C /
Ctrl-G cancel.

The first screen comes from the text index alone; the embedding model and the vectors load in a
background thread and the results are re-ranked when they are ready.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from typing import Any

from cmdai.config import SearchConfig
from cmdai.history.store import Store
from cmdai.semantic.search import FILTERS, MODES, Context, HardFilters, Hit, Searcher

MAX_ROWS = 12


@dataclass(frozen=True)
class Choice:
    action: str  # "insert" | "run" | "edit"
    command: str


def _age(ts_ns: int, now_ns: int) -> str:
    seconds = max(0.0, (now_ns - ts_ns) / 1e9)
    for unit, size in (("y", 31_536_000), ("w", 604_800), ("d", 86_400), ("h", 3_600),
                       ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"


def _short_dir(cwd: str | None, width: int = 18) -> str:
    if not cwd:
        return ""
    home = os.path.expanduser("~")
    if cwd == home or cwd.startswith(home + "/"):
        cwd = "~" + cwd[len(home):]
    return cwd if len(cwd) <= width else "…" + cwd[-(width - 1):]


def format_row(hit: Hit, now_ns: int, width: int) -> str:
    e = hit.entry
    status = " " if e.exit is None else ("✓" if e.exit == 0 else str(e.exit))
    dur = "" if e.duration_ms is None else (
        f"{e.duration_ms}ms" if e.duration_ms < 1000 else f"{e.duration_ms / 1000:.1f}s")
    count = f" ×{hit.count}" if hit.count > 1 else ""
    command = e.command.replace("\n", "⏎ ").replace("\t", " ")
    head = f"{_age(e.timestamp, now_ns):>4} {status:>3} {dur:>6} {_short_dir(e.cwd):<18}  "
    room = max(10, width - len(head) - len(count) - 2)
    if len(command) > room:
        command = command[:room - 1] + "…"
    return head + command + count


class Picker:
    """The picker's state and application; ``run()`` returns a Choice or None (cancelled)."""

    def __init__(self, store: Store, cfg: SearchConfig, context: Context, *, query: str = "",
                 mode: str | None = None, filter_name: str | None = None,
                 base_filters: HardFilters = HardFilters(), input: Any = None,
                 output: Any = None, background: bool = True,
                 searcher: Searcher | None = None, embed_limit: int | None = None) -> None:
        self.store = store
        self.cfg = cfg
        self.context = context
        self.searcher = searcher or Searcher(store, cfg, context)
        self.mode = mode or cfg.mode
        self.filter_name = filter_name or cfg.filter
        self.base_filters = base_filters
        self.hits: list[Hit] = []
        self.selected = 0
        self.message = ""
        self.confirm_delete: Hit | None = None
        self.lock = threading.RLock()
        self.background = background
        self._input = input
        self._output = output
        self._loader: threading.Thread | None = None
        self.embed_limit = embed_limit  # commands embedded on open (None: search.embed_per_call)
        self.app = self._build(query)
        self.refresh()

    # -- state -------------------------------------------------------------------------------
    @property
    def filters(self) -> HardFilters:
        return HardFilters.named(self.filter_name, self.context, self.base_filters)

    @property
    def query(self) -> str:
        return self.buffer.text

    def refresh(self) -> None:
        with self.lock:
            semantic_now = self.mode in ("semantic", "hybrid") and self.searcher.semantic_ready()
            mode = self.mode
            if mode in ("semantic", "hybrid") and not semantic_now:
                # until the model is loaded: text matches now, meaning a moment later
                mode = "fulltext" if mode == "hybrid" else mode
            if mode == "semantic" and not semantic_now:
                self.hits = []
            else:
                self.hits = self.searcher.search(self.query, mode, self.filters, MAX_ROWS * 4)
            self.selected = min(self.selected, max(0, len(self.hits) - 1))

    def _load_semantic(self) -> None:
        with self.lock:
            ok = self.searcher.load_semantic(embed_limit=self.embed_limit)
            if not ok and self.searcher.semantic_error:
                self.message = "semantic search off: " + self.searcher.semantic_error
            self.refresh()
        self.app.invalidate()

    # -- the application ----------------------------------------------------------------------
    def _build(self, query: str) -> Any:
        from prompt_toolkit.application import Application
        from prompt_toolkit.buffer import Buffer
        from prompt_toolkit.document import Document
        from prompt_toolkit.key_binding import KeyBindings
        from prompt_toolkit.layout import HSplit, Layout, Window
        from prompt_toolkit.layout.controls import BufferControl, FormattedTextControl
        from prompt_toolkit.layout.dimension import Dimension
        from prompt_toolkit.layout.processors import BeforeInput
        from prompt_toolkit.styles import Style

        self.buffer = Buffer(document=Document(query, len(query)), multiline=False,
                             on_text_changed=lambda _: self._changed())
        kb = KeyBindings()

        @kb.add("up")
        @kb.add("c-p")
        def _(event: Any) -> None:
            self.selected = max(0, self.selected - 1)

        @kb.add("down")
        @kb.add("c-n")
        def _(event: Any) -> None:
            self.selected = min(max(0, len(self.visible()) - 1), self.selected + 1)

        @kb.add("enter")
        def _(event: Any) -> None:
            self._accept(self.cfg.enter)

        @kb.add("tab")
        def _(event: Any) -> None:
            self._accept("edit")

        @kb.add("escape", eager=True)
        @kb.add("c-c")
        @kb.add("c-g")
        def _(event: Any) -> None:
            if self.confirm_delete is not None:
                self.confirm_delete = None
                self.message = ""
                return
            event.app.exit(result=None)

        @kb.add("c-t")
        def _(event: Any) -> None:
            self.mode = MODES[(MODES.index(self.mode) + 1) % len(MODES)]
            self.selected = 0
            self.refresh()

        @kb.add("c-r")
        def _(event: Any) -> None:
            self.filter_name = FILTERS[(FILTERS.index(self.filter_name) + 1) % len(FILTERS)]
            self.selected = 0
            self.refresh()

        @kb.add("c-d")
        def _(event: Any) -> None:
            visible = self.visible()
            if visible:
                self.confirm_delete = visible[self.selected]
                n = self.confirm_delete.count
                self.message = (f"delete this command from history ({n} run{'s' * (n != 1)})?"
                                " y/n")

        @kb.add("y", filter=_confirming(self))
        def _(event: Any) -> None:
            self._delete()

        @kb.add("n", filter=_confirming(self))
        def _(event: Any) -> None:
            self.confirm_delete = None
            self.message = ""

        def header() -> Any:
            return [("class:header", f" {self.mode} · {self.filter_name} "),
                    ("class:dim", "  Enter: " + ("run" if self.cfg.enter == "run" else "insert")
                     + "  Tab: edit  ^T mode  ^R filter  ^D delete  Esc: cancel")]

        def results() -> Any:
            now = time.time_ns()
            width = self._width()
            out: list[tuple[str, str]] = []
            visible = self.visible()
            if not visible:
                out.append(("class:dim", "  (no match)\n"))
            for n, hit in enumerate(visible):
                style = "class:selected" if n == self.selected else ""
                out.append((style, ("▶ " if n == self.selected else "  ")
                            + format_row(hit, now, width - 2) + "\n"))
            if self.message:
                out.append(("class:message", self.message + "\n"))
            return out

        body = HSplit([
            Window(FormattedTextControl(header), height=1),
            Window(BufferControl(self.buffer, input_processors=[BeforeInput("search> ")]),
                   height=1),
            Window(FormattedTextControl(results),
                   height=Dimension(min=2, max=MAX_ROWS + 2, preferred=MAX_ROWS + 2)),
        ])
        style = Style.from_dict({"header": "reverse", "dim": "#888888", "selected": "reverse",
                                 "message": "bold"})
        return Application(layout=Layout(body, focused_element=body.children[1]),
                           key_bindings=kb, style=style, full_screen=False, erase_when_done=True,
                           input=self._input, output=self._output, mouse_support=False)

    def _width(self) -> int:
        try:
            return self.app.output.get_size().columns
        except Exception:  # noqa: BLE001 - a dummy output has no size
            return 100

    def visible(self) -> list[Hit]:
        return self.hits[:MAX_ROWS]

    def _changed(self) -> None:
        self.selected = 0
        self.confirm_delete = None
        self.message = ""
        self.refresh()

    def _accept(self, action: str) -> None:
        visible = self.visible()
        if not visible:
            return
        self.app.exit(result=Choice(action, visible[self.selected].entry.command))

    def _delete(self) -> None:
        hit = self.confirm_delete
        self.confirm_delete = None
        if hit is None:
            return
        with self.lock:  # the loader thread shares the store's connection
            ids = [r[0] for r in self.store.conn.execute(
                "SELECT id FROM history WHERE command = ? AND deleted_at IS NULL",
                (hit.entry.command,))]
            n = self.store.delete(ids)
            self.searcher.invalidate()
            if self.searcher.semantic_enabled and self.background:
                self._start_loader()
            self.message = f"deleted {n} run{'s' * (n != 1)}"
            self.refresh()

    def _start_loader(self) -> None:
        self._loader = threading.Thread(target=self._load_semantic, name="picker-semantic",
                                        daemon=True)
        self._loader.start()

    def run(self) -> Choice | None:
        if self.background and self.mode in ("semantic", "hybrid"):
            self.app.pre_run_callables.append(self._start_loader)
        return self.app.run()

    def wait(self) -> None:
        """Wait for the background loader: it uses the store, so close the store after this."""
        loader = self._loader
        if loader is not None:
            loader.join()


def _confirming(picker: Picker) -> Any:
    from prompt_toolkit.filters import Condition

    return Condition(lambda: picker.confirm_delete is not None)


def pick_on_tty(store: Store, cfg: SearchConfig, context: Context, *, query: str = "",
                mode: str | None = None, base_filters: HardFilters = HardFilters()) -> Choice | None:
    """Run the picker on /dev/tty (stdout belongs to the shell widget that called us)."""
    import signal

    from prompt_toolkit.input import create_input
    from prompt_toolkit.output import create_output

    from cmdai.errors import UsageError

    signal.signal(signal.SIGINT, signal.SIG_DFL)  # no traceback over the prompt (pitfall 6)
    try:
        tty_in, tty_out = open("/dev/tty", "r"), open("/dev/tty", "w")
    except OSError as exc:
        raise UsageError(f"the picker needs a terminal: {exc}",
                         "run it from an interactive shell (Up or Ctrl-R)") from None
    with tty_in, tty_out:
        picker = Picker(store, cfg, context, query=query, mode=mode, base_filters=base_filters,
                        input=create_input(tty_in), output=create_output(stdout=tty_out))
        return picker.run()
