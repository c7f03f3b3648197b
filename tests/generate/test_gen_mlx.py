"""The mlx backend on a real MLX folder converted from the smallest catalog GGUF (mlx on the CPU).

The conversion runs once per session into a temp dir; the model is checked against llama.cpp
on the same GGUF: same prompt tokens, same tokenizer, same greedy answer.
"""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import sys

import pytest

from cmdai import backends, models
from cmdai.backends import BackendError, Request
from cmdai.backends import mlx as mlx_backend
from cmdai.config import GenerateConfig
from cmdai.errors import ModelError
from cmdai.models import convert

from .conftest import REAL_MODELS, cancel_after_first_token

pytest.importorskip("mlx_lm", reason="the dev extra installs mlx[cpu] and mlx-lm: "
                    "./install.sh --dev")
pytestmark = pytest.mark.slow

TINY = "smollm2-135m"
SYSTEM = "Answer with one shell command."
FIX = f"cmdai model install --force --format mlx {TINY}"


@pytest.fixture(scope="session")
def mlx_folder(installed, tmp_path_factory):
    """smollm2-135m converted once per session (float32: mlx's CPU runs it fastest)."""
    installed(TINY)
    dest = tmp_path_factory.mktemp("mlx") / TINY
    return convert.convert(TINY, directory=REAL_MODELS, dest=dest, dtype="float32",
                           say=lambda msg: None)


@pytest.fixture
def mlx_cfg(mlx_folder):
    return GenerateConfig(backends=["mlx"], mlx_model=str(mlx_folder))


@pytest.fixture
def llama_cfg(link_model):
    link_model(TINY)
    return GenerateConfig(backends=["llama_cpp"], model=TINY)


