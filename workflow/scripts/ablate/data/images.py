"""Check every image once before it enters a split: usable as is, convertible, or not.

TensorFlow decodes JPEG, PNG, BMP and GIF in 8-bit grayscale or RGB. Anything else that
Pillow can read (CMYK, RGBA, palette, 16-bit, animated, a format behind the wrong
extension) is converted to an RGB PNG; what Pillow cannot read is left out with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

# Formats TensorFlow decodes, and the extensions it expects them under.
DECODABLE = {"JPEG": {".jpg", ".jpeg"}, "PNG": {".png"}, "BMP": {".bmp"}, "GIF": {".gif"}}
MODES_AS_IS = {"RGB", "L"}


@dataclass
class Inspection:
    usable: bool
    width: int = 0
    height: int = 0
    problems: list[str] = field(default_factory=list)  # why it is converted or left out

    @property
    def needs_conversion(self) -> bool:
        return self.usable and bool(self.problems)


def inspect_image(path: str | Path) -> Inspection:
    """Open and fully decode ``path``; say whether and why it must be converted or dropped."""
    path = Path(path)
    if path.stat().st_size == 0:
        return Inspection(False, problems=["empty file (0 bytes)"])
    try:
        with Image.open(path) as image:
            image.load()  # decodes every pixel: truncated files fail here
            fmt, mode, frames = image.format, image.mode, getattr(image, "n_frames", 1)
            width, height = image.size
    except UnidentifiedImageError:
        return Inspection(False, problems=["not an image Pillow can read"])
    except (OSError, SyntaxError, ValueError) as error:
        return Inspection(False, problems=[f"unreadable image: {error}"])
    problems = []
    if fmt not in DECODABLE:
        problems.append(f"format {fmt} is not decoded by TensorFlow")
    elif path.suffix.lower() not in DECODABLE[fmt]:
        problems.append(f"{fmt} content behind a '{path.suffix}' extension")
    if mode not in MODES_AS_IS:
        problems.append(f"mode {mode}")
    if frames > 1:
        problems.append(f"animated ({frames} frames)")
    return Inspection(True, width, height, problems)


def convert_to_rgb_png(source: str | Path, destination: str | Path) -> None:
    """First frame, 8-bit RGB, alpha dropped, written as PNG."""
    with Image.open(source) as image:
        image.seek(0)
        if image.mode in ("I;16", "I;16B", "I;16L", "I"):
            # 16-bit (or 32-bit) grayscale: keep the top 8 of the 16 bits.
            pixels = np.asarray(image, dtype=np.uint32) >> 8
            image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), mode="L")
        image.convert("RGB").save(destination, format="PNG")
