"""A catalog GGUF converted into an MLX model folder, for the mlx backend; nothing is downloaded.

The folder is what mlx-lm loads (a Hugging Face-format model): ``config.json``, the tokenizer
(``tokenizer.json`` + ``tokenizer_config.json``) and ``model.safetensors`` under the tensor names
of the Hugging Face model. Everything comes from the installed, sha256-verified GGUF:

- weights are dequantized with the ``gguf`` package (numpy) and written as float16 (or float32)
  one tensor at a time, so memory stays at about one tensor; llama's q/k rows, which llama.cpp
  permutes for its rope kernel, are permuted back;
- the tokenizer is rebuilt from the GGUF's vocabulary, merges, token types and pre-tokenizer
  name with the ``tokenizers`` package (transformers' own GGUF loader needs torch);
- ``cmdai-manifest.json`` records the sha256 and size of every file. Like a GGUF's stamp,
  ``cmdai-manifest.verified`` records each file's size, mtime and inode after it was hashed, so a
  folder is hashed again only after something changed; a mismatch is an error naming the fix.

Supported: the architectures of the catalog (llama, qwen2) with byte-level BPE vocabularies.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cmdai import models
from cmdai.errors import ModelError, UsageError

MANIFEST = "cmdai-manifest.json"
STAMP = "cmdai-manifest.verified"
FORMAT = 1
DTYPES = {"float16": ("F16", "<f2"), "float32": ("F32", "<f4")}
ARCHS = {"llama": "LlamaForCausalLM", "qwen2": "Qwen2ForCausalLM"}

# GGUF tensor name (after "blk.N.") -> Hugging Face name (after "model.layers.N.")
_LAYER_NAMES = {
    "attn_norm": "input_layernorm",
    "ffn_norm": "post_attention_layernorm",
    "attn_q": "self_attn.q_proj",
    "attn_k": "self_attn.k_proj",
    "attn_v": "self_attn.v_proj",
    "attn_output": "self_attn.o_proj",
    "ffn_gate": "mlp.gate_proj",
    "ffn_up": "mlp.up_proj",
    "ffn_down": "mlp.down_proj",
}
_TOP_NAMES = {
    "token_embd": "model.embed_tokens",
    "output_norm": "model.norm",
    "output": "lm_head",
}

# The pre-tokenizer split each llama.cpp "tokenizer.ggml.pre" name stands for (llama-vocab.cpp)
_QWEN2_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)


def folder_of(model: models.Model, directory: Path | None = None) -> Path:
    """Where ``cmdai model install --format mlx NAME`` puts NAME's MLX folder."""
    return (directory or models.models_dir()) / "mlx" / model.name


def fix_command(name: str) -> str:
    return f"cmdai model install --force --format mlx {name}"


def _say(msg: str) -> None:
    print(f"cmdai: {msg}", file=sys.stderr, flush=True)


# -- the manifest ----------------------------------------------------------------------------
def _fingerprint(path: Path) -> dict[str, int]:
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "inode": st.st_ino}


def read_manifest(folder: Path) -> dict[str, Any] | None:
    """The folder's manifest, or None for a folder cmdai did not make (e.g. one downloaded
    elsewhere: it is used as it is)."""
    path = folder / MANIFEST
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        if manifest.get("format") != FORMAT or not isinstance(manifest.get("files"), dict):
            raise ValueError("unknown manifest format")
    except (OSError, ValueError) as exc:
        raise ModelError(f"the manifest {path} is unreadable ({exc})",
                         f"run `{_fix_for(folder)}`") from exc
    return manifest


def _fix_for(folder: Path, manifest: dict[str, Any] | None = None) -> str:
    name = (manifest or {}).get("source", {}).get("model") or folder.name
    return fix_command(name)


def _write_stamp(folder: Path, files: dict[str, Any]) -> None:
    stamp = {name: _fingerprint(folder / name) for name in files}
    tmp = folder / (STAMP + ".tmp")
    tmp.write_text(json.dumps(stamp), encoding="utf-8")
    os.replace(tmp, folder / STAMP)


def _stamped(folder: Path, files: dict[str, Any]) -> bool:
    try:
        stamp = json.loads((folder / STAMP).read_text(encoding="utf-8"))
        return stamp == {name: _fingerprint(folder / name) for name in files}
    except (OSError, ValueError):
        return False


def quick_check(folder: Path) -> str | None:
    """Cheap (no hashing): why the folder cannot be used, or None. For ``health()``."""
    if not (folder / "config.json").is_file():
        return f"{folder} is not an MLX model folder (no config.json)"
    try:
        manifest = read_manifest(folder)
    except ModelError as err:
        return f"{err.message}; run `{_fix_for(folder)}`"
    if manifest is None:
        return None
    for name, entry in manifest["files"].items():
        path = folder / name
        if not path.is_file():
            return f"{path} is missing; run `{_fix_for(folder, manifest)}`"
        if path.stat().st_size != entry["size"]:
            return f"{path} is partial or corrupt (size); run `{_fix_for(folder, manifest)}`"
    return None


