"""Examples from the user's tldr cache, when one is present.

tldr clients keep the tldr-pages tree on disk: ``pages/{common,linux,osx,...}/NAME.md`` (or
``pages.en/...``) under ``$TLDR_CACHE_DIR``, ``~/.cache/tldr`` (Python client), ``~/.tldr/cache``
(Node client), ``~/.cache/tealdeer/tldr-pages`` (tealdeer), ``~/.cache/tlrc`` (tlrc) or
``~/.local/share/tldr``. Nothing is downloaded: no cache, no examples.

A page is parsed into examples (description, command); tldr's ``{{placeholders}}`` become cmdai's
``<placeholders>``. For a request, examples are ranked by the words their description (and page
name) share with it, rarer words counting more, pages of utilities the request names first.
The index is built once per process and cache directory (the daemon keeps it warm).
"""

from __future__ import annotations

import math
import os
import platform
import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cmdai.retrieval import stems

PLATFORMS = {"Linux": ("linux", "common"), "Darwin": ("osx", "common"),
             "FreeBSD": ("freebsd", "common"), "OpenBSD": ("openbsd", "common"),
             "NetBSD": ("netbsd", "common")}
MAX_PAGES = 20000  # a sanity bound: a real cache has ~5,000 pages across all platforms


@dataclass(frozen=True)
class Example:
    utility: str  # the page name
    description: str  # "Create an archive from files"
    command: str  # "tar cf <target.tar> <file1>"


def cache_roots(env: dict[str, str] | None = None) -> list[Path]:
    """Where tldr clients keep pages, most specific first (existing or not)."""
    env = dict(os.environ) if env is None else env
    home = Path(env.get("HOME") or Path.home())
    xdg_cache = Path(env.get("XDG_CACHE_HOME") or home / ".cache")
    xdg_data = Path(env.get("XDG_DATA_HOME") or home / ".local" / "share")
    roots = []
    if env.get("TLDR_CACHE_DIR"):
        roots.append(Path(env["TLDR_CACHE_DIR"]).expanduser())
    roots += [xdg_cache / "tldr", home / ".tldr" / "cache", home / ".tldr",
              xdg_cache / "tealdeer" / "tldr-pages", xdg_cache / "tealdeer", xdg_cache / "tlrc",
              xdg_data / "tldr", home / "Library" / "Caches" / "tealdeer" / "tldr-pages"]
    return roots


def find_pages_dir(roots: Iterable[Path] | None = None) -> Path | None:
    """The first ``pages`` (or ``pages.en``) directory under a cache root, at depth <= 2."""
    for root in cache_roots() if roots is None else roots:
        if not root.is_dir():
            continue
        for pattern in ("pages", "pages.en", "*/pages", "*/pages.en"):
            for cand in sorted(root.glob(pattern)):
                if cand.is_dir() and (cand / "common").is_dir():
                    return cand
    return None


# -- parsing ------------------------------------------------------------------------------------
_PLACEHOLDER = re.compile(r"\{\{(.*?)\}\}")


def _name(inner: str) -> str:
    inner = re.sub(r"\[.*?\]", "", inner)  # optional parts: "source.tar[.gz|.xz]" -> "source.tar"
    last = inner.rstrip("/").rsplit("/", 1)[-1]
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", last).strip("_.-") or "value"
    return name if name[0].isalpha() else "value_" + name


def _placeholder(match: re.Match[str]) -> str:
    inner = match.group(1).strip()
    if inner.startswith("[") and inner.endswith("]") and "|" in inner:
        return inner[1:-1].split("|", 1)[0]  # option alternatives "[-v|--verbose]": the short one
    if re.fullmatch(r"-{1,2}[A-Za-z0-9][\w-]*", inner):
        return inner  # a literal option written as a placeholder
    parts = [p for p in inner.split() if p != "..."]  # "path/to/file1 path/to/file2 ..."
    return " ".join(f"<{_name(p)}>" for p in parts) or "<value>"


