"""Why a classifier decides what it decides for one image, as PNG files (what `cnnkit explain` calls)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cnnkit.interpret import feature_maps, filters, grad_cam, probabilities
from cnnkit.pipeline.classifier import Classifier, load_images
from cnnkit.report import plots

__all__ = ["explain_image"]


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


def explain_image(clf: Classifier, image: str | os.PathLike, out_dir: str | os.PathLike) -> dict[str, Any]:
    """Writes ``gradcam.png`` (heat map over the image), ``gradcam_heatmap.png``, one ``feature_maps_<layer>.png``
    per convolution and ``filters.png`` (first convolution) into ``out_dir``.

    Returns:
        ``{"class": predicted class, "probability": p, "files": [paths written]}``.
    """
    path = Path(image)
    if not path.is_file():
        raise FileNotFoundError(f"The image does not exist. Expected an image file. Received: IMAGE={str(image)!r}.")
    x = load_images([path], clf)[0]
    with torch.no_grad():
        probs = probabilities(clf.model(x[None])).numpy()[0]
    cls = int(np.argmax(probs))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    heat = grad_cam(clf.model, x, class_index=cls)
    written.append(plots.save_png(plots.heatmap_overlay(x, heat), out / "gradcam.png"))
    written.append(plots.save_png(plots.heatmap_rgb(heat), out / "gradcam_heatmap.png"))
    for name, maps in feature_maps(clf.model, x).items():
        png = plots.feature_maps_png(maps, title=name)
        written.append(plots.save_png(png, out / f"feature_maps_{_safe(name)}.png"))
    written.append(plots.save_png(plots.filters_png(filters(clf.model)), out / "filters.png"))
    return {"class": clf.class_names[cls], "probability": float(probs[cls]), "files": [str(p) for p in written]}
