"""Parse a command line into the simple commands it would run.

tree-sitter-bash gives the syntax tree; this module walks it and emits one :class:`Simple` per
simple command, wherever it sits: lists, pipelines, subshells, ``$(...)``, backticks, process
substitution, function bodies, loops. Words are resolved the way the shell would before running
them as far as that is knowable without running anything: quote removal, backslashes, ``$'..'``,
variables assigned earlier on the same line, ``$IFS``, ``$(echo ...)``, base64/xxd-decoded text.

The strings handed to ``sh -c``, ``eval``, ``watch``, ``ssh host CMD``, ``find -exec``,
``xargs``, ``sudo``/``env``/``nohup``/``timeout`` (and the other wrappers listed in
``rules.toml``) are parsed recursively.

A line that does not parse (ERROR or MISSING nodes, or a shell keyword such as ``then`` or ``do``
standing where a command name should be) is read twice more: once with its quotes removed, so a
stray quote cannot hide a command, and once as plain words (:meth:`Walker._judge_words`): the text
is cut into runs at ``;``, ``&``, ``|``, newlines, parentheses and shell keywords, and each run is
emitted as a simple command, so the same rules judge it. Such a line also gets the fact
``unparsed``.

tree-sitter is imported on first use, never when ``cmdai`` is imported.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import re
from dataclasses import dataclass, field
from typing import Any

SPLIT = "\x1f"  # marks where an unquoted expansion splits a word into fields
MAX_DEPTH = 6  # nesting of sh -c / eval / decoded payloads
MAX_COMMANDS = 400  # a pathological line stops being expanded after this many commands

MAX_NESTING = 120  # syntax-tree depth walked; deeper lines are reported, not judged
MAX_WORDS_TEXT = 200_000  # characters of an unparsable line that are judged word by word

# Reserved words: where one of them stands as a command name, the line is not valid shell.
KEYWORDS = frozenset({"if", "then", "else", "elif", "fi", "do", "done", "case", "esac", "while",
                      "until", "for", "select", "in", "function", "{", "}", "!"})
_NOT_COMMAND_NAMES = KEYWORDS - {"!"}
# In a line that does not parse, these end a command wherever they stand.
_SEPARATING_KEYWORDS = frozenset({"then", "do", "else", "elif", "fi", "done", "esac"})

_PARSER: Any = None


class _TooDeep(Exception):
    pass


def _parser() -> Any:
    global _PARSER
    if _PARSER is None:
        import tree_sitter
        import tree_sitter_bash

        _PARSER = tree_sitter.Parser(tree_sitter.Language(tree_sitter_bash.language()))
    return _PARSER


@dataclass(eq=False)
class Simple:
    """One simple command as it would be executed."""

    argv: list[str]
    text: str  # the source text it came from (for display)
    redirects: list[tuple[str, str]] = field(default_factory=list)  # (operator, target)
    feeds: list[list[str]] = field(default_factory=list)  # argv of commands whose output flows in
    pipes_to: list[str] = field(default_factory=list)  # programs downstream in the pipeline
    exec_feeds: set[str] = field(default_factory=set)  # programs whose output it runs as code
    stdin_text: str | None = None  # statically known standard input
    stdout: str | None = None  # statically known output (echo, printf, base64 -d ...)
    sudo: bool = False
    via: tuple[str, ...] = ()  # wrappers and sinks it was found inside
    synthetic: bool = False  # an assignment or a bare redirection, not a real program
    input_args: bool = False  # more arguments arrive on input nobody can see (xargs < pipe)

    @property
    def program(self) -> str:
        return program_name(self.argv[0]) if self.argv else ""


@dataclass
class Parsed:
    commands: list[Simple]
    facts: dict[str, str]  # structural findings (fact -> source text), e.g. fork bombs
    error: bool  # the line (or an inner string) did not parse cleanly


def program_name(word: str) -> str:
    """Basename, lower-cased (case-insensitive file systems run `RM` as rm)."""
    return word.rsplit("/", 1)[-1].lower()


@dataclass
class _Ctx:
    sudo: bool = False
    via: tuple[str, ...] = ()
    feeds: list[list[str]] = field(default_factory=list)
    pipes_to: list[str] = field(default_factory=list)
    stdin_text: str | None = None
    depth: int = 0

    def but(self, **kw: Any) -> "_Ctx":
        d = dict(self.__dict__)
        d.update(kw)
        return _Ctx(**d)


_ANSI_SIMPLE = {"n": "\n", "t": "\t", "r": "\r", "a": "\a", "b": "\b", "e": "\x1b", "E": "\x1b",
                "f": "\f", "v": "\v", "\\": "\\", "'": "'", '"': '"', "?": "?"}


def _ansi_c(body: str) -> str:
    out = []
    i = 0
    while i < len(body):
        c = body[i]
        if c != "\\" or i + 1 >= len(body):
            out.append(c)
            i += 1
            continue
        n = body[i + 1]
        if n in _ANSI_SIMPLE:
            out.append(_ANSI_SIMPLE[n])
            i += 2
        elif n == "x":
            m = re.match(r"[0-9a-fA-F]{1,2}", body[i + 2:i + 4])
            if m:
                out.append(chr(int(m.group(), 16)))
                i += 2 + len(m.group())
            else:
                out.append("\\x")
                i += 2
        elif n in "uU":
            m = re.match(r"[0-9a-fA-F]{1,8}", body[i + 2:i + (6 if n == "u" else 10)])
            if m:
                out.append(chr(min(int(m.group(), 16), 0x10FFFF)))
                i += 2 + len(m.group())
            else:
                out.append("\\" + n)
                i += 2
        elif n in "01234567":
            m = re.match(r"[0-7]{1,3}", body[i + 1:i + 4])
            assert m
            out.append(chr(int(m.group(), 8) & 0xFF))
            i += 1 + len(m.group())
        else:
            out.append("\\" + n)
            i += 2
    return "".join(out)


def _unescape_word(text: str) -> str:
    text = text.replace("\\\n", "")
    return re.sub(r"\\(.)", r"\1", text, flags=re.S) if "\\" in text else text


def _unescape_dq(text: str) -> str:
    text = text.replace("\\\n", "")
    return re.sub(r'\\([\\$`"])', r"\1", text) if "\\" in text else text


def _b64(text: str) -> str | None:
    s = re.sub(r"\s+", "", text)
    if not s or len(s) > 65536:
        return None
    try:
        raw = base64.b64decode(s + "=" * (-len(s) % 4), validate=False)
    except (binascii.Error, ValueError):
        return None
    return raw.decode("utf-8", "replace")


def _hex(text: str) -> str | None:
    s = re.sub(r"\s+", "", text)
    try:
        return bytes.fromhex(s).decode("utf-8", "replace")
    except ValueError:
        return None


class Walker:
    """Walks one command line (and the strings nested in it) into simple commands."""

    def __init__(self, tables: dict[str, Any]):
        self.tables = tables  # wrappers / shells / interpreters from rules.toml
        self.env: dict[str, str] = {}
        self.commands: list[Simple] = []
        self.facts: dict[str, str] = {}
        self.error = False
        self._collect: list[list[Simple]] = []  # stacks of commands found inside substitutions
        self._src = b""
        self._nesting = 0
        self._misparsed = 0  # commands named by a reserved word in the current parse

    # ---------------------------------------------------------------- entry points
    def parse(self, text: str, ctx: _Ctx) -> None:
        if ctx.depth > MAX_DEPTH or len(self.commands) > MAX_COMMANDS:
            self.error = True  # not looked at: say so rather than call it safe
            self.facts.setdefault("too-complex", text[:200])
            return
        src = text.encode("utf-8", "surrogatepass")
        tree = _parser().parse(src)
        saved = self._src
        saved_misparsed = self._misparsed
        self._misparsed = 0
        self._src = src
        root = tree.root_node
        if root.has_error:
            self.error = True
        try:
            self._stmt(root, ctx)
        except _TooDeep:
            if ctx.depth > 0 or self._nesting > 0:
                self._misparsed = saved_misparsed
                raise
            self.error = True
            self.facts.setdefault("too-complex", text[:200])
            self._collect.clear()
        self._src = saved
        misparsed = self._misparsed > 0
        self._misparsed = saved_misparsed
        if root.has_error or misparsed:
            self.error = True
            self.facts.setdefault("unparsed", text[:200])
            uctx = ctx.but(via=ctx.via + ("unparsed",))
            # A stray quote or bracket must not hide a command: read the words again without
            # quotes and judge what they would run.
            dequoted = re.sub(r"[\"'`]", " ", text)
            if dequoted != text:
                tree2 = _parser().parse(dequoted.encode("utf-8", "surrogatepass"))
                self._src = dequoted.encode("utf-8", "surrogatepass")
                saved_misparsed = self._misparsed
                try:
                    self._stmt(tree2.root_node, uctx)
                except _TooDeep:
                    if ctx.depth > 0 or self._nesting > 0:
                        raise
                    self._collect.clear()
                self._misparsed = saved_misparsed
                self._src = saved
            # Whatever tree-sitter made of it, judge the line on its words too.
            if len(text) > MAX_WORDS_TEXT:
                self.facts.setdefault("too-complex", text[:200])
            self._judge_words(text[:MAX_WORDS_TEXT], uctx)

    def _text(self, node: Any) -> str:
        return self._src[node.start_byte:node.end_byte].decode("utf-8", "replace")

    # ---------------------------------------------------------------- lines that do not parse
    def _judge_words(self, text: str, ctx: _Ctx) -> None:
        """Judge a line tree-sitter could not parse on its words: cut it into runs at control
        operators, parentheses and reserved words, and emit each run as a simple command.
        Pipes between runs carry feeds and known output as in a parsed pipeline."""
        tokens, subs = self._lex(text)
        bomb = _fork_bomb(tokens)
        if bomb is not None:
            self.facts.setdefault("fork-bomb", text[bomb[0]:bomb[1]])
        pipeline: list[tuple[list[str], list[tuple[str, str]], str, str | None]] = []
        words: list[str] = []
        redirects: list[tuple[str, str]] = []
        herestring: str | None = None
        start = end = -1
        skip = ""  # "for": skip words up to a separator; "case": up to `in`; "name": one word
        pending_redirect: str | None = None

        def close_run() -> None:
            nonlocal words, redirects, herestring, start, end, skip, pending_redirect
            if words or redirects:
                pipeline.append((words, redirects, text[start:end], herestring))
            words, redirects, herestring = [], [], None
            start = end = -1
            skip = ""
            pending_redirect = None

        def close_pipeline() -> None:
            close_run()
            self._emit_pipeline(pipeline, ctx)
            pipeline.clear()

        for kind, value, a, b in tokens:
            if len(self.commands) > MAX_COMMANDS:
                self.error = True
                self.facts.setdefault("too-complex", text[:200])
                break
            if kind == "op":
                if value in ("|", "|&"):
                    close_run()
                else:
                    close_pipeline()
                continue
            if kind == "redir":
                pending_redirect = value
                if start < 0:
                    start = a
                end = b
                continue
            # a word: (value, plain) where plain means it had no quoting at all
            word, plain = value
            if pending_redirect is not None:
                op = pending_redirect
                pending_redirect = None
                end = b
                if op == "<<<":
                    herestring = word.replace(SPLIT, " ") + "\n"
                elif not op.startswith("<<"):
                    redirects.append((op, word.replace(SPLIT, " ")))
                continue
            if skip == "name":
                skip = ""
                continue
            if skip == "for":
                if plain and word == "do":
                    skip = ""
                continue
            if skip == "case":
                if plain and word == "in":
                    skip = ""
                continue
            if plain and words and word in _SEPARATING_KEYWORDS:
                close_pipeline()  # `while true do rm -rf . done`: do/done end the command
                continue
            if not words:
                if plain and word in KEYWORDS:
                    if word in ("for", "select"):
                        skip = "for"
                    elif word == "case":
                        skip = "case"
                    elif word == "function":
                        skip = "name"
                    continue
                m = re.match(r"^(\w+)\+?=", word)
                if m:  # an assignment before the command name
                    self.env[m.group(1)] = word.split("=", 1)[1].replace(SPLIT, " ")
                    if start < 0:
                        start = a
                    end = b
                    continue
            if start < 0:
                start = a
            end = b
            if SPLIT in word:
                words.extend(w for w in word.split(SPLIT) if w)
            else:
                words.append(word)
        close_pipeline()
        for sub in subs[:20]:
            self.parse(sub, ctx.but(depth=ctx.depth + 1))

    def _emit_pipeline(self, runs: list[tuple[list[str], list[tuple[str, str]], str, str | None]],
                       ctx: _Ctx) -> None:
        feeds = list(ctx.feeds)
        stdin = ctx.stdin_text
        names = [program_name(w[0]) if w else "" for w, _, _, _ in runs]
        for i, (argv, redirects, text, herestring) in enumerate(runs):
            if len(self.commands) > MAX_COMMANDS:
                self.error = True
                self.facts.setdefault("too-complex", text[:200])
                break
            rctx = ctx.but(feeds=feeds, stdin_text=herestring if herestring is not None else stdin,
                           pipes_to=names[i + 1:] + ctx.pipes_to)
            if argv:
                s = self._emit(argv, text, rctx, redirects)
                feeds = feeds + [argv]
                stdin = s.stdout
            else:
                self._emit([":"], text, rctx, redirects, synthetic=True)
                stdin = None

    def _lex(self, text: str) -> tuple[list[tuple[str, Any, int, int]], list[str]]:
        """Tolerant shell tokens: ("word", (value, plain)), ("op", op), ("redir", op), each with
        its span. Quotes are removed and simple variables expanded; an unterminated quote is
        read as a word break. Returns also the ``$(...)``/backtick texts found inside double
        quotes, to be judged on their own."""
        out: list[tuple[str, Any, int, int]] = []
        subs: list[str] = []
        n = len(text)
        i = 0
        buf: list[str] = []
        plain = True
        wstart = -1

        def flush(at: int) -> None:
            nonlocal buf, plain, wstart
            if wstart >= 0:
                out.append(("word", ("".join(buf), plain), wstart, at))
            buf, plain, wstart = [], True, -1

        while i < n:
            c = text[i]
            if c == "\\":
                if i + 1 < n and text[i + 1] == "\n":
                    i += 2
                    continue
                if wstart < 0:
                    wstart = i
                plain = False
                if i + 1 < n:
                    buf.append(text[i + 1])
                i += 2
                continue
            if c in " \t\r":
                flush(i)
                i += 1
                continue
            if c == "#" and wstart < 0:
                j = text.find("\n", i)
                i = n if j < 0 else j
                continue
            m = _LEX_OP.match(text, i)
            if m and (wstart < 0 or m.group("redir") is None or not m.group("fd")):
                flush(i)
                if m.group("redir") is not None:
                    out.append(("redir", m.group("redir"), i, m.end()))
                else:
                    out.append(("op", m.group("op"), i, m.end()))
                i = m.end()
                continue
            if c == "$" and i + 1 < n and text[i + 1] == "(":
                flush(i)
                out.append(("op", "$(", i, i + 2))
                i += 2
                continue
            if wstart < 0:
                wstart = i
            if c == "'":
                j = text.find("'", i + 1)
                if j < 0:  # unterminated: a word break
                    flush(i)
                    i += 1
                    continue
                buf.append(text[i + 1:j])
                plain = False
                i = j + 1
                continue
            if c == "$" and i + 1 < n and text[i + 1] == "'":
                m2 = _LEX_ANSI.match(text, i)
                if m2 is None:
                    flush(i)
                    i += 2
                    continue
                buf.append(_ansi_c(m2.group(1)))
                plain = False
                i = m2.end()
                continue
            if c == '"':
                mq = _DQ_CLOSE.match(text, i + 1)
                close = mq.end() if mq else n
                if close >= n:  # unterminated: a word break (and no `"` closes after it)
                    flush(i)
                    i += 1
                    continue
                body = text[i + 1:close]
                j = 0
                part: list[str] = []
                while j < len(body):
                    d = body[j]
                    if d == "\\" and j + 1 < len(body):
                        if body[j + 1] in '\\$`"':
                            part.append(body[j + 1])
                        elif body[j + 1] != "\n":
                            part.append(body[j:j + 2])
                        j += 2
                        continue
                    if d == "`" or body.startswith("$(", j):
                        k = _balanced_end(body, j)
                        if len(subs) < 20:
                            subs.append(body[j + 1:k - 1] if d == "`" else body[j + 2:k - 1])
                        part.append(body[j:k])
                        j = k
                        continue
                    if d == "$":
                        mv = _LEX_VAR.match(body, j)
                        if mv:
                            part.append(self._var(mv.group(1) or mv.group(2), True))
                            j = mv.end()
                            continue
                    part.append(d)
                    j += 1
                buf.append("".join(part))
                plain = False
                i = close + 1
                continue
            if c == "$":
                mv = _LEX_VAR.match(text, i)
                if mv:
                    buf.append(self._var(mv.group(1) or mv.group(2), False))
                    plain = False
                    i = mv.end()
                    continue
            buf.append(c)
            i += 1
        flush(n)
        return out, subs

    # ---------------------------------------------------------------- statements
    def _stmt(self, node: Any, ctx: _Ctx) -> list[Simple]:
        """Walk a statement; return the commands emitted for it (used as pipeline feeds)."""
        self._nesting += 1
        try:
            if self._nesting > MAX_NESTING:
                raise _TooDeep
            return self._stmt_inner(node, ctx)
        finally:
            self._nesting -= 1

    def _stmt_inner(self, node: Any, ctx: _Ctx) -> list[Simple]:
        start = len(self.commands)
        t = node.type
        if len(self.commands) > MAX_COMMANDS:
            self.error = True
            self.facts.setdefault("too-complex", self._text(node)[:200])
            return []
        if t == "command":
            self._command(node, ctx, [])
        elif t == "redirected_statement":
            self._redirected(node, ctx)
        elif t == "pipeline":
            self._pipeline(node, ctx)
        elif t == "variable_assignment":
            self._assignment(node, ctx, "export")
        elif t == "declaration_command":
            kw = node.children[0].type if node.children else "declare"
            words = [kw]
            for c in node.named_children:
                if c.type == "variable_assignment":
                    words.append(self._assign(c, ctx))
                else:
                    words.extend(self._words(c, ctx))
            self._emit(words, self._text(node), ctx, [], synthetic=True)
        elif t == "unset_command":
            words = ["unset"]
            for c in node.named_children:
                words.extend(self._words(c, ctx))
            self._emit(words, self._text(node), ctx, [])
        elif t == "function_definition":
            self._function(node, ctx)
        elif t == "for_statement":
            var = node.child_by_field_name("variable")
            values = [self._resolve(v, ctx) for v in node.children_by_field_name("value")]
            if var is not None:
                self.env[self._text(var)] = " ".join(values) if values else "$@"
            body = node.child_by_field_name("body")
            if body is not None:
                self._stmt(body, ctx)
        elif t == "comment" or t == "heredoc_body":
            pass
        elif t in ("command_substitution", "process_substitution"):
            for c in node.named_children:
                self._stmt(c, ctx)
        elif t in ("word", "string", "raw_string", "concatenation", "simple_expansion",
                   "expansion", "ansi_c_string", "number", "test_operator"):
            self._resolve(node, ctx)  # only for substitutions hidden inside
        else:
            for c in node.named_children:
                self._stmt(c, ctx)
        return self.commands[start:]

    def _assign(self, node: Any, ctx: _Ctx) -> str:
        name_node = node.child_by_field_name("name")
        value_node = node.child_by_field_name("value")
        name = self._text(name_node) if name_node is not None else "?"
        value = self._resolve(value_node, ctx, quoted=True) if value_node is not None else ""
        self.env[name] = value
        return f"{name}={value}"

    def _assignment(self, node: Any, ctx: _Ctx, kw: str) -> None:
        word = self._assign(node, ctx)
        self._emit([kw, word], self._text(node), ctx, [], synthetic=True)

    def _function(self, node: Any, ctx: _Ctx) -> None:
        name_node = node.child_by_field_name("name")
        body = node.child_by_field_name("body")
        if name_node is None or body is None:
            return
        name = self._text(name_node)
        # A function that calls itself in a pipeline or in the background is a fork bomb.
        stack = [body]
        calls_self_async = False
        while stack:
            n = stack.pop()
            if n.type == "command":
                cn = n.child_by_field_name("name")
                if cn is not None and self._text(cn) == name:
                    p = n.parent
                    nxt = n.next_sibling
                    if (p is not None and p.type == "pipeline") or (nxt is not None and nxt.type == "&"):
                        calls_self_async = True
            stack.extend(n.children)
        if calls_self_async:
            self.facts.setdefault("fork-bomb", self._text(node))
        self._stmt(body, ctx)

    def _pipeline(self, node: Any, ctx: _Ctx) -> None:
        stages = [c for c in node.named_children if c.type != "comment"]
        names = [self._stage_program(s) for s in stages]
        feeds = list(ctx.feeds)
        stdin = ctx.stdin_text
        for i, stage in enumerate(stages):
            emitted = self._stmt(stage, ctx.but(feeds=feeds, stdin_text=stdin,
                                                pipes_to=names[i + 1:] + ctx.pipes_to))
            feeds = feeds + [s.argv for s in emitted if not s.synthetic]
            last = [s for s in emitted if s.via == ctx.via and not s.synthetic]
            stdin = last[-1].stdout if last else None

    def _stage_program(self, node: Any) -> str:
        n = node
        while n.type == "redirected_statement" and n.named_children:
            n = n.named_children[0]
        if n.type == "command":
            cn = n.child_by_field_name("name")
            if cn is not None:
                return program_name(_unescape_word(re.sub(r"[\"']", "", self._text(cn))))
        return ""

    def _redirected(self, node: Any, ctx: _Ctx) -> None:
        body = node.child_by_field_name("body")
        redirects: list[tuple[str, str]] = []
        extra: list[str] = []
        stdin = ctx.stdin_text
        psub_feeds: list[list[str]] = []
        for c in node.named_children:
            if c is body:
                continue
            stdin, psub = self._redirect(c, ctx, redirects, extra, stdin)
            psub_feeds += psub
        rctx = ctx.but(stdin_text=stdin, feeds=ctx.feeds + psub_feeds)
        if body is None:
            self._emit([":"], self._text(node), rctx, redirects, synthetic=True)
        elif body.type == "command":
            self._command(body, rctx, redirects, extra)
        else:
            self._stmt(body, rctx)
            if redirects:
                self._emit([":"], self._text(node), rctx, redirects, synthetic=True)

    def _redirect(self, node: Any, ctx: _Ctx, redirects: list[tuple[str, str]], extra: list[str],
                  stdin: str | None) -> tuple[str | None, list[list[str]]]:
        t = node.type
        psub: list[list[str]] = []
        if t == "file_redirect":
            op = ""
            dest_done = False
            for c in node.children:
                if not c.is_named:
                    op += c.type
                    continue
                if c.type == "file_descriptor":
                    continue
                if c.type == "ERROR":  # `<>` is not in the grammar: keep it as the operator
                    op += self._text(c)
                    continue
                if not dest_done:
                    self._collect.append([])
                    target = self._resolve(c, ctx, quoted=True)
                    found = self._collect.pop()
                    if self._collect:
                        self._collect[-1].extend(found)
                    psub = [s.argv for s in found]
                    dest_done = True
                    if c.type == "number" and ">&" in op or op in ("<&", ">&-"):
                        continue  # fd duplication
                    redirects.append((op, target))
                    if op == "<" and c.type == "process_substitution":
                        stdin = None
                else:
                    extra.extend(self._words(c, ctx))
        elif t == "herestring_redirect":
            for c in node.named_children:
                stdin = self._resolve(c, ctx, quoted=True).replace(SPLIT, " ") + "\n"
        elif t == "heredoc_redirect":
            for c in node.named_children:
                if c.type == "heredoc_body":
                    stdin = self._text(c)
                elif c.type == "file_redirect":
                    stdin2, p = self._redirect(c, ctx, redirects, extra, stdin)
                    psub += p
                elif c.type not in ("heredoc_start", "heredoc_end"):
                    self._stmt(c, ctx)
            if stdin is None:
                stdin = ""
        else:
            self._stmt(node, ctx)
        return stdin, psub

    def _command(self, node: Any, ctx: _Ctx, redirects: list[tuple[str, str]],
                 extra: list[str] | None = None) -> None:
        saved_env = None
        argv: list[str] = []
        self._collect.append([])
        redirects = list(redirects)
        stdin = ctx.stdin_text
        name_node = node.child_by_field_name("name")
        if name_node is not None and self._text(name_node) in _NOT_COMMAND_NAMES:
            self._misparsed += 1  # `then rm -rf ~` is not a command named "then"
        for c in node.named_children:
            if c.type == "variable_assignment":
                if saved_env is None:
                    saved_env = dict(self.env)
                self._assign(c, ctx)
            elif c.type in ("file_redirect", "herestring_redirect", "heredoc_redirect"):
                ex: list[str] = []
                stdin, _ = self._redirect(c, ctx, redirects, ex, stdin)
                argv.extend(ex)
            elif c.type == "comment":
                continue
            else:
                words = self._words(c, ctx)
                prev = c.prev_sibling
                if (argv and words and prev is not None and prev.end_byte == c.start_byte
                        and argv[-1].endswith("$")):
                    # the grammar splits `-rf$IFS/` after a bare `$`: glue it back and expand
                    m = re.match(r"\w+", words[0])
                    if m:
                        value = self._var(m.group(), False)
                        glued = argv[-1][:-1] + value + words[0][m.end():]
                        argv[-1:] = [w for w in glued.split(SPLIT) if w]
                        argv.extend(words[1:])
                        continue
                argv.extend(words)
        inner = self._collect.pop()
        if self._collect:
            self._collect[-1].extend(inner)
        if extra:
            argv.extend(extra)
        arg_feeds = [s.argv for s in inner if not s.synthetic]
        if not argv:
            if saved_env is not None or redirects:
                text = self._text(node)
                words = [w for w in re.split(r"\s+", text) if "=" in w][:8]
                self._emit(["export", *words], text, ctx.but(stdin_text=stdin), redirects,
                           synthetic=True)
            return
        self._emit(argv, self._text(node), ctx.but(stdin_text=stdin), redirects,
                   arg_feeds=arg_feeds)
        if saved_env is not None:
            # `VAR=x cmd` sets VAR for cmd only; keep it anyway (a later `$VAR` on the same
            # line is more likely an evasion than a coincidence).
            pass

    # ---------------------------------------------------------------- words
    def _words(self, node: Any, ctx: _Ctx) -> list[str]:
        value = self._resolve(node, ctx)
        if SPLIT in value:
            return [w for w in value.split(SPLIT) if w]
        return [value]

    def _resolve(self, node: Any, ctx: _Ctx, quoted: bool = False) -> str:
        self._nesting += 1
        try:
            if self._nesting > MAX_NESTING:
                raise _TooDeep
            return self._resolve_inner(node, ctx, quoted)
        finally:
            self._nesting -= 1

    def _resolve_inner(self, node: Any, ctx: _Ctx, quoted: bool = False) -> str:
        t = node.type
        if t in ("word", "test_operator", "number", "_special_character", "variable_name",
                 "regex", "extglob_pattern"):
            return _unescape_word(self._text(node))
        if t == "raw_string":
            return self._text(node)[1:-1]
        if t == "ansi_c_string":
            return _ansi_c(self._text(node)[2:-1])
        if t in ("string", "translated_string"):
            parts = []
            for c in node.named_children:
                if c.type == "string_content":
                    parts.append(_unescape_dq(self._text(c)))
                else:
                    parts.append(self._resolve(c, ctx, quoted=True))
            if not node.named_children:
                inner = self._text(node)
                inner = inner[2:-1] if inner.startswith("$") else inner[1:-1]
                return _unescape_dq(inner)
            return "".join(parts)
        if t == "concatenation":
            return "".join(self._resolve(c, ctx, quoted) for c in node.children)
        if t == "simple_expansion":
            name = self._text(node)[1:]
            return self._var(name, quoted)
        if t == "expansion":
            return self._expansion(node, ctx, quoted)
        if t in ("command_substitution", "process_substitution"):
            self._collect.append([])
            outs: list[str | None] = []
            for c in node.named_children:
                if c.type == "comment":
                    continue
                em = self._stmt(c, ctx.but(feeds=[], pipes_to=[], stdin_text=None))
                top = [s for s in em if s.via == ctx.via and not s.synthetic]
                outs.append(top[-1].stdout if top else None)
            found = self._collect.pop()
            if self._collect:
                self._collect[-1].extend(found)
            if t == "process_substitution":
                return "/dev/fd/63"
            if outs and all(o is not None for o in outs):
                out = "".join(o or "" for o in outs).strip("\n")
                return out if quoted else re.sub(r"\s+", SPLIT, out)
            return self._text(node)
        if t == "command_name":
            return "".join(self._resolve(c, ctx, quoted) for c in node.children)
        if t == "arithmetic_expansion":
            return self._text(node)
        if t == "brace_expression":
            return self._text(node)
        if t == "comment":
            return ""
        # anything else: walk it for substitutions, keep its text
        for c in node.named_children:
            if c.type in ("command_substitution", "process_substitution"):
                self._resolve(c, ctx)
        return self._text(node)

    def _var(self, name: str, quoted: bool) -> str:
        if name in ("IFS",):
            return " " if quoted else SPLIT
        if name == "HOME":
            return "~"
        if name in self.env:
            v = self.env[name]
            return v if quoted else re.sub(r"[ \t\n]+", SPLIT, v)
        return "$" + name

    def _expansion(self, node: Any, ctx: _Ctx, quoted: bool) -> str:
        kids = node.named_children
        name = None
        for c in kids:
            if c.type == "variable_name":
                name = self._text(c)
                break
        text = self._text(node)
        if name is None:
            for c in kids:
                self._resolve(c, ctx)
            return text
        m = re.fullmatch(r"\$\{(\w+)(:?[-=])(.*)\}", text, re.S)
        if m:
            if name in self.env and (self.env[name] or m.group(2) == "-"):
                return self._var(name, quoted)
            if name in ("HOME", "IFS"):
                return self._var(name, quoted)
            default = "".join(self._resolve(c, ctx, quoted) for c in kids if c.type != "variable_name")
            return default
        if re.fullmatch(r"\$\{\w+\}", text):
            return self._var(name, quoted)
        for c in kids:
            if c.type != "variable_name":
                self._resolve(c, ctx)
        return text

    # ---------------------------------------------------------------- emitting
    def _emit(self, argv: list[str], text: str, ctx: _Ctx, redirects: list[tuple[str, str]],
              arg_feeds: list[list[str]] | None = None, synthetic: bool = False,
              input_args: bool = False) -> Simple:
        s = Simple(argv=argv, text=text, redirects=redirects,
                   feeds=list(ctx.feeds) + list(arg_feeds or []), pipes_to=list(ctx.pipes_to),
                   stdin_text=ctx.stdin_text, sudo=ctx.sudo, via=ctx.via, synthetic=synthetic,
                   input_args=input_args)
        self.commands.append(s)
        if self._collect:
            self._collect[-1].append(s)
        if synthetic or not argv:
            return s
        self._static_output(s)
        self._expand_sinks(s, ctx, arg_feeds or [])
        return s

    def _static_output(self, s: Simple) -> None:
        prog, args = s.program, s.argv[1:]
        if prog == "echo":
            flags = set()
            while args and re.fullmatch(r"-[neE]+", args[0]):
                flags |= set(args[0][1:])
                args = args[1:]
            out = " ".join(args)
            if "e" in flags:
                out = _ansi_c(out)
            s.stdout = out + ("" if "n" in flags else "\n")
        elif prog == "printf" and args:
            fmt = _ansi_c(args[0])
            rest = args[1:]
            try:
                s.stdout = re.sub(r"%[-#0 +]*\d*(?:\.\d+)?[sdbqc]",
                                  lambda m: rest.pop(0) if rest else "", fmt).replace("%%", "%")
            except Exception:  # noqa: BLE001 - best effort
                s.stdout = fmt
        elif prog in ("base64", "openssl") and s.stdin_text is not None:
            if prog == "base64" and any(a in ("-d", "--decode", "-D") or
                                        re.fullmatch(r"-[a-zA-Z]*d[a-zA-Z]*", a) for a in args):
                s.stdout = _b64(s.stdin_text)
            elif prog == "openssl" and "-d" in args and any(a in ("-base64", "-a", "base64") for a in args):
                s.stdout = _b64(s.stdin_text)
        elif prog == "xxd" and s.stdin_text is not None and any("r" in a for a in args if a.startswith("-")):
            s.stdout = _hex(s.stdin_text)
        elif prog == "rev" and s.stdin_text is not None and not args:
            s.stdout = "\n".join(line[::-1] for line in s.stdin_text.split("\n"))
        elif prog == "cat" and s.stdin_text is not None and not args:
            s.stdout = s.stdin_text
        elif prog == "tr" and s.stdin_text is not None and len(args) == 2 and \
                args[0] in ("a-zA-Z", "A-Za-z") and args[1] in ("n-za-mN-ZA-M", "N-ZA-Mn-za-m"):
            s.stdout = codecs.encode(s.stdin_text, "rot13")

    def _expand_sinks(self, s: Simple, ctx: _Ctx, arg_feeds: list[list[str]]) -> None:
        prog = s.program
        args = s.argv[1:]
        t = self.tables
        inner_ctx = ctx.but(depth=ctx.depth + 1, via=ctx.via + (prog,), feeds=s.feeds)
        wrappers = t.get("wrappers", {})
        if prog in wrappers:
            inner = _unwrap(args, wrappers[prog])
            if prog in ("sudo", "doas", "pkexec", "run0"):
                inner_ctx = inner_ctx.but(sudo=True)
            if prog == "env":
                while inner and re.match(r"^\w+=", inner[0]):
                    k, _, v = inner[0].partition("=")
                    self.env[k] = v
                    inner = inner[1:]
            mode = wrappers[prog].get("mode", "argv")
            if inner and mode == "string":
                self.parse(" ".join(inner), inner_ctx)
            elif inner and prog == "xargs":
                self._xargs(s, inner, inner_ctx, arg_feeds)
            elif inner:
                self._emit(inner, s.text, inner_ctx.but(stdin_text=s.stdin_text), [],
                           arg_feeds=arg_feeds, input_args=s.input_args)
            return
        if prog == "find":
            self._find_exec(s, inner_ctx, arg_feeds)
            return
        if prog == "alias":
            # the body runs later, whenever the alias is typed: judge it now
            for a in args:
                name, eq, body = a.partition("=")
                if eq and body:
                    self.parse(body, inner_ctx)
            return
        sink = t.get("sinks", {}).get(prog)
        if sink is None:
            if prog.startswith("python") and re.fullmatch(r"python[\d.]*", prog):
                sink = t.get("sinks", {}).get("python")
            else:
                return
        kind = sink.get("kind", "shell")
        code, reads_stdin, script_pos = _sink_code(args, sink)
        exec_from = set()
        if kind in ("eval", "source"):
            exec_from |= {program_name(a[0]) for a in arg_feeds if a}
            if kind == "eval" and args:
                self.parse(" ".join(args), inner_ctx)
            if kind == "source" and not args and s.stdin_text:
                self.parse(s.stdin_text, inner_ctx)
        else:
            if code is not None or script_pos is not None:
                exec_from |= {program_name(a[0]) for a in arg_feeds if a}
            if reads_stdin:
                exec_from |= {program_name(a[0]) for a in ctx.feeds if a}
                if s.stdin_text is not None and kind == "shell":
                    self.parse(s.stdin_text, inner_ctx.but(stdin_text=None, feeds=[]))
            if code is not None:
                if kind == "shell":
                    # sh -c CODE name arg1 arg2: $0, $1 ... are the words after the code
                    k = len(args) - 1 - args[::-1].index(code) if code in args else len(args)
                    for n, value in enumerate(args[k + 1:k + 10]):
                        self.env[str(n)] = value
                    if args[k + 2:]:
                        self.env["@"] = " ".join(args[k + 2:])
                    self.parse(code, inner_ctx.but(stdin_text=None))
                else:
                    for inner_cmd in _shell_strings_in_code(code):
                        self.parse(inner_cmd, inner_ctx.but(stdin_text=None))
        s.exec_feeds = exec_from

    def _xargs(self, s: Simple, inner: list[str], ctx: _Ctx, arg_feeds: list[list[str]]) -> None:
        """xargs runs ``inner`` with words read from its input added (or put in place of the
        -I string). Where that input cannot be known here (a pipe from ls or cat, a file), the
        command is emitted with ``input_args`` set: its real targets are unknown."""
        opts = s.argv[1:len(s.argv) - len(inner)]
        replace = None
        from_file = False
        i = 0
        while i < len(opts):
            a = opts[i]
            if a in ("-I", "--replace") and i + 1 < len(opts):
                replace = opts[i + 1]
                i += 1
            elif a.startswith("-I") and len(a) > 2:
                replace = a[2:]
            elif a.startswith("--replace="):
                replace = a.split("=", 1)[1] or "{}"
            elif a == "-i" or a.startswith("-i") and not a.startswith("-i-"):
                replace = a[2:] or "{}"
            elif a in ("-a", "--arg-file") or a.startswith("--arg-file=") or \
                    (a.startswith("-a") and len(a) > 2):
                from_file = True
            i += 1
        items = None if from_file else self._xargs_items(s)
        ictx = ctx.but(stdin_text=None)
        if items is None:
            self._emit(list(inner), s.text, ictx, [], arg_feeds=arg_feeds, input_args=True)
            return
        if replace and any(replace in w for w in inner):
            argv: list[str] = []
            for w in inner:
                if replace in w and items:
                    argv.extend(w.replace(replace, item) for item in items)
                else:
                    argv.append(w)
        else:
            argv = inner + items
        self._emit(argv, s.text, ictx, [], arg_feeds=arg_feeds)

    def _xargs_items(self, s: Simple) -> list[str] | None:
        """The words xargs would read, as far as they are known; None when they are not."""
        if s.stdin_text is not None:
            return s.stdin_text.split()[:50]
        for k, argv in enumerate(reversed(s.feeds)):
            if argv and program_name(argv[0]) == "find":
                roots, filtered = _find_roots(argv[1:])
                filtered = filtered or k > 0  # a grep/head between find and xargs filters too
                return [r if not filtered else r.rstrip("/") + "/{}" for r in roots]
        return None

    def _find_exec(self, s: Simple, ctx: _Ctx, arg_feeds: list[list[str]]) -> None:
        args = s.argv[1:]
        roots, filtered = _find_roots(args)
        placeholder = [r if not filtered else r.rstrip("/") + "/{}" for r in roots] or ["{}"]
        i = 0
        while i < len(args):
            if args[i] in ("-exec", "-execdir", "-ok", "-okdir"):
                j = i + 1
                inner: list[str] = []
                while j < len(args) and args[j] not in (";", "+", "\\;"):
                    if args[j] == "{}":
                        inner.extend(placeholder)
                    else:
                        inner.append(args[j].replace("{}", placeholder[0]))
                    j += 1
                if inner:
                    self._emit(inner, s.text, ctx, [], arg_feeds=arg_feeds)
                i = j
            i += 1


_LEX_OP = re.compile(
    r"(?P<redir>(?P<fd>\d{1,2})?(?:<<<|<<-|<<|<>|>>|>\||>&|<&|&>>|&>|>|<)(?![(]))"
    r"|(?P<op>;;&|;;|;&|&&|\|\||\|&|\(\(|\)\)|<\(|>\(|[;&|()\n`])")
_DQ_CLOSE = re.compile(r'(?:[^"\\]|\\.)*', re.DOTALL)  # a double-quoted body, up to its `"`
_LEX_ANSI = re.compile(r"\$'((?:[^'\\]|\\.)*)'", re.DOTALL)
_LEX_VAR = re.compile(r"\$(?:\{(\w+)\}|(\w+|[@*#?$!0-9]))")


def _fork_bomb(tokens: list[tuple[str, Any, int, int]]) -> tuple[int, int] | None:
    """Span of `name() { ... name | name & ... }` (or `function name { ... }`) among tokens of a
    line that does not parse: a function that runs itself in a pipeline or in the background."""
    n = len(tokens)
    for i, (kind, value, a, _) in enumerate(tokens):
        if kind != "word":
            continue
        name = value[0]
        j = i + 1
        if name == "function" and value[1] and j < n and tokens[j][0] == "word":
            name = tokens[j][1][0]
            j += 1
        if j + 1 < n and tokens[j][1] == "(" and tokens[j + 1][1] == ")":
            j += 2
        elif j == i + 1:
            continue
        if not (j < n and tokens[j][0] == "word" and tokens[j][1] == ("{", True)):
            continue
        k = j + 1
        while k < n and not (tokens[k][0] == "word" and tokens[k][1] == ("}", True)):
            t = tokens[k]
            if t[0] == "word" and t[1][0] == name:
                before = tokens[k - 1][1] if tokens[k - 1][0] == "op" else ""
                after = tokens[k + 1][1] if k + 1 < n and tokens[k + 1][0] == "op" else ""
                if before in ("|", "|&") or after in ("|", "|&", "&"):
                    while k < n - 1 and tokens[k][1] != ("}", True):
                        k += 1
                    return a, tokens[k][3]
            k += 1
    return None


def _balanced_end(text: str, j: int) -> int:
    """End (exclusive) of the `...` or $(...) that starts at ``j``; the end of the text when it
    is not closed."""
    if text[j] == "`":
        k = text.find("`", j + 1)
        return len(text) if k < 0 else k + 1
    depth = 0
    k = j + 1
    while k < len(text):
        ch = text[k]
        if ch == "\\":
            k += 2
            continue
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return k + 1
        k += 1
    return len(text)


_FIND_ACTIONS = {"-delete", "-print", "-print0", "-exec", "-execdir", "-ok", "-okdir", "-depth",
                 "-maxdepth", "-mindepth", "-xdev", "-mount", "-follow", "-ls", "-fls", "-prune",
                 "-quit", "-noleaf", "-d", "-ignore_readdir_race", "-daystart", "-printf",
                 "-fprint", "-fprint0", "-fprintf", "-H", "-L", "-P", "-O0", "-O1", "-O2", "-O3"}


def _find_roots(args: list[str]) -> tuple[list[str], bool]:
    """Starting points of find, and whether any test narrows what it acts on."""
    roots = []
    i = 0
    while i < len(args) and args[i] in ("-H", "-L", "-P"):
        i += 1
    while i < len(args) and not args[i].startswith("-") and args[i] not in ("(", "!", "\\(", "\\!"):
        roots.append(args[i])
        i += 1
    filtered = False
    rest = args[i:]
    j = 0
    while j < len(rest):
        a = rest[j]
        if a in ("-exec", "-execdir", "-ok", "-okdir"):
            while j < len(rest) and rest[j] not in (";", "+", "\\;"):
                j += 1
        elif a in ("-maxdepth", "-mindepth"):
            if a == "-maxdepth" and j + 1 < len(rest) and rest[j + 1] == "0":
                pass
            j += 1
        elif a.startswith("-") and a not in _FIND_ACTIONS:
            filtered = True
        j += 1
    return roots or ["."], filtered


def _unwrap(args: list[str], spec: dict[str, Any]) -> list[str]:
    """Skip a wrapper's own options (and fixed positionals); return the wrapped argv."""
    value_opts = set(spec.get("value_options", []))
    skip_pos = int(spec.get("skip_positionals", 0))
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--":
            i += 1
            break
        if a.startswith("-") and len(a) > 1:
            if a in value_opts:
                i += 2
                continue
            if a.startswith("--") or "=" in a:
                i += 1
                continue
            # a short cluster ending in a value option: -u root -> skip the value too
            if any(("-" + ch) in value_opts for ch in a[-1:]) and len(a) == 2:
                i += 2
                continue
            i += 1
            continue
        if spec.get("skip_assignments") and re.match(r"^\w+=", a):
            break
        if skip_pos:
            skip_pos -= 1
            i += 1
            continue
        break
    return args[i:]


