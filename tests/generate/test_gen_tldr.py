"""Examples from a tldr cache (cmdai.retrieval.tldr), with caches made in a temp dir."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cmdai import generate as g
from cmdai.config import GenerateConfig
from cmdai.retrieval import tldr
from tests.doubles import FixedBackend

TAR = """# tar

> Archiving utility.
> More information: <https://www.gnu.org/software/tar>.

- [c]reate an archive and write it to a file:

`tar cf {{path/to/target.tar}} {{path/to/file1 path/to/file2 ...}}`

- E[x]tract a (compressed) archive file into the current directory [v]erbosely:

`tar {{[-x|--extract]}} {{[-v|--verbose]}} {{[-f|--file]}} {{path/to/source.tar[.gz|.bz2|.xz]}}`

- List the contents of a tar file:

`tar tvf {{path/to/source.tar}}`
"""

GZIP_COMMON = """# gunzip

> Extract files from a gzip archive.

- Extract a file from an archive, replacing the original file:

`gunzip {{archive.tar.gz}}`

- Decompress to `stdout`, keeping the archive:

`gunzip {{[-c|--stdout]}} {{archive.tar.gz}}`
"""

SS_LINUX = """# ss

> Utility to investigate sockets.

- Show all TCP sockets listening on a port:

`ss {{[-lt|--listening --tcp]}} src :{{8080}}`
"""

SS_OSX_ONLY = """# ss

> A page that only macOS has.

- Show listening sockets on macOS:

`ss --mac`
"""


def make_cache(root: Path) -> Path:
    pages = root / "pages"
    for plat, name, text in [("common", "tar", TAR), ("common", "gunzip", GZIP_COMMON),
                             ("linux", "ss", SS_LINUX), ("osx", "ss", SS_OSX_ONLY)]:
        (pages / plat).mkdir(parents=True, exist_ok=True)
        (pages / plat / f"{name}.md").write_text(text)
    return pages


def test_parse_page_turns_tldr_syntax_into_cmdai_placeholders():
    ex = tldr.parse_page(TAR, "tar")
    assert [e.description for e in ex] == [
        "create an archive and write it to a file",
        "Extract a (compressed) archive file into the current directory verbosely",
        "List the contents of a tar file",
    ]
    assert ex[0].command == "tar cf <target.tar> <file1> <file2>"
    assert ex[1].command == "tar -x -v -f <source.tar>"  # option alternatives: short
    assert ex[2].command == "tar tvf <source.tar>"
    assert all(g.parse_error(e.command) is None for e in ex)  # placeholders still parse


@pytest.mark.parametrize("line, expected", [
    ("`kill {{1234}}`", "kill <value_1234>"),
    ("`cp {{path/to/dir/}} {{--recursive}}`", "cp <dir> --recursive"),
    ("`ls`", "ls"),
])
def test_placeholder_edge_cases(line, expected):
    assert tldr.parse_page(f"- Do it:\n\n{line}\n", "x")[0].command == expected


def test_a_page_without_descriptions_or_with_broken_lines_yields_what_it_can():
    assert tldr.parse_page("# x\n\n`x --orphan`\n- dangling description:\n", "x") == []
    assert tldr.parse_page("", "x") == []


def test_cache_roots_follow_the_environment(tmp_path):
    env = {"HOME": str(tmp_path), "TLDR_CACHE_DIR": str(tmp_path / "mine"),
           "XDG_CACHE_HOME": str(tmp_path / "xc")}
    roots = tldr.cache_roots(env)
    assert roots[0] == tmp_path / "mine"
    assert tmp_path / "xc" / "tldr" in roots
    assert tmp_path / ".local" / "share" / "tldr" in roots


@pytest.mark.parametrize("layout", ["pages", "pages.en", "tldr-main/pages"])
def test_pages_dir_is_found_in_each_client_layout(tmp_path, layout):
    root = tmp_path / "cache"
    (root / layout / "common").mkdir(parents=True)
    assert tldr.find_pages_dir([tmp_path / "absent", root]) == root / layout


def test_no_cache_means_no_examples(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    for var in ("TLDR_CACHE_DIR", "XDG_CACHE_HOME", "XDG_DATA_HOME"):
        monkeypatch.delenv(var, raising=False)
    assert tldr.find_pages_dir() is None
    assert tldr.examples("extract an archive", 2) == []


def test_search_ranks_by_shared_words_and_platform_pages_shadow_others(tmp_path, monkeypatch):
    pages = make_cache(tmp_path / "cache")
    monkeypatch.setenv("TLDR_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(tldr.platform, "system", lambda: "Linux")
    found = tldr.examples("decompress the gzip archive logs.gz and keep the archive", 2)
    assert found and found[0].utility == "gunzip"
    assert found[0].command == "gunzip -c <archive.tar.gz>"
    ss = tldr.examples("which sockets are listening on port 8080", 1)
    assert [e.command for e in ss] == ["ss -lt src :<value_8080>"]  # linux page, not the osx one
    assert tldr.examples("bake a chocolate cake", 2) == []  # nothing in common: nothing shown
    # a named utility's examples come first
    listing = tldr.examples("tar: list the contents of an archive", 1, utilities=["tar"])
    assert listing[0].command == "tar tvf <source.tar>"
    assert tldr.index(pages).pages_dir == pages


def test_the_index_is_rebuilt_when_the_cache_changes(tmp_path):
    pages = make_cache(tmp_path / "cache")
    first = tldr.index(pages)
    assert tldr.index(pages) is first  # built once
    (pages / "common" / "rev.md").write_text(
        "# rev\n\n- Reverse the characters of each line:\n\n`rev {{file}}`\n")
    stamp = (pages / "common").stat().st_mtime + 5
    os.utime(pages / "common", (stamp, stamp))
    again = tldr.index(pages)
    assert again is not first
    assert tldr.examples("reverse the characters of each line", 1, pages_dir=pages)[0].utility == "rev"


def test_generate_shows_tldr_examples_to_the_model_only_when_enabled(tmp_path, monkeypatch, project):
    make_cache(tmp_path / "cache")
    monkeypatch.setenv("TLDR_CACHE_DIR", str(tmp_path / "cache"))
    request = "decompress the gzip archive and keep the archive"
    on = g.generate(request, cfg=GenerateConfig(prompt="full"), cwd=str(project),
                    backends=[FixedBackend(None)], db=tmp_path / "none.db")
    assert "examples from tldr:" in on.prompt["user"]
    assert "gunzip -c <archive.tar.gz>" in on.prompt["user"]
    off = g.generate(request, cfg=GenerateConfig(prompt="full", tldr=False), cwd=str(project),
                     backends=[FixedBackend(None)], db=tmp_path / "none.db")
    assert "tldr" not in off.prompt["user"]
