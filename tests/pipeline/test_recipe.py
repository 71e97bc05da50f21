"""The training recipe: one-cycle SGD with label smoothing for the fast ResNets, Adam for the rest."""

import json

import numpy as np
import pytest

from cnnkit import losses, optimizers
from cnnkit.models import load_model
from cnnkit.optimizers.schedules import OneCycle
from cnnkit.pipeline import TrainConfig, train_from_directory
from cnnkit.pipeline.recipe import recipe_for


def test_recipe_for_the_fast_resnets_is_one_cycle_sgd_with_label_smoothing():
    args = recipe_for("ResNetS", device="cpu").compile_args(0.2, total_steps=400)
    opt = args["optimizer"]
    assert isinstance(opt, optimizers.SGD) and opt.nesterov and opt.momentum == 0.9 and opt.weight_decay == 5e-4
    schedule = opt._learning_rate
    assert isinstance(schedule, OneCycle) and schedule.get_config()["max_learning_rate"] == 0.2
    assert schedule(0) == pytest.approx(0.2 / 25) and schedule(100) == pytest.approx(0.2)
    assert isinstance(args["loss"], losses.CategoricalCrossentropy) and args["loss"].label_smoothing == 0.1
    # The range test drives a plain rate on the same optimizer.
    plain = recipe_for("ResNetS").compile_args(None, 1, plain_rate=True)["optimizer"]
    assert isinstance(plain, optimizers.SGD) and float(plain.learning_rate) == 0.2
    assert recipe_for("ResNetXS").batch_size == 128 and recipe_for("tutorial").batch_size == 32
    tutorial = recipe_for("tutorial").compile_args(None, 100)
    assert isinstance(tutorial["optimizer"], optimizers.Adam) and float(tutorial["optimizer"].learning_rate) == 1e-3
    assert tutorial["loss"] == "sparse_categorical_crossentropy"


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    from cnnkit.datasets import fashion_mnist, to_folder

    (x, y), _ = fashion_mnist.load_data()
    root = tmp_path_factory.mktemp("fm_recipe")
    to_folder(x, y, root, class_names=[f"c{i}" for i in range(10)], classes=[0, 1, 7], max_per_class=40, verbose=False)
    return root


@pytest.mark.slow  # about 30 s on the shared machine (two epochs, the final evaluation, the report)
def test_train_resnet_s_with_the_recipe_saves_a_loadable_model(folder, tmp_path):
    cfg = TrainConfig(str(folder), str(tmp_path / "run"), model="ResNetS", epochs=2, batch_size=16, verbose=0)
    result = train_from_directory(cfg, progress=None)
    metrics = json.loads((result.run_dir / "metrics.json").read_text())
    assert metrics["model_name"] == "ResNetS" and metrics["data"]["color_mode"] == "grayscale"
    assert metrics["data"]["image_size"] == [28, 28]  # the images' own size
    assert 0.0 <= metrics["val_accuracy"] <= 1.0 and metrics["tta"] is False
    model = load_model(str(result.model_path))
    assert isinstance(model.optimizer._learning_rate, OneCycle)
    assert model.optimizer._learning_rate.total_steps == 2 * 6  # 96 training images in batches of 16, 2 epochs
    assert model(np.zeros((1, 28, 28, 1), np.float32)).shape == (1, 3)
