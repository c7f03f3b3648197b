"""`cmdai history ...` and `cmdai search`: thin wrappers over the store."""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

import click

from cmdai.errors import UsageError


def _open():
    from cmdai import paths
    from cmdai.history.spool import open_history

    store, report = open_history()
    if report.bad:
        click.echo(
            f"cmdai: {len(report.bad)} recorded line(s) could not be read; they are kept in "
            f"{paths.quarantine_file()}",
            err=True,
        )
        for row in report.bad[:5]:
            click.echo(f"  {row}", err=True)
    return store, report


def _filters(cwd: str | None, session: str | None, exit_: int | None):
    from cmdai.history.store import Filters

    return Filters(
        cwd=os.path.abspath(cwd) if cwd else None, session=session, exit=exit_,
    )


def _age(ts_ns: int) -> str:
    seconds = max(0, time.time() - ts_ns / 1e9)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit} ago"
    return f"{int(seconds)}s ago"


def _print(entries, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps([e.to_json() for e in entries], ensure_ascii=False))
        return
    for e in entries:
        status = "   " if e.exit is None else f"{e.exit:>3}"
        dur = "" if e.duration_ms is None else f"{e.duration_ms / 1000:.1f}s"
        click.echo(f"{e.id:>7}  {_age(e.timestamp):>9}  {status}  {dur:>7}  {e.command}")


filter_options = [
    click.option("--cwd", metavar="DIR", help="Only commands run in DIR."),
    click.option("--session", metavar="ID", help="Only commands of this shell session."),
    click.option("--exit", "exit_", type=int, metavar="N", help="Only commands that exited with N."),
]


def with_filters(fn):
    for option in reversed(filter_options):
        fn = option(fn)
    return fn


@click.group()
def history() -> None:
    """Read, search and edit the recorded history."""


@history.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON array of entries.")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@with_filters
def list_(as_json: bool, limit: int, cwd: str | None, session: str | None, exit_: int | None) -> None:
    """The most recent commands, oldest first."""
    store, _ = _open()
    entries = store.list(limit, _filters(cwd, session, exit_))
    _print(list(reversed(entries)), as_json)


@history.command()
@click.argument("ids", nargs=-1, type=int)
@click.option("--match", "match", metavar="TEXT", help="Delete every command containing TEXT.")
@click.option("--yes", is_flag=True, help="Do not ask before deleting by --match.")
def delete(ids: tuple[int, ...], match: str | None, yes: bool) -> None:
    """Delete entries by ID, or every entry containing --match TEXT.

    The command text is wiped at once; importing the same history again does not bring it back.
    """
    if not ids and not match:
        raise UsageError("nothing to delete", "give entry IDs (see `cmdai history list`) or --match TEXT")
    store, _ = _open()
    targets = list(ids)
    if match:
        found = store.search_fulltext(match, limit=1_000_000)
        found = [e for e in found if match.lower() in e.command.lower()]
        if found and not yes:
            for e in found[:10]:
                click.echo(f"{e.id:>7}  {e.command}", err=True)
            if len(found) > 10:
                click.echo(f"  ... and {len(found) - 10} more", err=True)
            if not click.confirm(f"Delete {len(found)} entries?", err=True):
                raise click.Abort()
        targets += [e.id for e in found]
    n = store.delete(targets)
    click.echo(f"deleted {n} entr{'y' if n == 1 else 'ies'}", err=True)


from cmdai.cli.privacy import prune  # noqa: E402 - `cmdai history prune`

history.add_command(prune)


@history.command()
def ingest() -> None:
    """Move what the shells recorded into the database now (every reading command does this)."""
    _, report = _open()
    click.echo(
        f"ingested {report.inserted} new entries from {report.files} spool file(s)"
        f"{f', {len(report.bad)} bad line(s)' if report.bad else ''}"
        f"{f', {report.redacted} with secrets redacted' if report.redacted else ''}"
        f"{f', {report.filtered} left out by filters' if report.filtered else ''}",
        err=True,
    )


def _search_by_daemon(text: str, mode: str, limit: int, filters: Any,
                      context: Any) -> tuple[list[Any], str | None] | None:
    """The daemon's ranking when it runs (its embedding model and vectors are loaded: ~0.1 s
    instead of ~1.5 s), else None: the caller searches in-process, with the same code."""
    from dataclasses import asdict

    from cmdai.daemon import protocol
    from cmdai.daemon.protocol import request
    from cmdai.semantic.search import Hit

    if not protocol.socket_path().exists():
        return None
    try:
        replies = request({"op": "search", "text": text, "mode": mode, "limit": limit,
                           "filters": asdict(filters), "cwd": context.cwd or "",
                           "session": context.session or ""}, timeout=30)
    except (OSError, ValueError):
        return None
    reply = replies[-1] if replies else {}
    if reply.get("type") != "hits":
        return None
    return [Hit.from_wire(h) for h in reply["hits"]], reply.get("semantic_error")