def _sink_code(args: list[str], sink: dict[str, Any]) -> tuple[str | None, bool, int | None]:
    """(inline code, reads its script from stdin, index of a script-file argument)."""
    code_flags = set(sink.get("code_flags", []))
    code_long = set(sink.get("code_long", []))
    stop = set(sink.get("module_flags", []))
    stdin_flags = set(sink.get("stdin_flags", []))
    value_opts = set(sink.get("value_options", []))
    value_flags = set(sink.get("value_flags", []))
    shell = sink.get("kind") == "shell"
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--":
            i += 1
            break
        if a == "-":
            return None, True, None
        if a.startswith("--"):
            name, eq, val = a[2:].partition("=")
            if name in stop:
                return None, False, None
            if name in code_long:
                return (val if eq else (args[i + 1] if i + 1 < len(args) else "")), False, None
            if a in value_opts and not eq:
                i += 1
            i += 1
            continue
        if a[0] in "-+" and len(a) > 1:
            if a in value_opts:
                i += 2
                continue
            letters = a[1:]
            for k, ch in enumerate(letters):
                if ch in stop:
                    return None, False, None
                if ch in stdin_flags:
                    return None, True, None
                if ch in code_flags:
                    rest = letters[k + 1:]
                    if rest and not shell:
                        return rest, False, None
                    j = i + 1
                    if j < len(args) and args[j] == "--":
                        j += 1
                    return (args[j] if j < len(args) else ""), False, None
                if ch in value_flags:
                    if k == len(letters) - 1:
                        i += 1
                    break
            i += 1
            continue
        break
    if sink.get("code_positional"):
        return (args[i] if i < len(args) else None), False, None
    if i >= len(args):
        return None, True, None
    return None, False, i