def parse_page(text: str, utility: str) -> list[Example]:
    """The examples of one tldr page (markdown: ``- description:`` then a backquoted line)."""
    out: list[Example] = []
    description = ""
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("- "):
            description = line[2:].rstrip(":").strip()
            description = re.sub(r"\[(\w+)\]", r"\1", description)  # "[c]reate" -> "create"
        elif line.startswith("`") and line.endswith("`") and len(line) > 2 and description:
            command = _PLACEHOLDER.sub(_placeholder, line[1:-1]).strip()
            if command and "\n" not in command:
                out.append(Example(utility, description, command))
            description = ""
    return out


# -- index --------------------------------------------------------------------------------------
class Index:
    """All examples of one pages directory, with an inverted index over description stems."""

    def __init__(self, pages_dir: Path, platforms: Sequence[str]) -> None:
        self.pages_dir = pages_dir
        self.examples: list[Example] = []
        self.postings: dict[str, list[int]] = {}
        self.by_utility: dict[str, list[int]] = {}
        seen: set[str] = set()
        n_pages = 0
        for plat in platforms:  # platform pages first: they shadow common ones of the same name
            folder = pages_dir / plat
            if not folder.is_dir():
                continue
            for page in sorted(folder.glob("*.md")):
                name = page.stem
                if name in seen or n_pages >= MAX_PAGES:
                    continue
                seen.add(name)
                n_pages += 1
                try:
                    text = page.read_text(encoding="utf-8", errors="replace")
                except OSError:
                    continue
                for ex in parse_page(text, name):
                    i = len(self.examples)
                    self.examples.append(ex)
                    self.by_utility.setdefault(name, []).append(i)
                    for s in set(stems(ex.description)) | set(stems(name.replace("-", " "))):
                        self.postings.setdefault(s, []).append(i)

    def search(self, text: str, limit: int, utilities: Sequence[str] = ()) -> list[Example]:
        """The examples whose descriptions best match ``text``; named utilities' pages first."""
        if limit <= 0 or not self.examples:
            return []
        n = len(self.examples)
        scores: dict[int, float] = {}
        for s in stems(text):
            hits = self.postings.get(s, ())
            if not hits or len(hits) > n // 4:
                continue  # absent, or too common to tell examples apart
            idf = math.log(n / len(hits))
            for i in hits:
                scores[i] = scores.get(i, 0.0) + idf
        named = {u for u in utilities if u in self.by_utility}
        best: dict[int, float] = {}
        for i, score in scores.items():
            ex = self.examples[i]
            # a named utility's examples win; a bare page-name match is not enough on its own
            best[i] = score * (2.0 if ex.utility in named else 1.0) / (1 + 0.02 * len(ex.command))
        ranked = sorted(best, key=lambda i: (-best[i], i))
        out: list[Example] = []
        for i in ranked:
            if best[i] < 2.0:
                break
            out.append(self.examples[i])
            if len(out) == limit:
                break
        return out


_INDEXES: dict[tuple[str, float], Index] = {}
_LOCK = threading.Lock()


def index(pages_dir: Path | None = None) -> Index | None:
    """The index of the user's tldr cache (built once per process while it is unchanged)."""
    pages_dir = pages_dir or find_pages_dir()
    if pages_dir is None:
        return None
    platforms = PLATFORMS.get(platform.system(), ("linux", "common"))
    try:
        stamp = max((pages_dir / p).stat().st_mtime for p in platforms if (pages_dir / p).is_dir())
    except (OSError, ValueError):
        return None
    key = (str(pages_dir), stamp)
    with _LOCK:
        idx = _INDEXES.get(key)
        if idx is None:
            idx = Index(pages_dir, platforms)
            _INDEXES.clear()
            _INDEXES[key] = idx
    return idx


def examples(text: str, limit: int, utilities: Sequence[str] = (),
             pages_dir: Path | None = None) -> list[Example]:
    """Up to ``limit`` tldr examples for a request; [] when there is no tldr cache."""
    if limit <= 0:
        return []
    try:
        idx = index(pages_dir)
        return idx.search(text, limit, utilities) if idx else []
    except Exception:  # noqa: BLE001 - a hint: a broken cache must not stop an answer
        return []
