"""Typed, frozen description of a resolved study: what every stage reads.

``ablate.config`` builds these once from a validated config with every default filled in
from the JSON schema (the one place defaults live); nothing here has a default of its own,
and a missing or extra key is an error, so the types and the schema cannot drift apart
(tests/test_config.py compares the fields with the schema's keys).

Settings travel to jobs as plain mappings (``as_dict``) in Snakemake ``params``, so the
params rerun trigger sees every change; a job turns them back with ``from_mapping``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, Self


@dataclasses.dataclass(frozen=True)
class _Record:
    """A frozen record built from, and turned back into, a plain mapping."""

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> Self:
        fields = dataclasses.fields(cls)
        names = [field.name for field in fields]
        required = [field.name for field in fields if field.default is dataclasses.MISSING]
        if missing := [name for name in required if name not in values]:
            raise ValueError(f"{cls.__name__}: missing {', '.join(missing)}")
        if extra := sorted(set(values) - set(names)):
            raise ValueError(f"{cls.__name__}: unknown {', '.join(extra)}")
        return cls(**{name: values[name] for name in names if name in values})

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class CellSettings(_Record):
    """A cell's fully resolved training setup (schema ``$defs/settings``)."""

    model: dict[str, Any]  # {name, ...builder arguments}
    augmentation: list[dict[str, Any]]  # [{name, ...layer arguments}], applied in order
    optimizer: dict[str, Any]  # {name, learning_rate, ...}
    mixing: dict[str, Any] | None  # {name, probability, ...} or None
    schedule: dict[str, Any]  # {name, alpha, every_epochs, factor}
    reduce_lr_on_plateau: dict[str, Any] | None
    early_stopping: dict[str, Any] | None
    monitor: str
    label_smoothing: float
    precision: str
    jit_compile: str | bool
    augmentation_placement: str  # auto | model | data
    tensorboard: bool
    gpus: int
    batch_size: int
    epochs: int


@dataclasses.dataclass(frozen=True)
class DatasetSettings(_Record):
    """Where the images come from and how they are labelled, split and decoded."""

    source: str
    sha256: str | None
    tfds_data_dir: str | None
    labels: dict[str, Any]  # {from, root, ...}, resolved
    split: dict[str, Any]  # {by, seed, train, validation, test, max_per_class}, resolved
    image_size: list[int]
    color_mode: str
    decode: str
    max_per_class: int | None
    max_pixels: int  # larger images are quarantined (decompression bombs)

    @property
    def kind(self) -> str:
        """The source's kind: builtin, dir, url or tfds."""
        return self.source.partition(":")[0]

    @property
    def input_shape(self) -> tuple[int, int, int]:
        channels = 1 if self.color_mode == "grayscale" else 3
        return (int(self.image_size[0]), int(self.image_size[1]), channels)

    def images(self) -> dict[str, Any]:
        """What decoding and the models need of the data set."""
        return {"image_size": list(self.image_size), "color_mode": self.color_mode}


@dataclasses.dataclass(frozen=True)
class Resources(_Record):
    """What every train job asks the scheduler for (besides its cell's GPUs)."""

    cpus: int
    mem_mb: int
    runtime: int  # minutes
    runtime_growth: float
    runs_per_gpu: int = 1  # train jobs seated on one GPU (ablate.train.gpu_slots)
    gpu_memory_mb: int | None = None  # each train job's GPU memory limit; None: grows


@dataclasses.dataclass(frozen=True)
class Checks(_Record):
    """Thresholds of the aggregate's warnings."""

    divergence_gap: float
    min_effect: float  # differences within +/- this are "no difference"
    futility: float  # adaptive seeds: stop an undecided cell below this conditional power
    multiplicity: str = "holm"  # "holm": a study-wide 5 % false-verdict rate; "none"


@dataclasses.dataclass(frozen=True)
class Cell:
    name: str
    levels: dict[str, str]  # factor -> level, in factor order
    settings: CellSettings


@dataclasses.dataclass(frozen=True)
class Study:
    name: str
    factors: list[str]
    cells: dict[str, Cell]  # cell name -> cell, in design order
    seeds: list[int]  # every seed a cell may train
    rounds: list[list[int]]  # the seeds of each round: one round unless adaptive
    baseline: str  # name of the baseline cell (a list design may leave it out)
    baseline_levels: dict[str, str]
    dataset: DatasetSettings
    resources: Resources
    checks: Checks
    partial: bool

    @property
    def adaptive(self) -> bool:
        """Whether cells get more seeds only while their verdict is open."""
        return len(self.rounds) > 1


def run_params(
    description: Mapping[str, Any],
    seed: int,
    dataset: Mapping[str, Any],
    settings: Mapping[str, Any],
) -> dict[str, Any]:
    """What a run's ``params.yaml`` holds: its study, cell and levels, seed, the data set's
    image settings and the cell's settings (``python -m ablate.plan`` compares against it)."""
    return {**description, "seed": seed, "dataset": dict(dataset), **settings}


def describe_cell(study: Study, cell: str) -> dict[str, Any]:
    """The study, cell and factor levels recorded with every run of ``cell``."""
    return {"study": study.name, "cell": cell, "levels": study.cells[cell].levels}
