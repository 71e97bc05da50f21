"""Flip test-time augmentation: the mean of the image's and its mirror's probabilities, and off when asked."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

import cnnkit
from cnnkit import layers
from cnnkit.pipeline import evaluate_directory, load_classifier, predict_images
from cnnkit.pipeline.tta import FlipTTA, with_tta


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    rng = np.random.default_rng(0)
    root = tmp_path_factory.mktemp("tta")
    for c in ("a", "b", "c"):
        (root / c).mkdir()
        for i in range(6):
            Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(root / c / f"{i}.png")
    return root


def _save(model, path):
    model.save(str(path / "model.cnnkit"))
    (path / "class_names.json").write_text(json.dumps(["a", "b", "c"]))
    return load_classifier(path / "model.cnnkit")


def _invariant_model():
    # Global average pooling of a per-pixel (1x1) convolution does not see left from right: a mirror-invariant model.
    cnnkit.utils.set_random_seed(0)
    return cnnkit.models.Sequential(
        [
            layers.Input((8, 8, 3)),
            layers.Conv2D(4, 1, activation="relu"),
            layers.GlobalAveragePooling2D(),
            layers.Dense(3, activation="softmax"),
        ]
    )


def _position_model():
    cnnkit.utils.set_random_seed(0)
    return cnnkit.models.Sequential(
        [layers.Input((8, 8, 3)), layers.Rescaling(1 / 255), layers.Flatten(), layers.Dense(3, activation="softmax")]
    )


def test_tta_changes_nothing_for_a_flip_invariant_model(folder, tmp_path):
    clf = _save(_invariant_model(), tmp_path)
    plain = evaluate_directory(clf, str(folder), tta=False)
    tta = evaluate_directory(clf, str(folder), tta=True)
    assert tta.accuracy == plain.accuracy
    np.testing.assert_array_equal(tta.confusion_matrix, plain.confusion_matrix)
    assert tta.loss == pytest.approx(plain.loss, rel=1e-6)
    a = predict_images(clf, [str(folder)], top_k=3, tta=True)
    b = predict_images(clf, [str(folder)], top_k=3, tta=False)
    for ra, rb in zip(a, b, strict=True):
        assert ra["class"] == rb["class"] and ra["probability"] == pytest.approx(rb["probability"], rel=1e-6)


def test_tta_is_the_mean_over_the_mirror_and_off_when_asked(folder, tmp_path):
    clf = _save(_position_model(), tmp_path)
    x = np.random.default_rng(1).uniform(0, 255, (5, 8, 8, 3)).astype("float32")
    p = clf.model.predict(x, verbose=0)
    q = clf.model.predict(x[:, :, ::-1, :].copy(), verbose=0)
    assert not np.allclose(p, q, atol=1e-3)  # the model does see left from right
    with torch.no_grad():
        np.testing.assert_allclose(FlipTTA(clf.model)(x).numpy(), (p + q) / 2, rtol=1e-5, atol=1e-7)
    assert with_tta(clf.model, False) is clf.model
    # Off where the user says so: predict_images(tta=False) is the model's own output.
    files = sorted(str(f) for f in (folder / "a").iterdir())
    off = predict_images(clf, files, top_k=1, tta=False)
    direct = clf.model.predict(np.stack([np.asarray(Image.open(f), np.float32) for f in files]), verbose=0)
    np.testing.assert_allclose([r["probability"] for r in off], direct.max(axis=1), rtol=1e-5)
    on = predict_images(clf, files, top_k=1, tta=True)
    assert [r["probability"] for r in on] != [r["probability"] for r in off]


def test_cli_tta_default_on_and_no_tta(folder, tmp_path, capsys):
    from cnnkit.cli.main import main

    _save(_position_model(), tmp_path)
    assert main(["evaluate", str(tmp_path), str(folder)]) == 0
    assert "(flip test-time augmentation)" in capsys.readouterr().out
    assert main(["evaluate", str(tmp_path), str(folder), "--no-tta"]) == 0
    out = capsys.readouterr().out
    assert "Accuracy:" in out and "test-time" not in out
    assert main(["predict", str(tmp_path), str(folder / "a" / "0.png"), "--json", "--no-tta"]) == 0
    off = json.loads(capsys.readouterr().out)[0]["probability"]
    assert main(["predict", str(tmp_path), str(folder / "a" / "0.png"), "--json"]) == 0
    on = json.loads(capsys.readouterr().out)[0]["probability"]
    clf = load_classifier(tmp_path)
    x = np.asarray(Image.open(folder / "a" / "0.png"), np.float32)[None]
    with torch.no_grad():
        assert on == pytest.approx(float(FlipTTA(clf.model)(x).max()), rel=1e-5)
    assert off == pytest.approx(float(clf.model.predict(x, verbose=0).max()), rel=1e-5)
