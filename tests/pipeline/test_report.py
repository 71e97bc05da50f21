"""The report of a run folder: written atomically, self-contained, and rendered by a real browser."""

import base64
import io
import json
import re

import numpy as np
import pytest
import torch
from PIL import Image

from cnnkit.pipeline import write_report
from support.chromium_cdp import Browser, find_chromium

CLASSES = ["circle", "square", "cross"]


class TinyCNN(torch.nn.Module):
    """A channels-last CNN in the shape of a cnnkit model (named layers in ``layers``)."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = torch.nn.Conv2d(1, 6, 3, padding=1)
        self.fc = torch.nn.Linear(6, 3)

    def forward(self, x):
        a = torch.relu(self.conv(x.permute(0, 3, 1, 2) / 255.0))
        return torch.softmax(self.fc(a.mean(dim=(2, 3))), dim=1)


def make_run(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "history.csv").write_text(
        "epoch,accuracy,loss,val_accuracy,val_loss\n0,0.5,1.1,0.55,1.0\n1,0.7,0.8,0.65,0.9\n2,0.8,0.6,0.7,0.85\n"
    )
    (run / "class_names.json").write_text(json.dumps(CLASSES))
    (run / "metrics.json").write_text(json.dumps({"val_accuracy": 0.7, "val_loss": 0.85, "epochs": 3}))
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (24, 16, 16, 1)).astype(np.float32)
    y = rng.integers(0, 3, 24)
    return run, x, y


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    run, x, y = make_run(tmp_path_factory.mktemp("report"))
    path = write_report(run, model=TinyCNN(), dataset=(x, y))
    return path


def test_report_is_one_self_contained_file(report):
    assert report.name == "report.html"
    assert sorted(p.name for p in report.parent.iterdir()) == [
        "class_names.json",
        "history.csv",
        "metrics.json",
        "report.html",
    ]  # written atomically: no temporary file left
    page = report.read_text()
    for section in ("Model", "Training curves", "Confusion matrix", "Per-class metrics", "Misclassified examples"):
        assert f">{section}</h" in page
    assert "Grad-CAM" in page and "First-layer filters" in page
    # Nothing that could reach the network: no http(s) URL in any attribute, no scripts, and a strict CSP.
    assert not re.search(r"""(src|href|action)\s*=\s*["']?\s*(https?:|//)""", page, re.I)
    assert "<script" not in page.lower()
    assert "default-src 'none'; img-src data:" in page
    images = re.findall(r'<img src="data:image/png;base64,([^"]+)"', page)
    assert len(images) == 5  # curves, confusion matrix, mistakes, Grad-CAM, filters
    for data in images:
        Image.open(io.BytesIO(base64.b64decode(data))).verify()


def test_report_per_class_table_matches_the_predictions(report):
    page = report.read_text()
    rows = re.findall(r"<tr><td>(\w+)</td><td>([\d.]+)</td><td>([\d.]+)</td><td>([\d.]+)</td><td>(\d+)</td></tr>", page)
    assert [r[0] for r in rows] == CLASSES
    assert sum(int(r[4]) for r in rows) == 24


@pytest.mark.skipif(find_chromium() is None, reason="chromium is not installed (apt-get install -y chromium)")
def test_report_renders_in_headless_chromium_without_network(report, tmp_path):
    browser = Browser(find_chromium())
    try:
        browser.call("Network.enable")
        browser.call("Page.enable")
        browser.call("Page.navigate", url=report.resolve().as_uri())
        browser.wait_for("Page.loadEventFired")
        state = browser.evaluate(
            "JSON.stringify({imgs: [...document.images].map(i => [i.complete, i.naturalWidth, i.naturalHeight]),"
            " h2: [...document.querySelectorAll('h2')].map(h => h.textContent),"
            " height: document.body.scrollHeight})"
        )
        shot = browser.call("Page.captureScreenshot", format="png")
        requests = [e["params"]["request"]["url"] for e in browser.events if e["method"] == "Network.requestWillBeSent"]
    finally:
        browser.close()
    state = json.loads(state)
    assert len(state["imgs"]) == 5
    assert all(done and w > 0 and h > 0 for done, w, h in state["imgs"]), state["imgs"]  # every image decoded
    assert "Confusion matrix" in state["h2"] and "Grad-CAM" in state["h2"]
    assert state["height"] > 1000
    # The only request is the page itself (data: images are not fetched over the network).
    assert all(u.startswith(("file:", "data:")) for u in requests), requests
    assert any(u.startswith("file:") for u in requests)
    png = Image.open(io.BytesIO(base64.b64decode(shot["data"])))
    assert png.size[0] > 0 and len(np.unique(np.asarray(png.convert("L")))) > 10  # not a blank page


def test_report_without_model_or_images_uses_what_the_run_folder_has(tmp_path):
    run, _, _ = make_run(tmp_path)
    cm = [[3, 1, 0], [0, 2, 2], [1, 0, 5]]
    (run / "metrics.json").write_text(json.dumps({"val_accuracy": 10 / 14, "confusion_matrix": cm}))
    page = write_report(run).read_text()
    assert ">Training curves</h2>" in page and ">Confusion matrix</h2>" in page
    assert "14 validation images, accuracy 0.7143" in page
    assert "Grad-CAM" not in page and "First-layer filters" not in page
    assert page.count("<img ") == 2


def test_report_of_a_folder_that_is_not_a_run(tmp_path):
    with pytest.raises(ValueError, match=r"The folder is not a cnnkit run\. Expected model.cnnkit, metrics.json"):
        write_report(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"The run folder does not exist"):
        write_report(tmp_path / "missing")
