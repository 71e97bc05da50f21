"""A first look at a folder of images: classes, counts, typical size, colour; and the defaults chosen from it."""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from cnnkit.data.decode import IMAGE_EXTENSIONS  # the loader's list, so the CLI counts exactly what it decodes

__all__ = ["DataSummary", "inspect_directory", "IMAGE_EXTENSIONS"]


@dataclass
class DataSummary:
    directory: str
    class_names: list[str]
    counts: dict[str, int]
    image_size: tuple[int, int]  # the most common (height, width) among the sampled images
    grayscale: bool  # every sampled image is single-channel

    @property
    def num_images(self) -> int:
        return sum(self.counts.values())

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


def _images_in(folder: Path) -> list[Path]:
    out = []
    for root, _, files in os.walk(folder):
        out.extend(Path(root) / f for f in files if f.lower().endswith(IMAGE_EXTENSIONS))
    return sorted(out)


def inspect_directory(directory: str | os.PathLike, sample: int = 64) -> DataSummary:
    """Lists the class sub-folders of ``directory`` and looks at a sample of images (headers only).

    Raises:
        FileNotFoundError: the folder does not exist.
        ValueError: it has no class sub-folders with images, or only one class.
    """
    path = Path(directory)
    if not path.is_dir():
        what = "is a file, not a folder" if path.exists() else "does not exist"
        raise FileNotFoundError(
            f"The data folder {what}. Expected a folder with one sub-folder of images per class. "
            f"Received: DATA_DIR={str(directory)!r}. Check the path."
        )
    counts: dict[str, int] = {}
    files: list[Path] = []
    for sub in sorted(p for p in path.iterdir() if p.is_dir()):
        images = _images_in(sub)
        if images:
            counts[sub.name] = len(images)
            files.extend(images[: max(1, sample // 8)])
    if not counts:
        loose = len([p for p in path.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS])
        hint = f" It holds {loose} images directly: move them into one sub-folder per class." if loose else ""
        raise ValueError(
            "The data folder has no class sub-folders with images. Expected DATA_DIR/<class name>/<image files>."
            f" Received: DATA_DIR={str(directory)!r}.{hint or ' Put the images of each class in its own folder.'}"
        )
    if len(counts) < 2:
        raise ValueError(
            "The data folder has only one class. Expected at least two class sub-folders. "
            f"Received: classes={list(counts)} in DATA_DIR={str(directory)!r}. Add a folder per class."
        )
    sizes: Counter = Counter()
    gray = True
    for f in files[:sample]:
        try:
            with Image.open(f) as img:
                sizes[(img.height, img.width)] += 1
                gray = gray and img.mode in ("L", "1", "I;16", "I", "LA")
        except OSError:
            continue  # unreadable files are reported (and skipped) by the loader
    size = sizes.most_common(1)[0][0] if sizes else (256, 256)
    return DataSummary(str(path), list(counts), counts, size, gray and bool(sizes))
