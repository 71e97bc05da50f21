"""Image fixtures for the data tests: real files of every mode and every broken kind, written into tmp_path."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

RNG = np.random.default_rng(0)


def rgb_array(h: int = 12, w: int = 16, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def save(img: Image.Image, path: Path, **kwargs) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, **kwargs)
    return path


def truncated_jpeg(path: Path) -> Path:
    buf = io.BytesIO()
    Image.fromarray(rgb_array(64, 64)).save(buf, "JPEG", quality=95)
    data = buf.getvalue()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data[: len(data) // 2])
    return path


def zero_byte(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


def text_as_jpg(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("this is not an image\n")
    return path


def bomb_png(path: Path, width: int = 100_000, height: int = 100_000) -> Path:
    """A tiny PNG whose header claims width x height pixels (10 gigapixels by default): a decompression bomb."""
    buf = io.BytesIO()
    Image.new("L", (8, 8)).save(buf, "PNG")
    data = bytearray(buf.getvalue())
    # IHDR starts at byte 8: length(4) 'IHDR'(4) width(4) height(4) ... crc(4) over type+data.
    data[16:24] = struct.pack(">II", width, height)
    crc = zlib.crc32(bytes(data[12:29])) & 0xFFFFFFFF
    data[29:33] = struct.pack(">I", crc)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(data))
    return path


def exif_rotated(path: Path, arr: np.ndarray, orientation: int = 6, fmt: str = "PNG") -> Path:
    img = Image.fromarray(arr)
    exif = Image.Exif()
    exif[0x0112] = orientation
    return save(img, path, format=fmt, exif=exif.tobytes())


def class_folder(root: Path, counts: dict[str, int], size=(10, 14), ext: str = "png", seed: int = 0) -> list[Path]:
    """``root/<class>/<i>.<ext>`` with distinct random RGB images; returns the written paths."""
    out = []
    for c, (name, n) in enumerate(counts.items()):
        for i in range(n):
            arr = rgb_array(*size, seed=seed * 1000 + c * 100 + i)
            out.append(save(Image.fromarray(arr), root / name / f"img_{i:03d}.{ext}"))
    return out
