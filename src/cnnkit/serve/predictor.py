"""A trained classifier behind functions of image bytes: decoding, batched prediction, Grad-CAM and the model card."""

from __future__ import annotations

import datetime as dt
import io
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageOps

from cnnkit.data.decode import DecodeError, load_array
from cnnkit.export.onnx import model_input_shape
from cnnkit.interpret import grad_cam, probabilities
from cnnkit.pipeline import Classifier, load_classifier
from cnnkit.pipeline.run_folder import METRICS_FILE, RunFolder, load_run

__all__ = ["DEFAULT_MAX_PIXELS", "Predictor"]

# A server decodes many images at once, so it accepts fewer pixels than the library's file default: 40 MP is a
# 7,300 x 5,500 photo (120 MB decoded); a larger image is refused as a possible decompression bomb.
DEFAULT_MAX_PIXELS = 40_000_000
# Grad-CAM overlays are drawn at the uploaded image's size, capped so that a huge photo gives a small PNG.
OVERLAY_MAX_SIDE = 512


def _jet(heat: np.ndarray) -> np.ndarray:
    # The jet colour map as three clipped ramps (what matplotlib's "jet" approximates), so that serving needs no
    # plotting library.
    x = np.clip(heat, 0.0, 1.0)[..., None]
    centres = np.array([0.75, 0.5, 0.25], np.float32)  # red, green, blue peaks
    return np.clip(1.5 - np.abs(4.0 * (x - centres)), 0.0, 1.0) * 255.0


