"""The record of what produced a run: a git checkout's state and the package versions."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from importlib import metadata

import pytest

from ablate.provenance import git_state, record, versions


def git(root, *args):
    return subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True).stdout


@pytest.fixture
def checkout(tmp_path):
    git(tmp_path, "init", "-q")
    (tmp_path / "Snakefile").write_text("rule all:\n")
    (tmp_path / "notes.txt").write_text("untracked\n")
    git(tmp_path, "add", "Snakefile")
    git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "one")
    return tmp_path


def test_a_clean_checkout_gives_its_commit_and_untracked_files_do_not_count(checkout):
    commit = git(checkout, "rev-parse", "HEAD").decode().strip()
    assert git_state(checkout) == {"commit": commit, "dirty": False}


def test_a_changed_tracked_file_makes_the_tree_dirty_with_the_hash_of_its_diff(checkout):
    (checkout / "Snakefile").write_text("rule all:\n    input: 'a'\n")
    state = git_state(checkout)
    assert state["dirty"] is True
    assert (
        state["diff_sha256"]
        == hashlib.sha256(git(checkout, "diff", "HEAD", "--binary")).hexdigest()
    )
    (checkout / "Snakefile").write_text("rule all:\n    input: 'b'\n")
    assert git_state(checkout)["diff_sha256"] != state["diff_sha256"]  # another change


def test_outside_a_checkout_the_commit_is_none_with_gits_reason(tmp_path, monkeypatch):
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    state = git_state(tmp_path)
    assert state["commit"] is None and "not a git repository" in state["reason"]
    monkeypatch.setenv("PATH", "/nonexistent")
    assert git_state(tmp_path) == {"commit": None, "reason": "git not found"}


def test_versions_are_those_of_the_installed_packages():
    found = versions()
    assert found["keras"] == metadata.version("keras")
    assert found["python"] == ".".join(map(str, sys.version_info[:3]))
    import tensorflow as tf  # the build installed, whatever its package is called

    assert found["tensorflow"] == tf.__version__
    assert found["ablate"] == metadata.version("ablate")


def test_the_record_has_no_gpu_part_where_tensorflow_was_never_imported(checkout):
    code = ("import sys; from ablate.provenance import record; r = record(); "
            "print(sorted(r), 'tensorflow' in sys.modules)")  # fmt: skip
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["['versions',", "'workflow']", "False"]
    assert record(checkout)["workflow"]["dirty"] is False
