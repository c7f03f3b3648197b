"""Sentence embeddings with onnxruntime + tokenizers + numpy (no torch).

all-MiniLM-L6-v2: mean pooling of the last hidden state over the attention mask, then L2
normalisation, so a dot product is the cosine similarity.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from typing import Any

from cmdai.semantic import model

GLOSSARY_VERSION = "g1"  # bump when glossary.toml or describe() changes: re-embeds
_lock = threading.Lock()
_shared: Embedder | None = None


class Embedder:
    """Loads the verified model files; ``embed`` turns texts into unit float32 vectors."""

    model_id = model.MODEL_ID + "+" + GLOSSARY_VERSION  # what a stored vector was made with
    dim = model.DIM

    def __init__(self, threads: int = 1) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        onnx_path = model.verify(model.ONNX)
        tok_path = model.verify(model.TOKENIZER)
        self.tokenizer = Tokenizer.from_file(str(tok_path))
        # the shipped tokenizer.json pads every input to 128 tokens: pad to the longest in the
        # batch instead (a short query otherwise costs ~10x more)
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length=model.MAX_TOKENS)
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        # one thread: a query is a few tokens, and waking a thread pool costs more than it
        # saves on a busy 2-core machine (p50 3.5 vs 7.6 ms per query; batches 0.42 vs 0.58 s)
        if threads:
            opts.intra_op_num_threads = threads
        self.session = ort.InferenceSession(str(onnx_path), sess_options=opts,
                                            providers=["CPUExecutionProvider"])
        self._inputs = {i.name for i in self.session.get_inputs()}

    def embed(self, texts: Sequence[str], batch_size: int = 32, *, commands: bool = True) -> Any:
        """An (n, dim) float32 array of unit vectors, in the order of ``texts``. Commands are
        embedded with a few words on what their programs do (see glossary.toml)."""
        import numpy as np

        if commands:
            texts = [describe(t) for t in texts]

        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        # similar lengths together: less padding per batch
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            out[idx] = self._batch([texts[i] for i in idx])
        return out

    def embed_one(self, text: str) -> Any:
        """A query: plain words, no glossary."""
        return self._batch([text])[0]

    def _batch(self, texts: list[str]) -> Any:
        import numpy as np

        encs = self.tokenizer.encode_batch([prepare(t) for t in texts])
        width = max(len(e.ids) for e in encs)
        ids = np.zeros((len(encs), width), dtype=np.int64)
        mask = np.zeros((len(encs), width), dtype=np.int64)
        for row, enc in enumerate(encs):
            ids[row, :len(enc.ids)] = enc.ids
            mask[row, :len(enc.ids)] = 1
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.zeros_like(ids)
        (hidden,) = self.session.run(["last_hidden_state"], feeds)
        m = mask[:, :, None].astype(np.float32)
        pooled = (hidden * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norms, 1e-12)).astype(np.float32)


def prepare(text: str) -> str:
    """What the model reads for a command: punctuation that glues words (``-``, ``_``, ``/``,
    ``.``, ``=``) becomes spaces, so ``docker-compose`` and ``--force`` read as words."""
    text = text[:512]
    return text.translate(_GLUE)


_GLUE = str.maketrans({c: " " for c in "-_/.=:|;&"})

_glossary: dict[str, str] | None = None
_SEGMENTS = re.compile(r"\|\|?|&&|;|\$\(|`")


def glossary() -> dict[str, str]:
    global _glossary
    if _glossary is None:
        import tomllib
        from pathlib import Path

        with open(Path(__file__).with_name("glossary.toml"), "rb") as fh:
            _glossary = tomllib.load(fh)
    return _glossary


def describe(command: str) -> str:
    """``command`` followed by what its programs do, e.g. ``free -h: free and used memory``."""
    words = glossary()
    glosses: list[str] = []
    for segment in _SEGMENTS.split(command[:512]):
        tokens = segment.split()
        while tokens and ("=" in tokens[0] or tokens[0] in ("sudo", "env", "command", "nohup",
                                                            "time", "exec")):
            tokens.pop(0)
        if not tokens:
            continue
        prog = tokens[0].rsplit("/", 1)[-1]
        sub = tokens[1] if len(tokens) > 1 and not tokens[1].startswith("-") else ""
        gloss = words.get(f"{prog} {sub}") or words.get(prog)
        if gloss and gloss not in glosses:
            glosses.append(gloss)
        if len(glosses) == 3:
            break
    return command if not glosses else f"{command} : {'; '.join(glosses)}"


def current_model_id() -> str:
    """The id stored with vectors made now (model + glossary), without loading the model."""
    return model.MODEL_ID + "+" + GLOSSARY_VERSION


def shared() -> Embedder:
    """One embedder per process (loading costs ~0.4 s)."""
    global _shared
    with _lock:
        if _shared is None:
            _shared = Embedder()
        return _shared
