"""`cmdai config path|show|get|set`."""

from __future__ import annotations

import json

import click


@click.group(invoke_without_command=True)
@click.pass_context
def config(ctx: click.Context) -> None:
    """Show and change settings (TOML in the XDG config dir).

    Without a subcommand, on a terminal: a full-screen form over every setting (Ctrl-S saves
    what changed, keeping the file's comments)."""
    if ctx.invoked_subcommand is not None:
        return
    import sys

    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        click.echo(ctx.get_help())
        return
    from cmdai import paths
    from cmdai.config_form import ConfigForm

    changes = ConfigForm().run()
    if changes is None:
        click.echo("cmdai: settings unchanged", err=True)
        return
    for key, value in changes:
        click.echo(f"{key} = {json.dumps(value)}", err=True)
    click.echo(f"cmdai: {len(changes)} setting(s) written to {paths.config_file()}", err=True)


@config.command()
def path() -> None:
    """Print the config file's path."""
    from cmdai import paths

    click.echo(str(paths.config_file()))


@config.command()
@click.option("--json", "as_json", is_flag=True)
def show(as_json: bool) -> None:
    """Print every setting with its current value."""
    import tomli_w

    from cmdai import config as cfgmod

    data = cfgmod.as_dict(cfgmod.load())
    click.echo(json.dumps(data, indent=2) if as_json else tomli_w.dumps(data))


@config.command()
@click.argument("key")
def get(key: str) -> None:
    """Print one setting, e.g. `cmdai config get safety.policy`."""
    from cmdai import config as cfgmod

    value = cfgmod.get_value(cfgmod.load(), key)
    click.echo(json.dumps(value) if not isinstance(value, str) else value)


@config.command("set")
@click.argument("key")
@click.argument("value")
def set_(key: str, value: str) -> None:
    """Set one setting in the config file, keeping its comments, e.g.
    `cmdai config set safety.policy strict`."""
    from cmdai import config as cfgmod
    from cmdai import paths

    new = cfgmod.set_value(key, value)
    click.echo(f"{key} = {json.dumps(new)} in {paths.config_file()}", err=True)
