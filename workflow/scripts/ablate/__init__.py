"""ablate: image-classification ablation studies."""

import os
from pathlib import Path


def use_in_jobs() -> None:
    """Put this package's folder first on PYTHONPATH, which every job of the workflow
    inherits (local, conda or cluster): a job then runs the code of the workflow it belongs
    to even where another ablate is installed (an editable install of another clone, an
    older release), since Snakemake's script preamble only appends the scripts folder."""
    scripts = str(Path(__file__).resolve().parent.parent)
    rest = [path for path in os.environ.get("PYTHONPATH", "").split(os.pathsep) if path]
    os.environ["PYTHONPATH"] = os.pathsep.join([scripts, *(p for p in rest if p != scripts)])
