"""The command line: parse, call the library, print. Errors are converted here, once.

Subcommands live one per module in this package and are imported only when invoked, so that
`cmdai --version` and the commands the shell calls stay fast. Register a new one in COMMANDS.
"""

from __future__ import annotations

import sys

from cmdai import __version__
from cmdai.errors import CmdaiError, ExitCode

# name -> "module:attribute" (a click command or group)
COMMANDS: dict[str, str] = {
    "check": "cmdai.cli.check:check",
    "import": "cmdai.cli.importer:import_",
    "init": "cmdai.cli.init:init",
    "history": "cmdai.cli.history:history",
    "search": "cmdai.cli.history:search",
    "config": "cmdai.cli.config:config",
    "doctor": "cmdai.cli.doctor:doctor",
    "generate": "cmdai.cli.generate:generate",
    "model": "cmdai.cli.model:model",
    "pause": "cmdai.cli.privacy:pause",
    "resume": "cmdai.cli.privacy:resume",
    "stats": "cmdai.cli.stats:stats",
    "daemon": "cmdai.cli.daemon:daemon",
    "assist": "cmdai.cli.assist:assist",
    "explain": "cmdai.cli.assist:explain",
}


def _make_group():
    import importlib

    import click

    class LazyGroup(click.Group):
        def list_commands(self, ctx):
            return sorted(COMMANDS)

        def get_command(self, ctx, name):
            target = COMMANDS.get(name)
            if target is None:
                return None
            module, _, attr = target.partition(":")
            return getattr(importlib.import_module(module), attr)

    @click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
    @click.version_option(__version__, prog_name="cmdai")
    @click.option("--debug", is_flag=True, help="Show tracebacks and log at debug level.")
    @click.pass_context
    def cli(ctx: click.Context, debug: bool) -> None:
        """cmdai: a local, private shell assistant."""
        ctx.obj = {"debug": debug}
        from cmdai import log

        log.setup(debug=debug)

    return cli


def _exit_cancelled(message: str = "cancelled") -> None:
    """Leave after Ctrl-C with status 130, always. A plain sys.exit was not enough: about one
    time in eight under load, CPython killed the process with SIGINT after finalizing, although
    the interrupt had been caught (likely its "unhandled KeyboardInterrupt" flag, which some
    paths set even for a caught interrupt). Nothing is pending after a cancel: flush and go."""
    import logging
    import os

    print(f"cmdai: {message}", file=sys.stderr)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    logging.shutdown()
    os._exit(int(ExitCode.CANCELLED))


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv == ["--version"]:  # answered without importing click
        print(f"cmdai, version {__version__}")
        sys.exit(0)
    debug = "--debug" in argv[:1] or "--debug" in argv
    cli = _make_group()
    try:
        code = cli.main(args=argv, prog_name="cmdai", standalone_mode=False)
    except CmdaiError as err:
        if debug:
            import traceback

            traceback.print_exc()
        if err.exit_code == ExitCode.CANCELLED:
            _exit_cancelled(err.message)
        print(f"cmdai: {err.message}", file=sys.stderr)
        if err.hint:
            print(f"  hint: {err.hint}", file=sys.stderr)
        sys.exit(int(err.exit_code))
    except KeyboardInterrupt:
        _exit_cancelled()
    except Exception as exc:  # noqa: BLE001 - the edge: one line, traceback with --debug
        import click

        if isinstance(exc, click.exceptions.Abort):
            _exit_cancelled()
        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(int(ExitCode.USAGE) if isinstance(exc, click.UsageError) else exc.exit_code)
        if isinstance(exc, BrokenPipeError):
            sys.exit(int(ExitCode.OK))
        if debug:
            raise
        print(f"cmdai: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        print("  hint: run again with --debug for the traceback, and report it", file=sys.stderr)
        sys.exit(int(ExitCode.ERROR))
    sys.exit(int(code or 0) if isinstance(code, int) else 0)
