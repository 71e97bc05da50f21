"""The report page renders only what it is given: no file is read, no prediction is made."""

import numpy as np
import torch

from cnnkit.interpret import Predictions
from cnnkit.report import render_report

CLASSES = ["circle", "square", "cross"]
HISTORY = {"loss": [1.1, 0.8], "accuracy": [0.5, 0.7], "val_loss": [1.0, 0.9], "val_accuracy": [0.55, 0.65]}


class TinyCNN(torch.nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = torch.nn.Conv2d(1, 6, 3, padding=1)
        self.fc = torch.nn.Linear(6, 3)

    def forward(self, x):
        a = torch.relu(self.conv(x.permute(0, 3, 1, 2) / 255.0))
        return torch.softmax(self.fc(a.mean(dim=(2, 3))), dim=1)


def test_report_shows_the_given_predictions():
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, (12, 16, 16, 1)).astype(np.float32)
    probs = rng.dirichlet(np.ones(3), 12).astype(np.float32)
    y_true = np.arange(12) % 3
    preds = Predictions(probs=probs, y_true=y_true, images=images)
    said = []
    page = render_report(
        "run", CLASSES, history=HISTORY, metrics={"val_accuracy": 0.65}, model=TinyCNN(), predictions=preds,
        progress=said.append,
    )  # fmt: skip
    for section in ("Model", "Training curves", "Confusion matrix", "Misclassified examples", "Grad-CAM"):
        assert f">{section}</h2>" in page
    assert f"12 validation images, accuracy {preds.accuracy:.4f}" in page
    assert "predicting the validation set" not in said and "confusion matrix" in said
    assert "cnnkit report: run" in page


def test_report_without_predictions_uses_the_metrics_confusion_matrix():
    cm = [[3, 1, 0], [0, 2, 2], [1, 0, 5]]
    page = render_report("run", CLASSES, history=HISTORY, metrics={"confusion_matrix": cm})
    assert "14 validation images, accuracy 0.7143" in page
    assert "Grad-CAM" not in page and ">Model</h2>" not in page