class Predictor:
    """Decodes image bytes as training did, runs the model on batches and explains single images.

    The predictor itself is not thread-safe: the web app calls the model from one thread (the micro-batcher's).

    Example:
        >>> p = Predictor.from_path("runs/flowers")  # a run folder from `cnnkit train`  # doctest: +SKIP
        >>> p.predict(open("rose.jpg", "rb").read(), top_k=3)  # doctest: +SKIP
        {'class': 'rose', 'probability': 0.93, 'top_k': [...]}
    """

    def __init__(
        self, classifier: Classifier, run: RunFolder | None = None, max_pixels: int = DEFAULT_MAX_PIXELS
    ) -> None:
        self.classifier = classifier
        self.run = run
        self.max_pixels = int(max_pixels)

    @classmethod
    def from_path(cls, path: str | os.PathLike, max_pixels: int = DEFAULT_MAX_PIXELS) -> Predictor:
        """A ``.cnnkit`` file or a run folder (whose ``metrics.json`` fills the model card)."""
        clf = load_classifier(path)
        run = None
        if (clf.path.parent / METRICS_FILE).is_file():
            run = load_run(clf.path.parent)
        return cls(clf, run, max_pixels)

    @classmethod
    def from_model(
        cls, model: Any, class_names: list[str] | None = None, max_pixels: int = DEFAULT_MAX_PIXELS
    ) -> Predictor:
        """An in-memory model (built or loaded) taking ``(height, width, channels)`` images."""
        shape = model_input_shape(model)
        if shape is None or len(shape) != 3:
            raise ValueError(
                "The model does not take images. Expected an input shape (height, width, channels). "
                f"Received: input shape {shape}. Build the model with an Input(shape=(h, w, c)) first."
            )
        with torch.no_grad():
            n = int(np.prod(model(np.zeros((1, *shape), np.float32)).shape[1:]))
        n = 2 if n == 1 else n
        names = [str(c) for c in class_names] if class_names and len(class_names) == n else [str(i) for i in range(n)]
        name = str(getattr(model, "name", "model"))
        return cls(Classifier(model, Path(name), tuple(int(s) for s in shape), names), None, max_pixels)

    @property
    def class_names(self) -> list[str]:
        return self.classifier.class_names

    def info(self) -> dict[str, Any]:
        """The model card: name, classes, input size and, from the run folder, validation accuracy and date."""
        c = self.classifier
        metrics = self.run.metrics if self.run is not None else {}
        trained = None
        if c.path.is_file():
            trained = dt.datetime.fromtimestamp(c.path.stat().st_mtime, dt.timezone.utc).isoformat(timespec="seconds")
        return {
            "model": c.path.parent.name if c.path.name == "model.cnnkit" else c.path.name,
            "architecture": metrics.get("model_name") or str(getattr(c.model, "name", "")),
            "input_shape": list(c.input_shape),
            "color_mode": c.color_mode,
            "class_names": c.class_names,
            "num_params": int(sum(p.numel() for p in c.model.parameters())),
            "val_accuracy": metrics.get("val_accuracy"),
            "val_loss": metrics.get("val_loss"),
            "epochs": metrics.get("epochs"),
            "num_train": (metrics.get("data") or {}).get("num_train"),
            "trained_at": trained,
        }

    def decode(self, data: bytes) -> np.ndarray:
        """One encoded image to the model's float32 input ``(h, w, c)``; ValueError when it cannot be read."""
        c = self.classifier
        try:
            arr = load_array(bytes(data), c.color_mode, c.image_size, max_pixels=self.max_pixels)
        except DecodeError as e:
            raise ValueError(f"Cannot read the image: {e}. Expected an image file (JPEG, PNG, WebP, ...).") from None
        return arr.astype(np.float32)

    def predict_batch(self, batch: np.ndarray) -> np.ndarray:
        """Class probabilities ``(n, classes)`` of a float32 batch ``(n, h, w, c)`` in one forward pass."""
        with torch.no_grad():
            p = probabilities(self.classifier.model(batch)).to(torch.float32).cpu().numpy()
        if p.ndim == 2 and p.shape[1] == 1:  # one sigmoid unit: P(class 1)
            p = np.concatenate([1.0 - p, p], axis=1)
        return p.reshape(len(batch), -1)

    def top_k(self, probs: np.ndarray, k: int) -> dict[str, Any]:
        """``{"class", "probability", "top_k": [{"class", "probability"}, ...]}`` of one probability vector."""
        names = self.classifier.class_names
        k = max(1, min(int(k), len(names)))
        top = np.argsort(-probs, kind="stable")[:k]
        return {
            "class": names[top[0]],
            "probability": float(probs[top[0]]),
            "top_k": [{"class": names[i], "probability": float(probs[i])} for i in top],
        }

    def predict(self, data: bytes, top_k: int = 1) -> dict[str, Any]:
        """Top-``top_k`` classes of one encoded image (JPEG, PNG, ...); ValueError if it cannot be decoded."""
        return self.top_k(self.predict_batch(self.decode(data)[None])[0], top_k)

    def class_index(self, name: str) -> int:
        """The index of a class given by name or number; ValueError naming the classes otherwise."""
        names = self.classifier.class_names
        if name in names:
            return names.index(name)
        if name.isdigit() and int(name) < len(names):
            return int(name)
        raise ValueError(
            f"Unknown class. Expected one of {names} (or its index). Received: class={name!r}. Pick a listed class."
        )

    def explain_png(self, data: bytes, class_index: int | None = None) -> tuple[bytes, str, float]:
        """The Grad-CAM heat map over the image as PNG bytes, with the explained class and its probability."""
        x = self.decode(data)
        heat, cls = grad_cam(self.classifier.model, x, class_index=class_index, return_class=True)
        prob = float(self.predict_batch(x[None])[0][cls])
        # The overlay is drawn over the uploaded image (not the model's small input) so that it reads at a glance.
        try:
            base = Image.open(io.BytesIO(data))
            base.draft("RGB", (OVERLAY_MAX_SIDE, OVERLAY_MAX_SIDE))
            base = ImageOps.exif_transpose(base).convert("RGB")  # upright, as decode() saw it
            base.thumbnail((OVERLAY_MAX_SIDE, OVERLAY_MAX_SIDE))
        except Exception:  # decode() accepted it, so this is a mode PIL cannot convert directly: use the model input
            base = Image.fromarray(np.clip(x, 0, 255).astype(np.uint8).squeeze())
            base = base.convert("RGB")
        w, h = base.size
        heat_img = Image.fromarray(np.asarray(heat * 255.0, np.float32).round().astype(np.uint8)).resize((w, h))
        heat_big = np.asarray(heat_img, np.float32) / 255.0
        out = 0.55 * np.asarray(base, np.float32) + 0.45 * _jet(heat_big)
        buf = io.BytesIO()
        Image.fromarray(np.clip(np.rint(out), 0, 255).astype(np.uint8)).save(buf, format="PNG")
        return buf.getvalue(), self.classifier.class_names[cls], prob
