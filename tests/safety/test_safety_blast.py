"""Blast radius on a real directory tree and a real git index (no process of the command runs)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from cmdai.safety import check, reset_cache
from cmdai.safety.blast import git_tracked


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