def _header(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        return json.loads(f.read(n))


def test_conversion_writes_a_verified_hugging_face_folder(mlx_folder):
    manifest = json.loads((mlx_folder / convert.MANIFEST).read_text())
    assert set(manifest["files"]) == {"config.json", "tokenizer.json", "tokenizer_config.json",
                                      "model.safetensors"}
    assert manifest["source"]["sha256"] == models.get(TINY).sha256
    for name, entry in manifest["files"].items():
        assert models.sha256_file(mlx_folder / name) == entry["sha256"], name
    config = json.loads((mlx_folder / "config.json").read_text())
    assert (config["model_type"], config["num_hidden_layers"], config["num_key_value_heads"],
            config["tie_word_embeddings"]) == ("llama", 30, 3, True)
    header = _header(mlx_folder / "model.safetensors")
    assert header["model.embed_tokens.weight"]["shape"] == [49152, 576]
    assert header["model.layers.29.self_attn.k_proj.weight"] == {
        "dtype": "F32", "shape": [192, 576],
        "data_offsets": header["model.layers.29.self_attn.k_proj.weight"]["data_offsets"]}
    assert len([k for k in header if k != "__metadata__"]) == 2 + 30 * 9
    assert not list(mlx_folder.parent.glob(".convert-*"))  # no temp dir left


def test_tokenizer_rebuilt_from_the_gguf_matches_llama_cpp(mlx_folder, installed):
    from llama_cpp import Llama
    from tokenizers import Tokenizer

    ours = Tokenizer.from_file(str(mlx_folder / "tokenizer.json"))
    vocab = Llama(model_path=str(installed(TINY)), vocab_only=True, verbose=False)
    texts = ["list the files", "  two  spaces\tand\ttabs\n\n", "find . -size +100M -mtime +7",
             "port 8080 and 2024-01-31", "naïve café ünïcödé 日本語 😀",
             "<|im_start|>user\nhi<|im_end|>\n", "x=$(( 12345 * 678 ))", "'s 've 're LL'd",
             "\\n \\t C:\\Users", ""]
    for text in texts:
        expected = vocab.tokenize(text.encode(), add_bos=False, special=True)
        assert ours.encode(text, add_special_tokens=False).ids == expected, text
        assert ours.decode(expected, skip_special_tokens=False) == text, text


def test_greedy_answer_matches_llama_cpp(mlx_cfg, llama_cfg):
    """Both run the same GGUF weights, llama.cpp on them quantized (with its own 8-bit
    activations), mlx dequantized to float32: the logits differ slightly, so a near tie could
    flip a late token; the first tokens must agree and, for this prompt, all of them did."""
    req = {"system": SYSTEM, "user": "show the current date", "max_tokens": 16}
    mlx = backends.create("mlx", mlx_cfg).complete(Request(**req))
    llama = backends.create("llama_cpp", llama_cfg).complete(Request(**req))
    assert mlx.prompt_tokens == llama.prompt_tokens
    assert mlx.text.split()[:4] == llama.text.split()[:4] and mlx.text.strip()
    assert mlx.text == llama.text
    assert mlx.model == TINY and mlx.completion_tokens and mlx.completion_tokens <= 16


def test_streams_stops_and_keeps_the_prefix_warm(mlx_cfg):
    be = backends.create("mlx", mlx_cfg)
    pieces: list[str] = []
    first = be.complete(Request(system=SYSTEM, user="print the date", max_tokens=12,
                                on_token=pieces.append))
    assert pieces and "".join(pieces) == first.text
    stop = first.text.strip()[3:5]  # two characters the answer is known to contain
    pieces.clear()
    cut = be.complete(Request(system=SYSTEM, user="print the date", max_tokens=12,
                              stop=[stop], on_token=pieces.append))
    assert cut.extra["kv"] == "warm"  # same system prompt: its KV cache was reused
    assert cut.text == first.text[:first.text.index(stop)] == "".join(pieces)
    again = backends.create("mlx", mlx_cfg).complete(
        Request(system=SYSTEM, user="print the date", max_tokens=12))
    assert again.text == first.text  # greedy, and the warm cache changes nothing


def test_cancel_stops_generation(mlx_cfg):
    be = backends.create("mlx", mlx_cfg)
    assert len(cancel_after_first_token(be)) == 1
    after = be.complete(Request(system="Write a long story.", user="go", max_tokens=4))
    assert after.text and after.extra["kv"] == "warm"  # the cache was trimmed back, not lost


def test_a_corrupt_folder_is_reported_with_the_command_that_fixes_it(mlx_folder, tmp_path):
    folder = tmp_path / TINY
    shutil.copytree(mlx_folder, folder)
    weights = folder / "model.safetensors"
    with open(weights, "r+b") as f:  # same size, one byte changed
        f.seek(weights.stat().st_size // 2)
        byte = f.read(1)
        f.seek(-1, 1)
        f.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(ModelError, match="sha256") as err:
        convert.verify_folder(folder)
    assert FIX in err.value.hint
    be = backends.create("mlx", GenerateConfig(backends=["mlx"], mlx_model=str(folder)))
    assert be.health().ok  # health does not hash: the first load does
    with pytest.raises(BackendError, match="corrupt") as err:
        be.complete(Request(system=SYSTEM, user="x", max_tokens=2))
    assert FIX in err.value.message
    with open(weights, "r+b") as f:
        f.truncate(1000)
    health = be.health()
    assert not health.ok and "partial" in health.detail and FIX in health.detail


def test_without_a_folder_health_names_the_conversion():
    health = backends.create("mlx", GenerateConfig(backends=["mlx"], model=TINY)).health()
    assert not health.ok and f"cmdai model install --format mlx {TINY}" in health.detail


def test_unsupported_gguf_is_refused_with_a_reason(tmp_path):
    meta = {"general.architecture": "gemma3", "tokenizer.ggml.model": "gpt2"}
    with pytest.raises(ModelError, match="supports llama, qwen2"):
        convert._hf_config(meta, tmp_path / "x.gguf", True, 10, "float16")
    meta = {"general.architecture": "llama", "tokenizer.ggml.model": "llama"}
    with pytest.raises(ModelError, match="byte-level BPE"):
        convert._tokenizer(meta, tmp_path / "x.gguf")


def test_convert_modules_import_nothing_heavy():
    code = ("import sys, cmdai.models.convert, cmdai.backends.mlx, cmdai.cli.model\n"
            "heavy = [m for m in ('numpy', 'gguf', 'mlx', 'mlx_lm', 'transformers', "
            "'tokenizers') if m in sys.modules]\n"
            "assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_cli_converts_then_mlx_answers_first_and_falls_back_when_corrupt(link_model):
    """The whole path a user takes. (`cmdai generate` itself is not run: its system prompt of
    several hundred tokens takes mlx on this CPU ~40 s; the backends are called directly.)"""
    link_model(TINY)

    def cmdai(*args):
        return subprocess.run([sys.executable, "-m", "cmdai", *args], capture_output=True,
                              text=True, timeout=300, check=False)

    out = cmdai("model", "install", "--format", "mlx", "--dtype", "float32", TINY)
    assert out.returncode == 0, out.stderr
    folder = convert.folder_of(models.get(TINY))
    assert out.stdout.strip() == str(folder)
    assert f"cmdai model use {TINY}" in out.stderr and "generate.backends" in out.stderr
    rows = {r["name"]: r for r in map(json.loads, cmdai("model", "list", "--json").stdout.split(
        "\n")[:-1])}
    assert rows[TINY]["mlx"] == "verified" and rows[TINY]["mlx_path"] == str(folder)
    again = cmdai("model", "install", "--format", "mlx", "--dtype", "float32", TINY)
    assert again.stderr.count("already") == 2  # the GGUF and the folder: nothing redone

    cfg = GenerateConfig(backends=["mlx", "llama_cpp"], model=TINY)  # mlx finds the folder
    req = {"system": SYSTEM, "user": "show the current date", "max_tokens": 6}
    warnings: list[str] = []
    backend, answer = backends.complete_with_fallback(cfg, Request(**req), warn=warnings.append)
    assert backend.name == "mlx" and answer.text and not warnings
    config = folder / "config.json"
    config.write_text(config.read_text().replace("30", "31"))  # same size, other content
    mlx_backend.close_all()  # as in a new process: the folder is verified again
    backend, answer = backends.complete_with_fallback(cfg, Request(**req), warn=warnings.append)
    assert backend.name == "llama_cpp" and answer.text
    assert len(warnings) == 1 and FIX in warnings[0] and "trying llama_cpp" in warnings[0]

    removed = cmdai("model", "remove", TINY)
    assert "MLX folder" in removed.stderr and not folder.exists()


QWEN = "qwen2.5-coder-0.5b"  # the catalog's qwen2 family (the default 1.5B is the same family)


@pytest.fixture(scope="session")
def qwen_folder(installed, tmp_path_factory):
    installed(QWEN)
    return convert.convert(QWEN, directory=REAL_MODELS, dest=tmp_path_factory.mktemp("mlx") / QWEN,
                           dtype="float16", say=lambda msg: None)


def test_qwen_conversion_matches_llama_cpp(qwen_folder, installed, link_model):
    """The qwen2 path (attention biases, unpermuted q/k, tied embeddings, qwen2 pre-tokenizer):
    the same tokens as llama.cpp for the same text, and the same next-token distribution.
    Greedy text is not compared: llama.cpp computes with 4-bit weights and 8-bit activations,
    mlx with the float16 dequantized weights, so a near tie (`` ` `` 0.30 vs ```` ``` ```` 0.28
    after "show the current date") may go either way; the distributions agree (correlation of
    the logits 0.9997, KL < 0.005, the same top 5 when measured)."""
    import mlx.core as mx
    import numpy as np
    from llama_cpp import Llama
    from mlx_lm import load
    from tokenizers import Tokenizer

    config = json.loads((qwen_folder / "config.json").read_text())
    assert (config["model_type"], config["architectures"]) == ("qwen2", ["Qwen2ForCausalLM"])
    assert "model.layers.0.self_attn.q_proj.bias" in _header(qwen_folder / "model.safetensors")
    ours = Tokenizer.from_file(str(qwen_folder / "tokenizer.json"))
    llm = Llama(model_path=str(installed(QWEN)), n_ctx=256, logits_all=True, verbose=False)
    for text in ["find . -size +100M -mtime +7", "naïve café 日本語 😀", "x=$(( 12345 * 678 ))",
                 "<|im_start|>user\nhi<|im_end|>\n", "'s 've 're LL'd  two  spaces\n\n"]:
        assert ours.encode(text, add_special_tokens=False).ids == \
            llm.tokenize(text.encode(), add_bos=False, special=True), text
    model, _ = load(str(qwen_folder))
    for prompt in ["<|im_start|>user\nlist python files<|im_end|>\n<|im_start|>assistant\n"
                   "find . -name", "def fibonacci(n):\n    if n < 2:\n        return"]:
        tokens = llm.tokenize(prompt.encode(), add_bos=False, special=True)
        llm.reset()
        llm.eval(tokens)
        ref = np.asarray(llm.scores[llm.n_tokens - 1], dtype=np.float64)
        got = np.asarray(model(mx.array([tokens]))[0, -1].astype(mx.float32), dtype=np.float64)
        assert np.corrcoef(ref, got)[0, 1] > 0.99, prompt
        assert int(np.argmax(got)) == int(np.argmax(ref)), prompt
    # and the backend answers with it, from the same prompt tokens as llama.cpp
    link_model(QWEN)
    req = {"system": SYSTEM, "user": "show the current date", "max_tokens": 4}
    answer = backends.create("mlx", GenerateConfig(backends=["mlx"], mlx_model=str(qwen_folder))
                             ).complete(Request(**req))
    llama = backends.create("llama_cpp", GenerateConfig(backends=["llama_cpp"], model=QWEN)
                            ).complete(Request(**req))
    assert answer.prompt_tokens == llama.prompt_tokens and answer.text.strip()