def verify_folder(folder: Path) -> Path:
    """The folder once every file in its manifest has its recorded sha256 (hashing only files
    whose stamp is stale). A folder without a manifest is returned as it is."""
    manifest = read_manifest(folder)
    if manifest is None:
        if not (folder / "config.json").is_file():
            raise ModelError(f"{folder} is not an MLX model folder (no config.json)",
                             "set generate.mlx_model to a folder made by "
                             "`cmdai model install --format mlx NAME`")
        return folder
    files = manifest["files"]
    if _stamped(folder, files):
        return folder
    fix = f"run `{_fix_for(folder, manifest)}`"
    for name, entry in files.items():
        path = folder / name
        if not path.is_file():
            raise ModelError(f"{path} is missing", fix)
        size = path.stat().st_size
        if size != entry["size"]:
            raise ModelError(
                f"{path} is partial or corrupt ({size} bytes, expected {entry['size']})", fix)
        if models.sha256_file(path) != entry["sha256"]:
            raise ModelError(f"{path} is corrupt (sha256 mismatch)", fix)
    _write_stamp(folder, files)
    return folder


def status(model: models.Model, directory: Path | None = None) -> str:
    """'verified', 'unverified' (present, not hashed since it changed) or 'missing'."""
    folder = folder_of(model, directory)
    if not (folder / MANIFEST).is_file():
        return "missing"
    try:
        manifest = read_manifest(folder)
    except ModelError:
        return "unverified"
    return "verified" if manifest and _stamped(folder, manifest["files"]) else "unverified"


def remove(name: str, directory: Path | None = None) -> bool:
    folder = folder_of(models.get(name), directory)
    if not folder.exists():
        return False
    shutil.rmtree(folder)
    return True


# -- reading the GGUF ------------------------------------------------------------------------
def _fields(reader: Any) -> dict[str, Any]:
    skip = {"tokenizer.ggml.scores"}  # not used by byte-level BPE; slow to decode
    out = {}
    for key, field in reader.fields.items():
        if key in skip or key.startswith("GGUF."):
            continue
        out[key] = field.contents()
    return out


def _need(meta: dict[str, Any], key: str, path: Path) -> Any:
    if key not in meta:
        raise ModelError(f"{path} has no '{key}': cannot convert it to MLX")
    value = meta[key]
    if isinstance(value, list):
        raise ModelError(f"{path}: per-layer '{key}' is not supported by the MLX conversion")
    return value


