"""The web service, tested with a real HTTP client on loopback."""

import http.client
import io
import json
import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from cnnkit.pipeline import build_classifier, load_classifier, predict_images
from cnnkit.serve import Predictor, make_app_server

CLASSES = ["ant", "bee", "cat"]
SRC = Path(__file__).resolve().parents[2] / "src"


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("served")
    torch.manual_seed(0)
    build_classifier("tutorial", (20, 20, 3), 3).save(str(root / "model.cnnkit"))
    (root / "class_names.json").write_text(json.dumps(CLASSES))
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (30, 24, 3), dtype=np.uint8)).save(root / "photo.png")
    return root


@pytest.fixture(scope="module")
def server(model_dir):
    srv = make_app_server(Predictor.from_path(model_dir), port=0, quiet=True)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv.server_address[1]
    srv.shutdown()
    srv.server_close()


def request(port, method, path, body=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request(method, path, body=body, headers={"Content-Type": "application/octet-stream"} if body else {})
    resp = conn.getresponse()
    out = resp.status, json.loads(resp.read())
    conn.close()
    return out


def test_predict_matches_the_library(server, model_dir):
    status, res = request(server, "POST", "/predict?top_k=3", (model_dir / "photo.png").read_bytes())
    assert status == 200
    [expected] = predict_images(load_classifier(model_dir), [str(model_dir / "photo.png")], top_k=3)
    assert res["class"] == expected["class"] and [t["class"] for t in res["top_k"]] == [
        t["class"] for t in expected["top_k"]
    ]
    np.testing.assert_allclose([t["probability"] for t in res["top_k"]], [t["probability"] for t in expected["top_k"]])


def test_info_health_and_errors(server, model_dir):
    assert request(server, "GET", "/health") == (200, {"status": "ok"})
    status, info = request(server, "GET", "/info")
    assert status == 200 and info["class_names"] == CLASSES and info["input_shape"] == [20, 20, 3]
    status, res = request(server, "POST", "/predict", b"not an image")
    assert status == 400 and res["error"].startswith("Cannot read the image")
    assert request(server, "GET", "/predict")[0] == 405
    assert request(server, "GET", "/nope")[0] == 404
    assert request(server, "POST", "/predict?top_k=0", b"x")[0] == 400
    buf = io.BytesIO()
    Image.new("L", (5, 5)).save(buf, format="PNG")
    status, res = request(server, "POST", "/predict", buf.getvalue())  # grayscale is converted like in training
    assert status == 200 and res["class"] in CLASSES


def test_cnnkit_serve_command(model_dir):
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "cnnkit.cli", "serve", str(model_dir), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        line = proc.stdout.readline()
        port = int(re.search(r"http://127\.0\.0\.1:(\d+)", line).group(1))
        assert request(port, "GET", "/health") == (200, {"status": "ok"})
    finally:
        proc.send_signal(signal.SIGTERM)  # SIGINT may be ignored when tests run in the background
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0 and "Stopped." in out
