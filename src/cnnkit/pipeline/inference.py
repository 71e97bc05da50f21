"""Using a trained classifier: load it with its class names, predict images, evaluate on a folder."""

from __future__ import annotations

import json
import logging
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cnnkit.pipeline.inspect import IMAGE_EXTENSIONS, inspect_directory

logger = logging.getLogger("cnnkit.pipeline")

__all__ = ["Classifier", "load_classifier", "load_images", "predict_images", "evaluate_directory", "Evaluation"]


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
        if (path / "model.cnnkit").is_file():
            return path / "model.cnnkit"
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
    from cnnkit.export.onnx import model_input_shape
    from cnnkit.models import load_model

    file = _check_model_file(Path(path), str(path))
    try:  # zoo models use layers (e.g. ResNet20's ShortcutA) that are registered when the zoo is imported
        import cnnkit.applications  # noqa: F401
    except ImportError:
        pass
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


def _expand(paths: list[str]) -> list[tuple[Path, bool]]:
    """Image files to predict, each with whether the user named it (True) or it was found in a folder (False)."""
    files: list[tuple[Path, bool]] = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            found = sorted(
                Path(r) / f for r, _, fs in os.walk(path) for f in fs if f.lower().endswith(IMAGE_EXTENSIONS)
            )
            if not found:
                raise ValueError(
                    f"No images in the folder. Expected image files ({', '.join(IMAGE_EXTENSIONS)}). "
                    f"Received: {p!r}. Pass image files or a folder that holds some."
                )
            files.extend((f, False) for f in found)
        elif path.is_file():
            files.append((path, True))
        else:
            raise FileNotFoundError(f"The image does not exist. Expected an image file or folder. Received: {p!r}.")
    return files


def load_images(paths: list[Path], clf: Classifier) -> np.ndarray:
    """Decodes and resizes images as the training data loader does; float32 ``(n, h, w, c)`` in 0..255."""
    from cnnkit.data.decode import DecodeError, load_array

    out = np.empty((len(paths), *clf.input_shape), np.float32)
    for i, p in enumerate(paths):
        try:
            out[i] = load_array(str(p), color_mode=clf.color_mode, image_size=clf.image_size)
        except DecodeError as e:
            raise ValueError(
                f"Cannot read the image: {e}. Expected a readable image file. Received: {str(p)!r}. Check the file."
            ) from None
    return out


def predict_images(clf: Classifier, paths: list[str], top_k: int = 1, batch_size: int = 64) -> list[dict]:
    """Top-k classes and probabilities for each image (folders are expanded to the images in them)."""
    import torch

    from cnnkit.interpret._utils import probabilities

    candidates = _expand(paths)
    k = max(1, min(int(top_k), len(clf.class_names)))
    results = []
    for start in range(0, len(candidates), batch_size):
        arrays, chunk = [], []
        for f, named in candidates[start : start + batch_size]:
            try:  # a broken file found in a folder is skipped; a broken file the user named is an error
                arrays.append(load_images([f], clf)[0])
                chunk.append(f)
            except ValueError as e:
                if named:
                    raise
                logger.warning("Skipped %s: %s", f, str(e).split(". Expected")[0])
        if not arrays:
            continue
        with torch.no_grad():
            probs = probabilities(clf.model(np.stack(arrays))).numpy()
        for f, p in zip(chunk, probs, strict=True):
            top = np.argsort(-p, kind="stable")[:k]
            results.append(
                {
                    "path": str(f),
                    "class": clf.class_names[top[0]],
                    "probability": float(p[top[0]]),
                    "top_k": [{"class": clf.class_names[i], "probability": float(p[i])} for i in top],
                }
            )
    if not results:
        raise ValueError(
            "None of the images could be read. Expected readable image files. "
            f"Received: {' '.join(map(str, paths))}. Check the files."
        )
    return results


@dataclass
class Evaluation:
    class_names: list[str]
    accuracy: float
    loss: float
    confusion_matrix: np.ndarray
    per_class: dict[str, np.ndarray]
    num_images: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "accuracy": self.accuracy,
            "loss": self.loss,
            "num_images": self.num_images,
            "class_names": self.class_names,
            "confusion_matrix": self.confusion_matrix.tolist(),
            "per_class": {
                c: {k: float(self.per_class[k][i]) for k in ("precision", "recall", "f1")}
                | {"support": int(self.per_class["support"][i])}
                for i, c in enumerate(self.class_names)
            },
        }


def evaluate_directory(clf: Classifier, data_dir: str, batch_size: int = 64, verbose: bool = False) -> Evaluation:
    """Accuracy, loss, confusion matrix and per-class metrics of the classifier on a folder of class folders."""
    from cnnkit.interpret import collect_predictions, confusion_matrix, per_class_metrics
    from cnnkit.utils import image_dataset_from_directory

    summary = inspect_directory(data_dir)
    unknown = [c for c in summary.class_names if c not in clf.class_names]
    if unknown:
        raise ValueError(
            f"The data folder has classes the model does not know. Expected class folders among {clf.class_names}. "
            f"Received: {unknown} in DATA_DIR={data_dir!r}. Evaluate on data with the training classes."
        )
    data = image_dataset_from_directory(
        data_dir,
        label_mode="int",
        class_names=[c for c in clf.class_names if c in summary.class_names],
        color_mode=clf.color_mode,
        image_size=clf.image_size,
        batch_size=batch_size,
        shuffle=False,
        verbose=verbose,
        cache=False,
    )
    # Labels index the folder's classes; map them to the model's class indices.
    to_model = np.array([clf.class_names.index(c) for c in data.class_names])
    preds = collect_predictions(clf.model, ((x, to_model[np.asarray(y)]) for x, y in data))
    cm = confusion_matrix(preds.y_true, preds.y_pred, len(clf.class_names))
    return Evaluation(
        clf.class_names,
        preds.accuracy,
        float(np.mean(preds.losses)),
        cm,
        per_class_metrics(cm),
        int(len(preds.y_true)),
    )
