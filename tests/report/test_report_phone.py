"""The report as a phone shows it (420 px wide, headless Chromium) and without this machine's paths."""

from __future__ import annotations

import base64
import io
import json

import numpy as np
import pytest
import torch
from PIL import Image

from cnnkit.pipeline import write_report
from support.chromium_cdp import Browser, find_chromium

CLASSES = [f"a_rather_long_class_name_{i}" for i in range(6)]


class Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = torch.nn.Conv2d(1, 4, 3, padding=1)
        self.fc = torch.nn.Linear(4, len(CLASSES))

    def forward(self, x):
        a = torch.relu(self.conv(x.permute(0, 3, 1, 2) / 255.0))
        return torch.softmax(self.fc(a.mean(dim=(2, 3))), dim=1)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    run = tmp_path_factory.mktemp("phone") / "run"
    run.mkdir()
    (run / "history.csv").write_text(
        "epoch,accuracy,loss,val_accuracy,val_loss\n0,0.5,1.1,0.55,1.0\n1,0.7,0.8,0.6,0.9\n"
    )
    (run / "class_names.json").write_text(json.dumps(CLASSES))
    data = str(run.parent / "private" / "home" / "someone" / "flowers_2026")
    metrics = {"val_accuracy": 0.6, "val_loss": 0.9, "epochs": 2, "model_name": "tutorial", "data": {"directory": data}}
    (run / "metrics.json").write_text(json.dumps(metrics))
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (24, 16, 16, 1)).astype(np.float32)
    return write_report(run, model=Tiny(), dataset=(x, rng.integers(0, len(CLASSES), 24))), data


def test_the_report_names_the_data_folder_not_its_path(report):
    path, data = report
    page = path.read_text()
    assert "flowers_2026" in page and "private" not in page and data not in page


@pytest.mark.skipif(find_chromium() is None, reason="chromium is not installed (apt-get install -y chromium)")
def test_the_report_reads_at_420_px_without_sideways_scrolling(report, tmp_path):
    path, _ = report
    browser = Browser(find_chromium())
    try:
        browser.call("Page.enable")
        browser.call("Emulation.setDeviceMetricsOverride", width=420, height=900, deviceScaleFactor=1, mobile=True)
        browser.call("Page.navigate", url=path.resolve().as_uri())
        browser.wait_for("Page.loadEventFired")
        state = json.loads(
            browser.evaluate(
                "JSON.stringify({width: document.documentElement.clientWidth,"
                " scroll: document.documentElement.scrollWidth,"
                " right: Math.max(...[...document.querySelectorAll('body *')].filter(e => !e.closest('table, pre'))"
                ".map(e => e.getBoundingClientRect().right)),"
                " tables: [...document.querySelectorAll('table')].map(t => t.getBoundingClientRect().right)})"
            )
        )
        shot = browser.call("Page.captureScreenshot", format="png")
    finally:
        browser.close()
    png = base64.b64decode(shot["data"])
    (tmp_path / "report-420px.png").write_bytes(png)  # kept with the test's files for a look
    assert Image.open(io.BytesIO(png)).size[0] == 420
    assert state["width"] == 420 and state["scroll"] <= 420, state  # the page itself never scrolls sideways
    assert state["right"] <= 420 and all(r <= 420 for r in state["tables"]), state  # wide tables scroll in place
