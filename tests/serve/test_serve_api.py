"""Every route of the app, over a real uvicorn server on loopback and a real HTTP client."""

import io
import json

import httpx
import numpy as np
import pytest
import torch
from fastapi import FastAPI
from PIL import Image

from cnnkit.pipeline import load_classifier, predict_images
from cnnkit.serve import Predictor, create_app
from support.serving import CLASSES, Live, colour_model, png


@pytest.fixture()
def client(live):
    with httpx.Client(base_url=live.url, timeout=30) as c:
        yield c


def test_predict_raw_body_matches_the_library(client, run_dir, tmp_path):
    data = png((30, 200, 60), size=(33, 21))
    r = client.post("/predict?top_k=3", content=data, headers={"Content-Type": "image/png"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    (tmp_path / "x.png").write_bytes(data)
    [expected] = predict_images(load_classifier(run_dir), [str(tmp_path / "x.png")], top_k=3)
    got = r.json()
    assert got["class"] == expected["class"] == "green"
    assert [t["class"] for t in got["top_k"]] == [t["class"] for t in expected["top_k"]]
    np.testing.assert_allclose(
        [t["probability"] for t in got["top_k"]], [t["probability"] for t in expected["top_k"]], rtol=1e-6
    )


def test_predict_multipart_many_files_each_answered(client):
    files = [("file", ("r.png", png((220, 0, 0)))), ("file", ("b.png", png((0, 0, 220)))), ("file", ("x.png", b"no"))]
    r = client.post("/predict", files=files, data={"note": "ignored"})
    assert r.status_code == 200
    results = r.json()["results"]
    assert [x["filename"] for x in results] == ["r.png", "b.png", "x.png"]
    assert [x.get("class") for x in results] == ["red", "blue", None]
    assert results[2]["error"] == (
        "Cannot read the image: not an image: the content is not a known image format. "
        "Expected an image file (JPEG, PNG, WebP, ...)."
    )
    assert len(results[0]["top_k"]) == 3  # default top_k 5, capped at the number of classes


def test_predict_errors_are_json_that_say_what_was_expected(client):
    r = client.post("/predict", content=b"")
    assert r.status_code == 400 and r.json() == {
        "error": "The request has no image. Expected an image file as the body or multipart `file` fields. "
        "Received: an empty body. Send e.g. `curl --data-binary @photo.jpg URL`."
    }
    r = client.post("/predict", content=b"GIF89a but not really")
    assert r.status_code == 400 and r.json()["error"].startswith("Cannot read the image: ")
    r = client.post("/predict", files=[("photo", ("a.png", png((1, 2, 3))))])
    assert r.status_code == 400 and r.json()["error"].startswith("The form has no image. Expected one or more `file`")
    r = client.post("/predict", files=[("file", ("a.png", b"x")), ("file", ("b.png", b"y"))])
    assert r.status_code == 400 and r.json()["error"].startswith("a.png: Cannot read the image")
    assert client.post("/predict?top_k=0", content=png((1, 2, 3))).json() == {
        "error": "top_k must be a positive integer. Expected top_k >= 1. Received: top_k=0."
    }
    assert client.post("/predict?top_k=two", content=b"x").status_code == 400
    r = client.get("/predict")
    assert r.status_code == 405 and r.json() == {"error": "Wrong method for /predict. Expected POST. Received: GET."}
    r = client.get("/nope")
    assert r.status_code == 404 and r.json()["error"].startswith("Unknown path. Expected one of ['/', '/docs'")
    assert "Traceback" not in r.text


def test_explain_returns_the_gradcam_overlay_png(client):
    r = client.post("/explain", content=png((0, 0, 255), size=(64, 48)))
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert r.headers["x-cnnkit-class"] == "blue" and float(r.headers["x-cnnkit-probability"]) > 0.99
    img = Image.open(io.BytesIO(r.content))
    assert img.size == (64, 48) and img.mode == "RGB"  # drawn over the uploaded image, not the 8x8 model input
    r = client.post("/explain?class=red", files=[("file", ("a.png", png((0, 0, 255))))])
    assert r.status_code == 200 and r.headers["x-cnnkit-class"] == "red"
    r = client.post("/explain?class=cat", content=png((0, 0, 255)))
    assert r.status_code == 400 and r.json()["error"].startswith("Unknown class. Expected one of ['red', 'green'")
    assert client.post("/explain", content=b"junk").status_code == 400


def test_info_health_metrics_docs_and_page(client):
    assert client.get("/health").json() == {"status": "ok"}
    info = client.get("/info").json()
    assert info["class_names"] == CLASSES and info["input_shape"] == [8, 8, 3] and info["val_accuracy"] == 0.975
    assert info["architecture"] == "colour" and info["num_params"] == 24 and info["trained_at"].endswith("+00:00")
    schema = client.get("/openapi.json").json()
    assert {"/predict", "/explain", "/info", "/health", "/metrics"} <= set(schema["paths"])
    assert "multipart/form-data" in schema["paths"]["/predict"]["post"]["requestBody"]["content"]
    assert client.get("/docs").status_code == 200
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "connect-src 'self'" in page.headers["content-security-policy"]
    assert "http://" not in page.text and "https://" not in page.text  # no CDN, no external request
    text = client.get("/metrics").text
    assert client.get("/metrics").headers["content-type"].startswith("text/plain; version=0.0.4")
    assert 'cnnkit_requests_total{route="/health",method="GET",status="200"} 1' in text
    assert "# TYPE cnnkit_request_duration_seconds histogram" in text and "cnnkit_batch_size_count" in text
    assert 'cnnkit_request_duration_seconds_bucket{route="/info",le="+Inf"} 1' in text


def test_api_key_guards_every_api_route(run_dir):
    live = Live(create_app(run_dir, api_key="s3cret"))
    try:
        with httpx.Client(base_url=live.url) as c:
            for method, path in [("POST", "/predict"), ("POST", "/explain"), ("GET", "/info"), ("GET", "/metrics")]:
                r = c.request(method, path, content=png((9, 9, 9)) if method == "POST" else None)
                assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
                assert r.json()["error"].endswith("Received: no key.")
                r = c.request(method, path, headers={"Authorization": "Bearer wrong"})
                assert r.status_code == 401 and r.json()["error"].endswith("Received: a wrong key.")
            assert (
                c.post("/predict", content=png((9, 9, 200)), headers={"X-API-Key": "s3cret"}).json()["class"] == "blue"
            )
            assert c.get("/info", headers={"Authorization": "Bearer s3cret"}).status_code == 200
            assert c.get("/health").status_code == 200 and c.get("/").status_code == 200  # probes and the page
            assert "access-control-allow-origin" not in c.get("/health", headers={"Origin": "http://x.test"}).headers
    finally:
        live.stop()


def test_cors_only_for_the_given_origin(run_dir):
    live = Live(create_app(run_dir, cors_origins=["http://app.test"]))
    try:
        with httpx.Client(base_url=live.url) as c:
            pre = {"Origin": "http://app.test", "Access-Control-Request-Method": "POST"}
            r = c.options("/predict", headers=pre)
            assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "http://app.test"
            r = c.post("/predict", content=png((200, 0, 0)), headers={"Origin": "http://evil.test"})
            assert r.status_code == 200 and "access-control-allow-origin" not in r.headers
    finally:
        live.stop()


def test_app_from_an_in_memory_model_mounts_in_a_users_app():
    site = FastAPI()
    site.mount("/colours", create_app(colour_model(), class_names=CLASSES))
    live = Live(site)
    try:
        with httpx.Client(base_url=live.url) as c:
            assert c.post("/colours/predict", content=png((0, 250, 0))).json()["class"] == "green"
            assert c.get("/colours/info").json()["class_names"] == CLASSES
            metrics = c.get("/colours/metrics").text
            assert 'cnnkit_requests_total{route="/predict",method="POST",status="200"} 1' in metrics
    finally:
        live.stop()


def test_predictor_refuses_a_model_that_does_not_take_images():
    with pytest.raises(ValueError, match=r"^The model does not take images\. Expected an input shape"):
        Predictor.from_model(torch.nn.Linear(2, 2))
    assert json.loads(json.dumps(Predictor.from_model(colour_model()).info()))["class_names"] == ["0", "1", "2"]
