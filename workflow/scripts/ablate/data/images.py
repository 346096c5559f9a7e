"""Check every image once before it enters a split: usable as is, convertible, or not.

Only 8-bit grayscale or RGB JPEG and PNG files are kept as they are: TensorFlow's decoders
read those whatever wrote them. Anything else that Pillow can read (BMP, whose 16-bit
variants TensorFlow refuses; GIF, TIFF, WebP; CMYK, RGBA, palette, 16-bit, animated; a
format behind the wrong extension) is converted to an RGB PNG, so nothing the check
accepts can fail in decode. What Pillow cannot read is left out with the reason: images
quarantined, other files (read-me, notes) ignored. Images over ``max_pixels`` are
quarantined before they are decoded.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

# Formats TensorFlow decodes, and the extensions it expects them under.
DECODABLE = {"JPEG": {".jpg", ".jpeg"}, "PNG": {".png"}}
MODES_AS_IS = {"RGB", "L"}
# A file Pillow cannot read is a broken image under these extensions, else not an image.
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".bmp", ".gif", ".tif", ".tiff",
                  ".webp", ".ppm", ".pgm", ".pbm", ".pnm", ".tga", ".ico", ".jp2", ".heic",
                  ".heif", ".avif", ".dib"}  # fmt: skip
# dataset.max_pixels' default (the schema's): Pillow's own decompression-bomb limit.
MAX_PIXELS = 89_478_485


@dataclass
class Inspection:
    usable: bool
    width: int = 0
    height: int = 0
    problems: list[str] = field(default_factory=list)  # why it is converted or left out
    image: bool = True  # False: not an image at all (ignored, not quarantined)

    @property
    def needs_conversion(self) -> bool:
        return self.usable and bool(self.problems)


def inspect_image(path: str | Path, max_pixels: int = MAX_PIXELS) -> Inspection:
    """Open and fully decode ``path``; say whether and why it must be converted or dropped."""
    path = Path(path)
    if path.stat().st_size == 0:
        return Inspection(False, problems=["empty file (0 bytes)"])
    try:
        with _pixel_limit(None), Image.open(path) as image:
            width, height = image.size
            if width * height > max_pixels:
                return Inspection(False, width, height, [
                    f"{width}x{height} is {width * height:,} pixels, over dataset.max_pixels "
                    f"({max_pixels:,}): raise it to keep this image"
                ])  # fmt: skip
            image.load()  # decodes every pixel: truncated files fail here
            fmt, mode, frames = image.format, image.mode, getattr(image, "n_frames", 1)
    except UnidentifiedImageError:
        if path.suffix.lower() in IMAGE_SUFFIXES:
            return Inspection(False, problems=["not an image Pillow can read"])
        return Inspection(False, problems=["not an image"], image=False)
    except (OSError, SyntaxError, ValueError) as error:
        return Inspection(False, problems=[f"unreadable image: {error}"])
    problems = []
    if fmt not in DECODABLE:
        problems.append(f"format {fmt} is converted for TensorFlow")
    elif path.suffix.lower() not in DECODABLE[fmt]:
        problems.append(f"{fmt} content behind a '{path.suffix}' extension")
    if mode not in MODES_AS_IS:
        problems.append(f"mode {mode}")
    if frames > 1:
        problems.append(f"animated ({frames} frames)")
    return Inspection(True, width, height, problems)


@contextlib.contextmanager
def _pixel_limit(limit: int | None) -> Iterator[None]:
    """Pillow's decompression-bomb limit, replaced inside the block by ablate's own."""
    saved = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = limit
    try:
        yield
    finally:
        Image.MAX_IMAGE_PIXELS = saved


def convert_to_rgb_png(source: str | Path, destination: str | Path) -> None:
    """First frame, 8-bit RGB, alpha dropped, written as PNG."""
    with _pixel_limit(None), Image.open(source) as image:  # inspect_image checked the size
        image.seek(0)
        if image.mode in ("I;16", "I;16B", "I;16L", "I"):
            # 16-bit (or 32-bit) grayscale: keep the top 8 of the 16 bits.
            pixels = np.asarray(image, dtype=np.uint32) >> 8
            image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), mode="L")
        image.convert("RGB").save(destination, format="PNG")
