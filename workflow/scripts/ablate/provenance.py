"""What produced a run: the workflow's git commit (and uncommitted changes), the versions
of ablate, Python, TensorFlow and Keras, and on a GPU its model and CUDA version.

A record written beside the results (params.yaml, study.yaml), never a Snakemake param,
so that a new commit or a new TensorFlow reruns nothing by itself. Reading it imports no
TensorFlow; the GPU part is filled in only where TensorFlow is already imported.
"""

from __future__ import annotations

import hashlib
import platform
import subprocess
import sys
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

# The checkout this package lives in: workflow/scripts/ablate -> the repository root.
WORKFLOW_ROOT = Path(__file__).resolve().parents[3]


def git_state(root: Path = WORKFLOW_ROOT) -> dict[str, Any]:
    """``commit``, ``dirty`` and, when dirty, ``diff_sha256`` (of `git diff HEAD --binary`:
    tracked files only, so results and caches never count) of the checkout at ``root``;
    ``commit`` None with the reason where it is not a git checkout or git is missing."""

    def git(*args: str) -> bytes:
        return subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, check=True, timeout=60
        ).stdout

    try:
        commit = git("rev-parse", "HEAD").decode().strip()
        diff = git("diff", "HEAD", "--binary")
    except OSError:
        return {"commit": None, "reason": "git not found"}
    except subprocess.CalledProcessError as error:  # e.g. not a git checkout
        said = error.stderr.decode(errors="replace").strip().splitlines()
        return {"commit": None, "reason": said[0] if said else f"git failed in {root}"}
    except subprocess.TimeoutExpired:
        return {"commit": None, "reason": f"git took over a minute in {root}"}
    state: dict[str, Any] = {"commit": commit, "dirty": bool(diff)}
    if diff:
        state["diff_sha256"] = hashlib.sha256(diff).hexdigest()
    return state


def package_version(*names: str) -> str | None:
    """The installed version of the first of ``names`` that is installed."""
    for name in names:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return None


def versions() -> dict[str, Any]:
    """ablate, Python, TensorFlow (any of its builds) and Keras, from package metadata."""
    return {
        "ablate": package_version("ablate"),
        "python": platform.python_version(),
        "tensorflow": package_version("tensorflow", "tensorflow-cpu", "tf-nightly"),
        "keras": package_version("keras"),
    }


def gpu_details() -> dict[str, Any]:
    """The visible GPUs' names and the CUDA version TensorFlow was built with; {} without a
    GPU, or where this process has not imported TensorFlow (a record must not start it)."""
    tf = sys.modules.get("tensorflow")
    if tf is None:
        return {}
    devices = tf.config.list_physical_devices("GPU")
    if not devices:
        return {}
    names = [tf.config.experimental.get_device_details(d).get("device_name") for d in devices]
    return {"gpus": names, "cuda": tf.sysconfig.get_build_info().get("cuda_version")}


def record(root: Path = WORKFLOW_ROOT, files: Sequence[str | Path] = ()) -> dict[str, Any]:
    """Everything above, for a run's params.yaml or the study's study.yaml, with the
    sha256 of each of ``files`` (a user's model file)."""
    found = {"workflow": git_state(root), "versions": versions(), **gpu_details()}
    if files:
        found["files"] = {str(f): hashlib.sha256(Path(f).read_bytes()).hexdigest() for f in files}
    return found