_CODE_CALL = re.compile(
    r"""(?:os\.system|os\.popen|subprocess\.\w{1,20}|commands\.getoutput|system|exec|spawn|"""
    r"""popen|IO\.popen|Kernel\.system|shell_exec|passthru|execSync|child_process\.exec\w{0,4})"""
    r"""\s{0,3}\(?\s{0,3}(?P<q>['"`])(?P<cmd>[^'"`]{1,2000})(?P=q)""")
_CODE_LIST = re.compile(
    r"""(?:subprocess\.\w{1,20}|os\.exec\w{1,3}|spawn\w{0,4})\s{0,3}\(\s{0,3}\[(?P<items>[^\]]{1,2000})\]""")
_CODE_BACKTICK = re.compile(r"`(?P<cmd>[^`]{1,2000})`")


def _shell_strings_in_code(code: str) -> list[str]:
    """Shell command strings an interpreter one-liner hands to system(), subprocess, backticks."""
    out = [m.group("cmd") for m in _CODE_CALL.finditer(code[:20000])]
    for m in _CODE_LIST.finditer(code[:20000]):
        items = re.findall(r"""['"]([^'"]{0,500})['"]""", m.group("items"))
        if items:
            out.append(" ".join(items))
    out += [m.group("cmd") for m in _CODE_BACKTICK.finditer(code[:20000])]
    return out[:20]


def parse(command: str, tables: dict[str, Any]) -> Parsed:
    w = Walker(tables)
    w.parse(command, _Ctx())
    return Parsed(commands=w.commands, facts=w.facts, error=w.error)