@click.command()
@click.argument("query", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="One JSON array of entries (with count, score).")
@click.option("--mode", type=click.Choice(["prefix", "fulltext", "fuzzy", "semantic", "hybrid"]),
              default=None, help="Default: search.mode in the config (hybrid).")
@click.option("--limit", type=click.IntRange(min=1), default=None)
@with_filters
@click.option("--workspace", is_flag=True, help="Only commands run in this git workspace.")
@click.option("--host", "host", metavar="NAME", help="Only commands run on host NAME.")
@click.option("-i", "--interactive", is_flag=True,
              help="Open the picker on the terminal; print the chosen command on stdout.")
@click.option("--query", "seed", metavar="TEXT", default=None,
              help="With --interactive: start with TEXT in the search field.")
@click.option("--widget", is_flag=True, hidden=True,
              help="For the shell widgets: print the action (insert|run|edit) on the first line.")
def search(query: tuple[str, ...], as_json: bool, mode: str | None, limit: int | None,
           cwd: str | None, session: str | None, exit_: int | None, workspace: bool,
           host: str | None, interactive: bool, seed: str | None, widget: bool) -> None:
    """Search the history: one row per command (duplicates folded, with a count), best first.

    \b
    prefix    the command starts with QUERY
    fulltext  every word of QUERY as a substring, ranked by BM25 and context
    fuzzy     QUERY's letters in order (fzf-like)
    semantic  by meaning ("clean up docker volumes" finds `docker volume prune`)
    hybrid    all of the above blended with recency, frequency, this directory, git workspace,
              session and success (the default)
    """
    from cmdai import config
    from cmdai.semantic.search import Context, HardFilters, Searcher, git_workspace

    cfg = config.load()
    mode = mode or cfg.search.mode
    limit = limit or cfg.search.limit
    store, _ = _open()
    context = Context.current()
    base = _filters(cwd, session, exit_)
    filters = HardFilters(cwd=base.cwd, session=base.session, exit=base.exit, hostname=host,
                          workspace=(git_workspace(context.cwd) or context.cwd) if workspace else None)
    if interactive:
        from cmdai.errors import ExitCode
        from cmdai.ui.picker import pick_on_tty

        choice = pick_on_tty(store, cfg.search, context, query=seed or " ".join(query),
                             mode=mode, base_filters=filters)
        if choice is not None:
            click.echo(f"{choice.action}\n{choice.command}" if widget else choice.command)
        sys.stdout.flush()
        if widget and cfg.daemon.autostart:
            # no daemon drew this picker (the widget asked first): start one for the next Up
            from cmdai.daemon.lifecycle import spawn_lazy

            spawn_lazy()
        # leave at once: the picker's background thread may still be loading the embedding
        # model, and tearing the interpreter down under it aborted the process ("terminate
        # called without an active exception"), losing the choice. Esc / Ctrl-C: exit 130.
        os._exit(0 if choice is not None else int(ExitCode.CANCELLED))
    text = " ".join(query)
    by_daemon = None
    if mode in ("semantic", "hybrid") and text.strip() and cfg.search.semantic:
        by_daemon = _search_by_daemon(text, mode, limit, filters, context)
    if by_daemon is not None:  # the daemon has the embedding model and the vectors loaded
        hits, semantic_error = by_daemon
        if semantic_error:
            click.echo(f"cmdai: semantic search is off: {semantic_error}", err=True)
    else:
        searcher = Searcher(store, cfg.search, context)
        if mode in ("semantic", "hybrid") and text.strip() and searcher.semantic_enabled:
            from cmdai.semantic.vectors import tty_progress

            if searcher.catalog(filters) and not searcher.load_semantic(progress=tty_progress()):
                click.echo(f"cmdai: semantic search is off: {searcher.semantic_error}", err=True)
        if mode in ("fulltext", "prefix"):  # narrow through the index, not the whole history
            from dataclasses import replace

            from cmdai.semantic.search import fts_prefilter

            filters = replace(filters, match=fts_prefilter(text, mode))
        hits = searcher.search(text, mode, filters, limit)
    if as_json:
        click.echo(json.dumps([h.to_json() for h in hits], ensure_ascii=False))
        return
    for h in hits:
        e = h.entry
        status = "   " if e.exit is None else f"{e.exit:>3}"
        dur = "" if e.duration_ms is None else f"{e.duration_ms / 1000:.1f}s"
        count = f"  (x{h.count})" if h.count > 1 else ""
        click.echo(f"{e.id:>7}  {_age(e.timestamp):>9}  {status}  {dur:>7}  {e.command}{count}")
