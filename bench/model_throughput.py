"""Benchmark: is training fed fast enough? S1's ResNet50 through ablate's input pipeline
versus the same model fed one synthetic in-memory batch over and over (its own limit).

The pipeline side decodes a split folder of generated JPEGs once into ablate's array file
(`decode_split`) and feeds `training_pipeline` from it, S1's augmentation (flip,
brightness, hue, contrast) switched on, where `augmentation_placement` puts it: `data`
(tf.data, on the CPU) or `model` (layers in front of the network, on the device that
trains); `both` measures the two. Every side runs `model.fit` for the same number of
steps after a warm-up, in one process, alternating rounds. On a GPU use --size 224 (as
`make gpu-check` does); on a CPU the default small size keeps it to a minute.

    .venv/bin/python bench/model_throughput.py [--size 64] [--steps 30] [--placement both]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow" / "scripts"))
from benchmarks_doc import write_section  # noqa: E402

from ablate.train import runtime  # noqa: E402

# Most images train; validation and test take the least a split may (one per class).
SPLIT = {"by": "counts", "train": 38, "validation": 1, "test": 1, "seed": 0, "max_per_class": None}
S1_AUGMENTATION = [
    {"name": "random_flip", "mode": "horizontal"},
    {"name": "random_brightness", "factor": 0.2},
    {"name": "random_hue", "factor": 0.2},
    {"name": "random_contrast", "factor": [0.2, 0.5]},
]


def write_jpegs(root: Path, classes: int, per_class: int, size: int) -> None:
    """Noise JPEGs 1.5x the training size, so the pipeline decodes and resizes."""
    rng = np.random.default_rng(0)
    side = int(size * 1.5)
    for label in range(classes):
        folder = root / f"class{label:02d}"
        folder.mkdir(parents=True)
        for index in range(per_class):
            pixels = rng.integers(0, 256, size=(side, side, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(folder / f"{index}.jpg", quality=90)


def images_per_second(model, dataset, steps: int, batch_size: int, warm_up: int = 3) -> float:
    model.fit(dataset, epochs=1, steps_per_epoch=warm_up, verbose=0)  # trace, fill caches
    started = time.perf_counter()
    model.fit(dataset, epochs=1, steps_per_epoch=steps, verbose=0)
    return steps * batch_size / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--placement", choices=["data", "model", "both"], default="data")
    parser.add_argument("--model", default="keras_app:ResNet50", help="a registry model name")
    parser.add_argument("--precision", default="float32", help="e.g. mixed_float16 on a GPU")
    parser.add_argument("--doc", type=Path, default=None, help="default: docs/benchmarks.md")
    args = parser.parse_args()
    runtime.configure(seed=0)
    import tensorflow as tf

    from ablate.data.arrays import decode_split
    from ablate.data.pipeline import split_batches, training_pipeline
    from ablate.data.split import split_dataset
    from ablate.train.augmentation import build_augmentation

    classes = 10
    shape = (args.size, args.size, 3)
    placements = ["data", "model"] if args.placement == "both" else [args.placement]
    batch = (
        tf.random.uniform((args.batch_size, *shape), 0, 255),
        tf.one_hot(tf.range(args.batch_size) % classes, classes),
    )
    synthetic = tf.data.Dataset.from_tensors(batch).repeat()
    with tempfile.TemporaryDirectory(prefix="ablate-bench-") as folder:
        root = Path(folder)
        write_jpegs(root / "jpegs", classes, per_class=40, size=args.size)
        # The study's own split step writes the manifest (with each file's sha256 and size)
        # that the decode step checks.
        split_dataset(root / "jpegs", root / "split", root / "manifest.csv", SPLIT)
        arrays = [root / "train-images.npy", root / "train-labels.npy"]
        decode_split(
            split_dir=root / "split", manifest=root / "manifest.csv", split="train",
            image_size=shape[:2], color_mode="rgb", images_path=arrays[0], labels_path=arrays[1],
        )  # fmt: skip
        batches, _ = split_batches(arrays, "train", args.batch_size, 0)
        # One model per side, all built alike: the synthetic side trains the bare network.
        sides = {}
        for placement in placements:
            augmentation = build_augmentation(S1_AUGMENTATION, seed=0)
            if placement == "model":
                model = compiled(args.model, shape, classes, args.precision, augmentation)
                pipeline = training_pipeline(batches, classes).repeat()
            else:
                model = compiled(args.model, shape, classes, args.precision)
                pipeline = training_pipeline(batches, classes, augmentation).repeat()
            sides[placement] = (model, pipeline)
        sides["synthetic"] = (compiled(args.model, shape, classes, args.precision), synthetic)
        for model, dataset in sides.values():
            images_per_second(model, dataset, 1, args.batch_size)
        # Alternate the sides so that machine noise hits them alike; keep the medians.
        measured = {name: [] for name in sides}
        for _ in range(args.rounds):
            for name, (model, dataset) in sides.items():
                measured[name].append(images_per_second(model, dataset, args.steps,
                                                        args.batch_size))  # fmt: skip
    rates = {name: statistics.median(values) for name, values in measured.items()}
    ratios = {name: rates[name] / rates["synthetic"] for name in placements}
    device = f"GPU ({runtime.gpus()[0].name})" if runtime.gpus() else "CPU only"
    rows = {"data": "ablate pipeline, augmentation in tf.data (`augmentation_placement: data`)",
            "model": "ablate pipeline, augmentation in the model (`augmentation_placement: "
                     "model`)"}  # fmt: skip
    lines = [
        "## Training throughput: input pipeline vs the model's limit (`bench/model_throughput.py`)",
        "",
        f"`{args.model}` (random init, S1's network by default) at {args.size}x{args.size}, batch "
        f"{args.batch_size}, {args.precision}; JPEGs decoded once to an array, S1's "
        f"augmentation; median of {args.rounds} alternating rounds of {args.steps} steps after "
        f"a warm-up, one process. Measured {date.today()} on {platform.machine()}, {device}.",
        "",
        "| input | images/s | / synthetic |",
        "|---|---:|---:|",
        *(f"| {rows[name]} | {rates[name]:.1f} | {ratios[name]:.2f} |" for name in placements),
        f"| one synthetic in-memory batch, repeated | {rates['synthetic']:.1f} | 1.00 |",
        "",
        "Target on a GPU at 224x224: at least 0.90 of the synthetic rate. On a CPU the "
        "augmentation and the model share the same cores, so every bit of input work shows "
        "in the ratio; on a GPU tf.data runs on the CPU beside it.",
    ]
    write_section("model_throughput", lines, args.doc)
    for name in placements:
        print(f"{name}: {rates[name]:.1f} images/s, ratio {ratios[name]:.2f}")
    print(f"synthetic: {rates['synthetic']:.1f} images/s")


def compiled(name: str, shape, classes: int, precision: str, augmentation=None):
    """The registry's model ``name`` (random init), behind ``augmentation`` if given,
    compiled with SGD as S1 trains it."""
    import keras

    from ablate.train.augmentation import with_augmentation
    from ablate.train.models import build_model

    spec = {"name": name, "weights": "none"} if name.startswith("keras_app:") else {"name": name}
    with runtime.dtype_policy(precision):
        model = build_model(spec, shape, classes)
        if augmentation is not None:
            model = with_augmentation(model, augmentation)
        model.compile(optimizer=keras.optimizers.SGD(0.005), loss="categorical_crossentropy")
    return model


if __name__ == "__main__":
    main()
