"""For the server tests and the bench: a classifier whose answers are known, and the app served on loopback."""

from __future__ import annotations

import io
import json
import threading
from pathlib import Path

import numpy as np
from PIL import Image

from cnnkit import layers
from cnnkit.models import Sequential
from cnnkit.serve import make_server

CLASSES = ["red", "green", "blue"]


def colour_model() -> Sequential:
    """Predicts the strongest colour channel: a 1x1 identity convolution, the mean over the image, then softmax of
    0.1 x the mean colour. A red image is "red" with probability ~1; Grad-CAM has a convolution to look at."""
    model = Sequential(
        [
            layers.Input(shape=(8, 8, 3)),
            layers.Conv2D(3, 1, activation="relu", name="conv"),
            layers.GlobalAveragePooling2D(name="pool"),
            layers.Dense(3, activation="softmax", name="predictions"),
        ]
    )
    eye = np.eye(3, dtype=np.float32)
    model.set_weights([eye.reshape(1, 1, 3, 3), np.zeros(3, np.float32), 0.1 * eye, np.zeros(3, np.float32)])
    return model


def write_run(root: Path) -> Path:
    """A run folder as `cnnkit train` leaves it (model, class names, metrics) for the colour model."""
    root.mkdir(parents=True, exist_ok=True)
    colour_model().save(str(root / "model.cnnkit"))
    (root / "class_names.json").write_text(json.dumps(CLASSES))
    (root / "metrics.json").write_text(json.dumps({"model_name": "colour", "val_accuracy": 0.975, "epochs": 3}))
    return root


def png(colour: tuple[int, int, int], size: tuple[int, int] = (40, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, format="PNG")
    return buf.getvalue()


class Live:
    """The app served by a real uvicorn server in a thread, on a free loopback port."""

    def __init__(self, app) -> None:
        self.app = app
        ready = threading.Event()

        def started(host: str, port: int) -> None:
            self.port = port
            ready.set()

        self.server = make_server(app, "127.0.0.1", 0, on_started=started, graceful_timeout=5)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        assert ready.wait(30), "the server did not start"
        self.url = f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(15)
