"""`cnnkit lr-find` and `cnnkit train --lr auto` on a small Fashion-MNIST folder, as a user runs them."""

import json

import numpy as np
import pytest
from PIL import Image

from cnnkit.cli.main import main


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    from cnnkit.datasets import fashion_mnist, to_folder

    (x, y), _ = fashion_mnist.load_data()
    root = tmp_path_factory.mktemp("fm_lr")
    to_folder(x, y, root, class_names=[f"c{i}" for i in range(10)], classes=[0, 1, 7], max_per_class=40, verbose=False)
    return root


def test_lr_find_draws_the_curve_and_suggests_a_rate(data, tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["lr-find", str(data), "--out", str(out), "--num-iter", "20", "--start-lr", "1e-5", "--end-lr", "1"])
    text = capsys.readouterr().out
    assert code == 0
    saved = json.loads((out / "lr_find.json").read_text())
    assert 1e-5 <= saved["suggestion"] <= 1 and saved["suggestion"] in saved["lrs"]
    assert f"Suggested learning rate: {saved['suggestion']:.3g} (" in text
    assert f"Suggestions: valley {saved['suggestion']:.3g}, minimum " in text
    assert f"The curve: {out / 'lr_find.png'}" in text
    with Image.open(out / "lr_find.png") as im:
        assert im.format == "PNG" and im.size[0] > 200


@pytest.mark.slow  # about 30 s on the shared 2-core machine (a range test, one epoch and the report)
def test_train_lr_auto_uses_the_suggestion_and_the_report_shows_the_curve(data, tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["train", str(data), "--out", str(out), "--epochs", "1", "--lr", "auto", "--seed", "3"])
    text = capsys.readouterr().out
    assert code == 0, text
    metrics = json.loads((out / "metrics.json").read_text())
    suggestion = metrics["lr_find"]["suggestion"]
    assert suggestion == json.loads((out / "lr_find.json").read_text())["suggestion"]
    assert f"Suggested learning rate: {suggestion:.3g}" in text
    page = (out / "report.html").read_text()
    assert metrics["tta"] is True  # on by default in the CLI, and said in the report
    assert '<div class="v">flip</div><div class="k">test-time augmentation</div>' in page
    assert 'id="lr-find"' in page and f"Learning rate {suggestion:.3g} chosen by the range test" in page
    # The model trained at the suggested rate: the saved optimizer state carries it.
    from cnnkit.saving import load_model

    model = load_model(str(out / "model.cnnkit"))
    assert np.isclose(float(model.optimizer.learning_rate), suggestion)


def test_lr_value_errors(capsys):
    with pytest.raises(SystemExit):
        main(["train", "x", "--lr", "fast"])
    assert "argument --lr: expected a number or 'auto', got 'fast'" in capsys.readouterr().err
