"""Tiny offline stand-ins of the studies' data sets, in their real layouts.

Archives are served from 127.0.0.1; TFDS data sets are prepared into a local data_dir by
a subclass of the real catalogue builder that generates small images instead of
downloading, so `tfds.builder(NAME, data_dir=...)` finds them prepared, as on a machine
where `tfds build` ran.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import tarfile
import threading
import zipfile
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
from PIL import Image


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@contextlib.contextmanager
def serve_folder(folder: Path) -> Iterator[str]:
    """An HTTP server on 127.0.0.1 serving ``folder``; yields its base URL."""
    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(folder))
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def pixels(label: int, index: int, size: tuple[int, int] = (20, 16)) -> np.ndarray:
    """A small image whose colour says its class (so one epoch can learn something)."""
    rng = np.random.default_rng([label, index])
    image = rng.integers(0, 64, (size[1], size[0], 3), dtype=np.uint8)
    image[..., label % 3] += np.uint8(60 + 40 * (label % 5))
    return image


def jpeg(label: int, index: int, size: tuple[int, int] = (20, 16)) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels(label, index, size)).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def kaggle_cats_dogs_zip(folder: Path, per_class: int = 25) -> Path:
    """Microsoft's kagglecatsanddogs zip: PetImages/{Cat,Dog}/<i>.jpg, one empty file and
    the Thumbs.db files the real archive ships."""
    path = folder / "kagglecatsanddogs_5340.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for label, animal in enumerate(("Cat", "Dog")):
            for index in range(per_class):
                archive.writestr(f"PetImages/{animal}/{index}.jpg", jpeg(label, index))
            archive.writestr(f"PetImages/{animal}/Thumbs.db", b"\xd0\xcf\x11\xe0 not an image")
        archive.writestr("PetImages/Cat/666.jpg", b"")  # empty, as in the real archive
        archive.writestr("readme[1].txt", "stand-in")
    return path


def food101_tar(folder: Path, train: int = 7, test: int = 2) -> Path:
    """food-101.tar.gz: food-101/images/<class>/<id>.jpg and meta/{train,test}.txt for
    Food-101's 101 classes (their names ship with TFDS)."""
    import tensorflow_datasets as tfds

    classes_file = Path(tfds.__file__).parent / "image_classification" / "food-101_classes.txt"
    classes = classes_file.read_text().split()
    assert len(classes) == 101
    path = folder / "food-101.tar.gz"
    lists: dict[str, list[str]] = {"train": [], "test": []}
    with tarfile.open(path, "w:gz") as archive:
        for label, name in enumerate(classes):
            for index in range(train + test):
                item = f"{name}/{100000 + index}"
                add_bytes(archive, f"food-101/images/{item}.jpg", jpeg(label, index))
                lists["train" if index < train else "test"].append(item)
        for split, items in lists.items():
            add_bytes(archive, f"food-101/meta/{split}.txt", "\n".join(items).encode() + b"\n")
    return path


def add_bytes(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    member = tarfile.TarInfo(name)
    member.size = len(data)
    archive.addfile(member, io.BytesIO(data))


def class_folders(root: Path, classes: list[str], per_class: int) -> Path:
    """<root>/<class>/<i>.jpg, Animals-10 style."""
    for label, name in enumerate(classes):
        (root / name).mkdir(parents=True)
        for index in range(per_class):
            (root / name / f"{index}.jpg").write_bytes(jpeg(label, index, (24, 24)))
    return root


def prepare_tfds(name: str, data_dir: Path, per_class: dict[str, int]) -> None:
    """Prepare catalogue data set ``name`` into ``data_dir`` with ``per_class`` generated
    images of every class per split, through the real builder's features and writers."""
    import tensorflow_datasets as tfds

    catalogue = tfds.builder_cls(name)

    class StandIn(catalogue, skip_registration=True):
        def _split_generators(self, dl_manager):
            return {split: self._generate_examples(split) for split in per_class}

        def _generate_examples(self, split):
            features = self.info.features
            classes = features["label"].num_classes
            height, width = (side or 16 for side in features["image"].shape[:2])
            for index in range(per_class[split] * classes):
                label = index % classes
                example = {"image": pixels(label, index, (width, height)), "label": label}
                for key, feature in features.items():  # the catalogue's other features
                    if isinstance(feature, tfds.features.Text):
                        example[key] = f"{split}-{index}"
                    elif isinstance(feature, tfds.features.Sequence):
                        example[key] = [{"bbox": tfds.features.BBox(0.1, 0.1, 0.6, 0.6)}]
                yield index, example

    StandIn.name = name  # the prepared folder is then data_dir/<name>/<version>
    StandIn(data_dir=str(data_dir)).download_and_prepare()
