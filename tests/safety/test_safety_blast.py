"""Blast radius on a real directory tree and a real git index (no process of the command runs)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from cmdai.safety import blast, check, reset_cache
from cmdai.safety.blast import estimate, git_tracked
from cmdai.safety.engine import ruleset
from cmdai.safety.parse import parse


@pytest.fixture(autouse=True)
def _fresh_cache():
    reset_cache()


@pytest.fixture
def tree(tmp_path):
    (tmp_path / "build" / "sub").mkdir(parents=True)
    for i in range(5):
        (tmp_path / "build" / f"f{i}.o").write_bytes(b"x" * 100)
    (tmp_path / "build" / "sub" / "deep.o").write_bytes(b"y" * 1000)
    (tmp_path / "notes.txt").write_text("keep me\n")
    (tmp_path / "a.log").write_text("1")
    (tmp_path / "b.log").write_text("22")
    return tmp_path


def test_recursive_remove_counts_files_and_bytes(tree) -> None:
    v = check("rm -rf build", cwd=str(tree))
    assert v.level == "safe"
    assert v.blast == "would remove 6 files in 2 directories, 1.5 KB"


def test_globs_are_expanded(tree) -> None:
    assert check("rm *.log", cwd=str(tree)).blast == "would remove 2 files, 3 B"


def test_missing_target_says_nothing_matches(tree) -> None:
    assert check("rm -f *.tmp", cwd=str(tree)).blast == "would remove nothing: no such file"


def test_overwrite_by_redirection(tree) -> None:
    assert check("echo hi > notes.txt", cwd=str(tree)).blast == "would overwrite 1 file, 8 B"
    assert check("echo hi >> notes.txt", cwd=str(tree)).blast is None


def test_permission_and_move(tree) -> None:
    assert check("chmod -R 755 build", cwd=str(tree)).blast.startswith(
        "would change permissions of 6 files")
    assert check("mv a.log b.log /tmp/", cwd=str(tree)).blast == "would move 2 files, 3 B"


def test_unknowable_targets_are_skipped(tree) -> None:
    assert check("rm -rf $SOMEWHERE", cwd=str(tree)).blast is None
    assert check("rm -rf $(cat list)", cwd=str(tree)).blast is None
    assert check("ls -la", cwd=str(tree)).blast is None
    assert check("rm -rf build", cwd=str(tree), blast_radius=False).blast is None


def test_nothing_is_removed(tree) -> None:
    check("rm -rf build; echo x > notes.txt", cwd=str(tree))
    assert (tree / "build" / "sub" / "deep.o").exists()
    assert (tree / "notes.txt").read_text() == "keep me\n"


@pytest.mark.skipif(shutil.which("git") is None, reason="git not installed")
def test_tracked_files_are_counted_from_the_git_index(tree) -> None:
    env = {"GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_SYSTEM": "/dev/null", "PATH": "/usr/bin:/bin"}
    subprocess.run(["git", "init", "-q", str(tree)], check=True, env=env)
    subprocess.run(["git", "-C", str(tree), "add", "build/f0.o", "build/sub/deep.o", "notes.txt"],
                   check=True, env=env)
    assert sorted(git_tracked(str(tree), deadline=float("inf"))) == [
        "build/f0.o", "build/sub/deep.o", "notes.txt"]
    v = check("rm -rf build", cwd=str(tree))
    assert v.blast == "would remove 6 files in 2 directories, 1.5 KB; 2 tracked by git"
    subprocess.run(["git", "-C", str(tree), "update-index", "--index-version", "4"],
                   check=True, env=env)
    assert sorted(git_tracked(str(tree), deadline=float("inf"))) == [
        "build/f0.o", "build/sub/deep.o", "notes.txt"]


@pytest.fixture
def big_tree(tmp_path):
    d = tmp_path / "many"
    d.mkdir()
    for i in range(600):  # the clock is looked at every 256 entries
        (d / f"f{i}").write_bytes(b"z")
    return tmp_path


class _Clock:
    """A perf_counter that moves one second each time it is read: any budget expires at once."""

    def __init__(self) -> None:
        self.now = 1000.0

    def perf_counter(self) -> float:
        self.now += 1.0
        return self.now


def test_counting_stops_when_the_budget_is_spent(big_tree, monkeypatch) -> None:
    monkeypatch.setattr(blast, "time", _Clock())
    v = check("rm -rf many", cwd=str(big_tree))
    assert v.level == "safe"
    assert v.blast is not None and v.blast.startswith("would remove at least ")
    assert f"(counting stopped after {int(blast.BUDGET_S * 1000)} ms)" in v.blast
    assert "600 files" not in v.blast  # the count is a lower bound, not the total


def test_zero_budget_stops_counting_and_says_so(big_tree) -> None:
    parsed = parse("rm -r many", ruleset(None).tables)
    text = estimate(parsed, str(big_tree), budget_s=0)
    assert text is not None and "at least" in text and "counting stopped after 0 ms" in text
    # with time to spare the same tree is counted in full
    assert estimate(parsed, str(big_tree), budget_s=float("inf")) == (
        "would remove 600 files in 1 directory, 600 B")


def test_xargs_targets_from_input_are_not_counted(tree) -> None:
    v = check("ls | xargs -I % rm -rf %/sub", cwd=str(tree))
    assert v.level == "high" and v.blast is None
