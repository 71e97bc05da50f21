"""Predicting images with a trained classifier (what `cnnkit predict` calls)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import torch

from cnnkit.interpret import probabilities
from cnnkit.pipeline.classifier import Classifier, load_images
from cnnkit.pipeline.inspect import IMAGE_EXTENSIONS
from cnnkit.pipeline.tta import with_tta

logger = logging.getLogger("cnnkit.pipeline")

__all__ = ["predict_images"]


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


def predict_images(
    clf: Classifier, paths: list[str], top_k: int = 1, batch_size: int = 64, tta: bool = False
) -> list[dict]:
    """Top-k classes and probabilities for each image (folders are expanded to the images in them).

    With ``tta`` the probabilities are averaged over each image and its mirror (flip test-time augmentation).
    """
    candidates = _expand(paths)
    model = with_tta(clf.model, tta)
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
            probs = probabilities(model(np.stack(arrays))).numpy()
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
