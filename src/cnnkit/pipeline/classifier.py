"""A trained classifier with what is needed to feed it: loading it from a run folder, decoding images for it."""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import cnnkit.applications  # noqa: F401 - registers the zoo's layers (e.g. ResNet20's ShortcutA) for load_model
from cnnkit.data.decode import DecodeError, load_array
from cnnkit.export.onnx import model_input_shape
from cnnkit.models import load_model
from cnnkit.pipeline.run_folder import MODEL_FILE

__all__ = ["Classifier", "load_classifier", "load_images"]


@dataclass
class Classifier:
    """A trained model with what is needed to feed it: input size, colour mode and class names."""

    model: Any
    path: Path
    input_shape: tuple[int, int, int]
    class_names: list[str]

    @property
    def color_mode(self) -> str:
        return {1: "grayscale", 3: "rgb", 4: "rgba"}[self.input_shape[-1]]

    @property
    def image_size(self) -> tuple[int, int]:
        return self.input_shape[0], self.input_shape[1]


def _check_model_file(path: Path, given: str) -> Path:
    if path.is_dir():
        if (path / MODEL_FILE).is_file():
            return path / MODEL_FILE
        raise FileNotFoundError(
            f"The folder has no model.cnnkit. Expected a model file or a run folder of `cnnkit train`. "
            f"Received: MODEL={given!r}. Pass the .cnnkit file."
        )
    if not path.is_file():
        raise FileNotFoundError(
            f"The model file does not exist. Expected a .cnnkit file written by `cnnkit train` or model.save(). "
            f"Received: MODEL={given!r}. Check the path."
        )
    ok = zipfile.is_zipfile(path)
    if ok:
        with zipfile.ZipFile(path) as z:
            ok = "config.json" in z.namelist()
    if not ok:
        raise ValueError(
            "The file is not a cnnkit model. Expected a .cnnkit file (a zip with config.json and weights) written "
            f"by `cnnkit train` or model.save(). Received: MODEL={given!r}. Pass the model.cnnkit of a run folder."
        )
    return path


def load_classifier(path: str | os.PathLike) -> Classifier:
    """Loads a ``.cnnkit`` model (or the one in a run folder) and its ``class_names.json`` if present."""
    file = _check_model_file(Path(path), str(path))
    model = load_model(str(file))
    shape = model_input_shape(model)
    if shape is None or len(shape) != 3:
        raise ValueError(
            "The model does not take images. Expected an input shape (height, width, channels). "
            f"Received: input shape {shape} in MODEL={str(path)!r}. Use an image classifier."
        )
    names_file = file.parent / "class_names.json"
    names = json.loads(names_file.read_text(encoding="utf-8")) if names_file.is_file() else None
    out = model(np.zeros((1, *shape), np.float32))
    n = int(np.prod(out.shape[1:]))
    n = 2 if n == 1 else n
    if not names or len(names) != n:
        names = [str(i) for i in range(n)]
    return Classifier(model, file, tuple(int(s) for s in shape), [str(c) for c in names])


def load_images(paths: list[Path], clf: Classifier) -> np.ndarray:
    """Decodes and resizes images as the training data loader does; float32 ``(n, h, w, c)`` in 0..255."""
    out = np.empty((len(paths), *clf.input_shape), np.float32)
    for i, p in enumerate(paths):
        try:
            out[i] = load_array(str(p), color_mode=clf.color_mode, image_size=clf.image_size)
        except DecodeError as e:
            raise ValueError(
                f"Cannot read the image: {e}. Expected a readable image file. Received: {str(p)!r}. Check the file."
            ) from None
    return out
