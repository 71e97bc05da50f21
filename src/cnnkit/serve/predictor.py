"""A trained classifier behind a function of image bytes: what the web app calls."""

from __future__ import annotations

import os
import threading
from typing import Any

import numpy as np
import torch

from cnnkit.data.decode import DecodeError, load_array
from cnnkit.interpret import probabilities
from cnnkit.pipeline import load_classifier

__all__ = ["Predictor"]


class Predictor:
    """Decodes image bytes as training did, runs the model and returns the top classes.

    Example:
        >>> p = Predictor.from_path("runs/flowers")  # a run folder from `cnnkit train`  # doctest: +SKIP
        >>> p.predict(open("rose.jpg", "rb").read(), top_k=3)  # doctest: +SKIP
        {'class': 'rose', 'probability': 0.93, 'top_k': [...]}
    """

    def __init__(self, classifier: Any) -> None:
        self.classifier = classifier
        self._lock = threading.Lock()  # one forward pass at a time: the model is shared between requests

    @classmethod
    def from_path(cls, path: str | os.PathLike) -> Predictor:
        return cls(load_classifier(path))

    def info(self) -> dict[str, Any]:
        c = self.classifier
        return {
            "model": c.path.name,
            "input_shape": list(c.input_shape),
            "color_mode": c.color_mode,
            "class_names": c.class_names,
        }

    def predict(self, data: bytes, top_k: int = 1) -> dict[str, Any]:
        """Top-``top_k`` classes of one encoded image (JPEG, PNG, ...); ValueError if it cannot be decoded."""
        c = self.classifier
        try:
            x = load_array(bytes(data), color_mode=c.color_mode, image_size=c.image_size).astype(np.float32)
        except DecodeError as e:
            raise ValueError(f"Cannot read the image: {e}. Expected an image file (JPEG, PNG, ...).") from None
        with self._lock, torch.no_grad():
            p = probabilities(c.model(x[None])).numpy()[0]
        k = max(1, min(int(top_k), len(c.class_names)))
        top = np.argsort(-p, kind="stable")[:k]
        return {
            "class": c.class_names[top[0]],
            "probability": float(p[top[0]]),
            "top_k": [{"class": c.class_names[i], "probability": float(p[i])} for i in top],
        }
