"""The library behind `cnnkit train`: defaults chosen from the data, and resuming an interrupted run."""

import json

import numpy as np
import pytest
from PIL import Image

from cnnkit.pipeline import DataSummary, TrainConfig, choose_defaults, inspect_directory, train_from_directory
from cnnkit.pipeline import train as train_module


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    from cnnkit.datasets import fashion_mnist, to_folder

    (x, y), _ = fashion_mnist.load_data()
    root = tmp_path_factory.mktemp("fm3")
    to_folder(x, y, root, class_names=[f"c{i}" for i in range(10)], classes=[0, 1, 7], max_per_class=20, verbose=False)
    return root


def test_inspect_directory(folder, tmp_path):
    s = inspect_directory(folder)
    assert s.class_names == ["c0", "c1", "c7"] and s.counts == {"c0": 20, "c1": 20, "c7": 20}
    assert s.image_size == (28, 28) and s.grayscale and s.num_images == 60
    with pytest.raises(FileNotFoundError, match=r"The data folder does not exist\. Expected a folder with one sub"):
        inspect_directory(tmp_path / "missing")
    (tmp_path / "one" / "only").mkdir(parents=True)
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "one" / "only" / "a.png")
    with pytest.raises(ValueError, match=r"The data folder has only one class\. Expected at least two"):
        inspect_directory(tmp_path / "one")


def test_defaults_follow_the_data():
    small = DataSummary("d", ["a", "b"], {"a": 500, "b": 500}, (28, 28), True)
    assert choose_defaults(small, None, None) == ("tutorial", 28)
    big = DataSummary("d", ["a", "b"], {"a": 3000, "b": 3000}, (375, 500), False)
    name, size = choose_defaults(big, None, None)
    assert (name, size) == ("ResNet20", 64)
    many_small = DataSummary("d", ["a", "b"], {"a": 3000, "b": 3000}, (28, 28), True)
    assert choose_defaults(many_small, None, None) == ("tutorial_bn", 28)  # with the one-cycle recipe
    assert choose_defaults(big, "VGG16", None) == ("VGG16", 224)
    assert choose_defaults(small, "tutorial", 40) == ("tutorial", 40)


def interrupt_after_first_epoch():
    """Stops training as the second epoch starts, as a crash or Ctrl-C would."""
    from cnnkit.callbacks import LambdaCallback

    def stop(epoch, logs=None):
        if epoch == 1:
            raise KeyboardInterrupt

    return LambdaCallback(on_epoch_begin=stop)


def test_rerunning_an_interrupted_run_resumes(folder, tmp_path, monkeypatch):
    out = tmp_path / "run"
    cfg = dict(data_dir=str(folder), out=str(out), epochs=3, batch_size=16, seed=3, verbose=0, patience=10)
    with pytest.raises(KeyboardInterrupt):
        train_from_directory(TrainConfig(**cfg, callbacks=[interrupt_after_first_epoch()]), progress=None)
    assert (out / "backup").is_dir() and not (out / "model.cnnkit").exists()
    first = (out / "history.csv").read_text().splitlines()
    assert len(first) == 2  # header + epoch 0
    said, predicted = [], []
    collect = train_module.collect_predictions
    monkeypatch.setattr(train_module, "collect_predictions", lambda *a, **k: predicted.append(a[1]) or collect(*a, **k))
    result = train_from_directory(TrainConfig(**cfg), progress=said.append)
    assert len(predicted) == 1  # the validation set is predicted once, for the metrics and the report
    assert result.resumed and any("Resuming the interrupted run" in s for s in said)
    rows = (out / "history.csv").read_text().splitlines()
    assert [r.split(",")[0] for r in rows[1:]] == ["0", "1", "2"]  # epochs 1 and 2 appended, epoch 0 not redone
    assert rows[:2] == first
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["epochs"] == 3 and 0 <= metrics["val_accuracy"] <= 1
    assert not (out / "backup").exists() and (out / "report.html").is_file()
