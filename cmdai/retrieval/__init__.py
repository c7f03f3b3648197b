"""Retrieval sources for the generation prompt, one per module.

- ``options``: the option lines of a utility's ``--help`` (or man page) that match the request.
- ``tldr``: examples from the user's tldr cache, when one is present.
- ``history``: the user's own successful commands, found by words and by meaning.
- ``corrections``: past Ctrl-G requests and the commands the user then ran.

Everything here is a hint: a source that is missing or broken returns nothing, never an error.
"""

from __future__ import annotations

import re

_SUFFIXES = ("ically", "ation", "ively", "ness", "ment", "ical", "ally", "ing", "ive", "ion",
             "ed", "es", "ly", "er", "al")

# words that say nothing about which option or example fits
STOP = frozenset({
    "a", "an", "the", "and", "or", "for", "with", "from", "that", "this", "all", "any", "are",
    "but", "not", "into", "than", "then", "them", "they", "out", "its", "our", "you", "your",
    "have", "has", "was", "were", "will", "can", "each", "every", "which", "what", "when",
    "where", "who", "how", "show", "list", "get", "give", "make", "want", "need", "please",
    "here", "there", "using", "use", "only", "more", "most", "one", "two", "of", "to", "in",
    "on", "by", "as", "at", "be", "is", "it", "do", "does", "i", "me", "my", "so", "if", "no",
    "yes",
})


def stem(word: str) -> str:
    """A crude English stem: enough to match "numerically" with "numerical", "lines" with "line"."""
    w = word.lower()
    if len(w) > 4 and w.endswith("s") and not w.endswith(("ss", "us", "is")):
        w = w[:-1]  # plural first: "numbers" and "number" share a stem
    for suf in _SUFFIXES:
        if len(w) - len(suf) >= 4 and w.endswith(suf):
            return w[: -len(suf)]
    return w


def stems(text: str) -> list[str]:
    """Content-word stems of ``text`` in order, without duplicates or stopwords."""
    out: dict[str, None] = {}
    for w in re.findall(r"[A-Za-z][A-Za-z0-9]+", text.lower()):
        if w in STOP or len(w) < 2:
            continue
        out.setdefault(stem(w), None)
    return list(out)