def _hf_config(meta: dict[str, Any], path: Path, tied: bool, vocab: int, dtype: str
               ) -> dict[str, Any]:
    arch = meta.get("general.architecture")
    if arch not in ARCHS:
        raise ModelError(f"{path} is a '{arch}' model; the MLX conversion supports "
                         f"{', '.join(ARCHS)}")
    a = arch

    def need(key: str) -> Any:
        return _need(meta, f"{a}.{key}", path)

    scaling = meta.get(f"{a}.rope.scaling.type", "none")
    if scaling not in ("none", None):
        raise ModelError(f"{path} uses rope scaling '{scaling}', which the MLX conversion "
                         "does not carry over")
    heads = int(need("attention.head_count"))
    hidden = int(need("embedding_length"))
    config: dict[str, Any] = {
        "architectures": [ARCHS[a]],
        "model_type": a,
        "hidden_size": hidden,
        "intermediate_size": int(need("feed_forward_length")),
        "num_hidden_layers": int(need("block_count")),
        "num_attention_heads": heads,
        "num_key_value_heads": int(meta.get(f"{a}.attention.head_count_kv", heads)),
        "head_dim": int(meta.get(f"{a}.attention.key_length", hidden // heads)),
        "rms_norm_eps": float(need("attention.layer_norm_rms_epsilon")),
        "rope_theta": float(meta.get(f"{a}.rope.freq_base", 10000.0)),
        "max_position_embeddings": int(need("context_length")),
        "vocab_size": vocab,
        "tie_word_embeddings": tied,
        "torch_dtype": dtype,
        "hidden_act": "silu",
    }
    for key in ("bos_token_id", "eos_token_id"):
        if f"tokenizer.ggml.{key}" in meta:
            config[key] = int(meta[f"tokenizer.ggml.{key}"])
    return config


def _hf_name(gguf_name: str) -> str | None:
    stem, _, kind = gguf_name.rpartition(".")
    if stem.startswith("blk."):
        _, n, part = stem.split(".", 2)
        mapped = _LAYER_NAMES.get(part)
        return f"model.layers.{n}.{mapped}.{kind}" if mapped else None
    mapped = _TOP_NAMES.get(stem)
    return f"{mapped}.{kind}" if mapped else None


def _unpermute(w: Any, n_head: int) -> Any:
    """Undo llama.cpp's q/k row permutation (convert_hf_to_gguf.py LlamaModel.permute)."""
    rows = w.shape[0]
    return (w.reshape(n_head, rows // n_head // 2, 2, *w.shape[1:])
            .swapaxes(1, 2).reshape(w.shape))


# -- the tokenizer ---------------------------------------------------------------------------
def _tokenizer(meta: dict[str, Any], path: Path) -> tuple[str, dict[str, Any]]:
    """(tokenizer.json text, tokenizer_config) rebuilt from the GGUF's vocabulary."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, normalizers, pre_tokenizers
    from tokenizers.models import BPE

    kind = meta.get("tokenizer.ggml.model")
    if kind != "gpt2":
        raise ModelError(f"{path} has a '{kind}' vocabulary; the MLX conversion supports "
                         "byte-level BPE ('gpt2') only")
    pre = meta.get("tokenizer.ggml.pre", "default")
    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    normalizer = None
    split: Any
    if pre == "qwen2":
        split = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(_QWEN2_SPLIT), behavior="isolated"), byte_level])
        normalizer = normalizers.NFC()
    elif pre == "smollm":  # digits one by one, then GPT-2's split
        split = pre_tokenizers.Sequence([
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
    elif pre in ("default", "gpt2"):
        split = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    else:
        raise ModelError(f"{path} uses the pre-tokenizer '{pre}', which the MLX conversion "
                         "does not know")
    tokens: list[str] = meta["tokenizer.ggml.tokens"]
    types: list[int] = meta.get("tokenizer.ggml.token_type") or [1] * len(tokens)
    merges = [tuple(m.split(" ", 1)) for m in meta.get("tokenizer.ggml.merges", [])]
    vocab = {tok: i for i, tok in enumerate(tokens)}
    tk = Tokenizer(BPE(vocab=vocab, merges=merges, fuse_unk=False, byte_fallback=False))
    tk.pre_tokenizer = split
    if normalizer is not None:
        tk.normalizer = normalizer
    tk.decoder = decoders.ByteLevel()
    # CONTROL (3) tokens are special, USER_DEFINED (4) are matched whole but not special
    tk.add_special_tokens([AddedToken(t, special=True, normalized=False)
                           for t, ty in zip(tokens, types) if ty == 3])
    tk.add_tokens([AddedToken(t, special=False, normalized=False)
                   for t, ty in zip(tokens, types) if ty == 4])

    def token(key: str) -> str | None:
        i = meta.get(f"tokenizer.ggml.{key}_token_id")
        return tokens[int(i)] if i is not None and 0 <= int(i) < len(tokens) else None

    config: dict[str, Any] = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": token("bos"),
        "eos_token": token("eos"),
        "unk_token": token("unknown"),
        "pad_token": token("padding"),
        "add_bos_token": bool(meta.get("tokenizer.ggml.add_bos_token", False)),
        "add_eos_token": bool(meta.get("tokenizer.ggml.add_eos_token", False)),
        "clean_up_tokenization_spaces": False,
        "model_max_length": int(meta.get(f"{meta['general.architecture']}.context_length", 2048)),
    }
    if meta.get("tokenizer.chat_template"):
        config["chat_template"] = meta["tokenizer.chat_template"]
    return tk.to_str(), config


# -- conversion ------------------------------------------------------------------------------
class _HashingWriter:
    def __init__(self, path: Path) -> None:
        self.f = open(path, "wb")  # noqa: SIM115 - closed in close()
        self.h = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes | memoryview) -> None:
        self.f.write(data)
        self.h.update(data)
        self.size += len(data)

    def close(self) -> dict[str, Any]:
        self.f.close()
        return {"sha256": self.h.hexdigest(), "size": self.size}


def _write_text(path: Path, text: str) -> dict[str, Any]:
    data = text.encode("utf-8")
    path.write_bytes(data)
    return {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}


def _write_safetensors(reader: Any, meta: dict[str, Any], path: Path, dtype: str,
                       permute: dict[str, int]) -> dict[str, Any]:
    """Dequantize tensor by tensor into one safetensors file; returns its sha256 and size."""
    import numpy as np
    from gguf.quants import dequantize

    st_dtype, np_dtype = DTYPES[dtype]
    itemsize = np.dtype(np_dtype).itemsize
    plan = []
    offset = 0
    for t in reader.tensors:
        name = _hf_name(t.name)
        if name is None:
            if t.name == "rope_freqs.weight":
                raise ModelError(f"{t.name}: rope frequency factors are not supported by the "
                                 "MLX conversion")
            continue  # e.g. llama.cpp's own helper tensors
        shape = [int(d) for d in reversed(t.shape.tolist())]  # GGUF lists dimensions inner-first
        n = int(np.prod(shape)) * itemsize
        plan.append((t, name, shape, offset, offset + n))
        offset += n
    header: dict[str, Any] = {"__metadata__": {"format": "pt", "source": "cmdai GGUF conversion"}}
    for _, name, shape, start, end in plan:
        header[name] = {"dtype": st_dtype, "shape": shape, "data_offsets": [start, end]}
    blob = json.dumps(header, separators=(",", ":")).encode()
    blob += b" " * (-len(blob) % 8)
    out = _HashingWriter(path)
    try:
        out.write(len(blob).to_bytes(8, "little") + blob)
        for t, name, shape, start, end in plan:
            w = dequantize(t.data, t.tensor_type).reshape(shape)
            for suffix, n_head in permute.items():
                if name.endswith(suffix):
                    w = _unpermute(w, n_head)
            data = np.ascontiguousarray(w, dtype=np_dtype)
            if not np.isfinite(data).all():
                raise ModelError(f"{t.name} does not fit in {dtype}", "convert with --dtype float32")
            out.write(data.data.cast("B"))
    finally:
        result = out.close()
    return result


def convert(
    name: str,
    *,
    force: bool = False,
    directory: Path | None = None,
    dest: Path | None = None,
    dtype: str = "float16",
    say: Callable[[str], None] = _say,
) -> Path:
    """Convert the installed catalog model NAME into an MLX folder; returns the verified folder.

    The GGUF is verified first (its sha256). The folder is written to a temp dir next to the
    destination and renamed into place, so a failed or interrupted conversion leaves nothing.
    """
    if dtype not in DTYPES:
        raise UsageError(f"unknown dtype '{dtype}'", f"use one of: {', '.join(DTYPES)}")
    model = models.get(name)
    dest = dest or folder_of(model, directory)
    if dest.exists() and not force:
        try:
            manifest = read_manifest(dest)
            if manifest is None:
                raise ModelError(f"{dest} exists and was not made by cmdai")
            if manifest.get("dtype") != dtype:
                raise ModelError(f"{dest} holds {manifest.get('dtype')} weights, not {dtype}")
            verify_folder(dest)
            say(f"{model.name} is already converted and verified: {dest}")
            return dest
        except ModelError as err:
            say(f"{err.message}; converting again")
    gguf_path = models.verify(model, directory)
    try:
        import gguf
        import numpy  # noqa: F401
    except ImportError as exc:
        raise ModelError(f"the MLX conversion needs the gguf package ({exc})",
                         "pip install 'cmdai[mlx]' (or: pip install gguf)") from exc
    t0 = time.perf_counter()
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".convert-", dir=dest.parent))
    try:
        say(f"converting {model.name} to an MLX folder ({dtype}); reading {gguf_path.name}")
        reader = gguf.GGUFReader(str(gguf_path))
        meta = _fields(reader)
        names = {t.name for t in reader.tensors}
        embd = next(t for t in reader.tensors if t.name == "token_embd.weight")
        vocab = int(embd.shape[-1])
        config = _hf_config(meta, gguf_path, "output.weight" not in names, vocab, dtype)
        tokenizer_json, tokenizer_config = _tokenizer(meta, gguf_path)
        permute = {}
        if config["model_type"] == "llama":  # llama.cpp permutes llama's q and k rows
            permute = {"q_proj.weight": config["num_attention_heads"],
                       "k_proj.weight": config["num_key_value_heads"]}
        files = {
            "config.json": _write_text(tmp / "config.json", json.dumps(config, indent=2)),
            "tokenizer.json": _write_text(tmp / "tokenizer.json", tokenizer_json),
            "tokenizer_config.json": _write_text(tmp / "tokenizer_config.json",
                                                 json.dumps(tokenizer_config, indent=2)),
        }
        say("dequantizing the weights")
        files["model.safetensors"] = _write_safetensors(
            reader, meta, tmp / "model.safetensors", dtype, permute)
        del reader
        manifest = {"format": FORMAT, "files": files, "dtype": dtype,
                    "source": {"model": model.name, "file": model.file, "sha256": model.sha256}}
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        _write_stamp(tmp, files)
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(tmp, dest)
        _write_stamp(dest, files)  # a rename keeps inodes, but be exact
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    size = sum(f["size"] for f in files.values())
    say(f"converted {model.name} in {time.perf_counter() - t0:.1f} s: {dest} "
        f"({size / 1e9:.2f} GB)")
    return dest
