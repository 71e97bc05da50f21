"""A first look at a folder of images: classes, counts, typical size, colour; and the defaults chosen from it."""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from cnnkit.data.decode import IMAGE_EXTENSIONS, DecodeError, probe_image  # the loader's list and rule

__all__ = ["DataSummary", "inspect_directory", "IMAGE_EXTENSIONS", "unsupported_message"]


@dataclass
class DataSummary:
    directory: str
    class_names: list[str]
    counts: dict[str, int]
    image_size: tuple[int, int]  # the most common (height, width) among the sampled images
    grayscale: bool  # every sampled image is single-channel
    # Class sub-folders left out because they hold no file the loader decodes: {class: [file names]}.
    unsupported: dict[str, list[str]] = field(default_factory=dict)
    # Sampled files the decoder refused, with its reason (the loader skips and names the same files).
    skipped: list[tuple[str, str]] = field(default_factory=list)

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
    unsupported: dict[str, list[str]] = {}
    files: list[Path] = []
    for sub in sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith(".")):
        images = _images_in(sub)
        if images:
            counts[sub.name] = len(images)
            files.extend(images[: max(1, sample // 8)])
        else:
            others = sorted(f for _, _, names in os.walk(sub) for f in names if not f.startswith("."))
            if others:
                unsupported[sub.name] = others
    if not counts and unsupported:
        raise ValueError(
            "The data folder has no image files cnnkit can read. Expected files ending in "
            f"{', '.join(IMAGE_EXTENSIONS)}. Received: DATA_DIR={str(directory)!r} with "
            f"{_describe_unsupported(unsupported)}. Convert the images to PNG or JPEG."
        )
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
    skipped: list[tuple[str, str]] = []
    for f in files[:sample]:
        try:
            height, width, mode = probe_image(f)
        except DecodeError as e:
            skipped.append((str(f), str(e)))  # the loader's rule: skipped here, skipped and named when loading
            continue
        sizes[(height, width)] += 1
        gray = gray and mode in ("L", "1", "I;16", "I", "LA")
    size = sizes.most_common(1)[0][0] if sizes else (256, 256)
    return DataSummary(str(path), list(counts), counts, size, gray and bool(sizes), unsupported, skipped)


def _describe_unsupported(unsupported: dict[str, list[str]]) -> str:
    parts = []
    for name, files in unsupported.items():
        suffixes = sorted({os.path.splitext(f)[1].lower() or "(no extension)" for f in files})
        parts.append(f"class {name!r}: {len(files)} files ({', '.join(suffixes[:4])})")
    return "; ".join(parts)


def unsupported_message(summary: DataSummary) -> str | None:
    """A warning naming the class sub-folders left out because none of their files is an image cnnkit reads."""
    if not summary.unsupported:
        return None
    return (
        f"Left out {len(summary.unsupported)} class folder(s) with no image cnnkit can read: "
        f"{_describe_unsupported(summary.unsupported)}. Supported: {', '.join(IMAGE_EXTENSIONS)}. Convert those "
        "images to PNG or JPEG to train on them."
    )
