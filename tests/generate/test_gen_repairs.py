"""Repairs of answers that contradict the request in a known way (cmdai.generate.repair_known)."""

from __future__ import annotations

import pytest

from cmdai import generate as g
from cmdai.config import GenerateConfig
from tests.doubles import FixedBackend


@pytest.mark.parametrize("command, request_text, repaired", [
    ("sed -i 's/a/b/g' f.csv", "print f.csv with a as b, without changing the file",
     "sed 's/a/b/g' f.csv"),
    ("sed -Ei.bak 's/a+/b/' f | head", "the first lines of f with a+ as b; leave f untouched",
     "sed -E 's/a+/b/' f | head"),
    ("sed --in-place -e 's/a/b/' f", "show f with a as b but don't modify it",
     "sed -e 's/a/b/' f"),
    ("sed -iE 's/a/b/' f", "f with a as b, not editing the original", "sed -E 's/a/b/' f"),
    ("grep -v x f | sed -i 's/a/b/' f", "do not change f", "grep -v x f | sed 's/a/b/' f"),
    # asked to edit: left alone
    ("sed -i 's/a/b/g' f.csv", "replace a with b in f.csv", "sed -i 's/a/b/g' f.csv"),
    # tar cannot read a compressed file that is not an archive
    ("tar -xzvf logs/big.log.gz", "decompress logs/big.log.gz", "gunzip logs/big.log.gz"),
    ("tar xjf notes.bz2", "unpack notes.bz2", "bunzip2 notes.bz2"),
    ("tar -xzf site.tar.gz", "extract site.tar.gz", "tar -xzf site.tar.gz"),
    ("tar -xzf site.tgz", "extract site.tgz", "tar -xzf site.tgz"),
    ("tar -xzf big.log.gz -C out", "unpack big.log.gz into out", "tar -xzf big.log.gz -C out"),
    ("tar -czf logs.gz logs", "compress logs", "tar -czf logs.gz logs"),  # not extracting
    # forced colour: escape codes in pipes and files
    ("grep -rn --color=always FIXME src", "FIXME in src with line numbers", "grep -rn FIXME src"),
    ("grep --color=always -i x f", "x in f, in colour", "grep --color=always -i x f"),
])
def test_known_contradictions_are_repaired(request_text, command, repaired):
    fixed = g.repair_known(command, request_text)
    assert fixed == repaired
    assert g.parse_error(fixed) is None


def test_a_repair_happens_without_a_retry(monkeypatch, project):
    monkeypatch.setenv("CMDAI_TEST_ANSWER", "sed -i 's/x/y/' notes.txt\n# in place")
    answer = g.generate("show notes.txt with x as y, without modifying the file",
                        cfg=GenerateConfig(), cwd=str(project), backends=[FixedBackend(None)])
    assert answer.command == "sed 's/x/y/' notes.txt" and answer.attempts == 1


@pytest.mark.parametrize("command, request_text, repaired", [
    ("sort data/n.txt", "sort data/n.txt numerically", "sort -n data/n.txt"),
    ("sort -r -k2 data/n.txt | head", "the top rows of data/n.txt by numeric value",
     "sort -n -r -k2 data/n.txt | head"),
    ("sort -k2,2n data/n.txt", "sort data/n.txt numerically", "sort -k2,2n data/n.txt"),
    ("sort -h sizes.txt", "sort sizes.txt numerically", "sort -h sizes.txt"),
    ("grep -r FIXME src", "FIXME in src with line numbers", "grep -n -r FIXME src"),
    ("grep -rc FIXME src", "count FIXME in src, with line numbers", "grep -rc FIXME src"),
    ("find src -type f", "the files in src only, not in subdirectories",
     "find src -maxdepth 1 -type f"),
    ("find src", "list src non-recursively", "find src -maxdepth 1"),
    ("find src -maxdepth 2 -type f", "files in src, not in subdirectories",
     "find src -maxdepth 2 -type f"),  # the answer chose a depth: left alone
    ("grep -r -v TODO src", "list the files that do not contain TODO", "grep -r -L TODO src"),
    ("grep -rv TODO src", "which files don't mention TODO", "grep -rL TODO src"),
    ("grep -v TODO data/n.txt", "the lines without TODO", "grep -v TODO data/n.txt"),
    ("grep -L TODO src", "files without TODO in src", "grep -r -L TODO src"),  # a directory
    ("grep TODO data/n.txt", "TODO in data/n.txt", "grep TODO data/n.txt"),
    ("sort data/n.txt", "sort data/n.txt", "sort data/n.txt"),
])
def test_options_asked_for_in_words_are_added(tmp_path, command, request_text, repaired):
    (tmp_path / "src").mkdir()
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "n.txt").write_text("3\n1\n")
    fixed = g.repair_known(command, request_text, str(tmp_path))
    assert fixed == repaired
    assert g.parse_error(fixed) is None


def test_filters_echoing_the_listing_are_dropped(project):
    (project / "Makefile").write_text("all:\n")
    command = "grep -r 'TODO' . | grep -v 'Makefile' | grep -v 'src/' | grep -v notes.txt"
    assert g.repair_known(command, "show the TODO lines", str(project)) == "grep -r 'TODO' ."
    assert g.repair_known(command, "list the files that contain TODO", str(project)) == \
        "grep -l -r 'TODO' ."
    kept = "grep -r 'TODO' . | grep -v 'Makefile'"  # one filter may be meant
    assert g.repair_known(kept, "TODO lines outside the Makefile", str(project)) == kept
    other = "grep -r 'TODO' . | grep -v 'vendor' | grep -v 'dist'"  # not names shown here
    assert g.repair_known(other, "TODO lines", str(project)) == other


@pytest.mark.parametrize("request_text, command, repaired", [
    ("which files mention TODO", "grep -r 'TODO' .", "grep -l -r 'TODO' ."),
    ("list the python files that import os", "grep -rn 'import os' src", "grep -l -rn 'import os' src"),
    ("show the lines of files that contain TODO", "grep -r 'TODO' .", "grep -r 'TODO' ."),
    ("which files mention TODO", "grep -rc 'TODO' .", "grep -rc 'TODO' ."),
    ("which files mention TODO", "grep -r 'TODO' . | wc -l", "grep -r 'TODO' . | wc -l"),
])
def test_a_request_for_file_names_gets_grep_l(project, request_text, command, repaired):
    assert g.repair_known(command, request_text, str(project)) == repaired


def test_rename_with_two_names_is_mv(project):
    assert g.repair_known("rename notes.txt notes.md", "rename notes.txt to notes.md",
                          str(project)) == "mv notes.txt notes.md"
    assert g.repair_known("rename 's/a/b/' *.txt", "x", str(project)) == "rename 's/a/b/' *.txt"
    assert g.repair_known("rename gone.txt x.txt", "x", str(project)) == "rename gone.txt x.txt"


def test_word_cues_do_not_change_commands_that_already_serve_them(project):
    numbered = "grep -v '^$' notes.txt | nl"  # nl numbers the lines
    assert g.repair_known(numbered, "the non-blank lines with line numbers", str(project)) == \
        numbered
    two = "comm -12 <(find a -maxdepth 0) <(find b)"  # which find is meant is unclear
    assert g.repair_known(two, "a (non-recursive) and b (recursive)", str(project)) == two
