"""The training recipe: one-cycle SGD with label smoothing for the fast ResNets, Adam for the rest."""

import json

import numpy as np
import pytest
import torch

from cnnkit import losses, optimizers
from cnnkit.models import load_model
from cnnkit.optimizers.schedules import OneCycle
from cnnkit.pipeline import TrainConfig, train_from_directory
from cnnkit.pipeline import recipe as recipe_module
from cnnkit.pipeline.recipe import bf16_faster, bf16_speedup, recipe_for


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


def test_precision_auto_gives_bf16_to_the_fast_resnets_only_where_it_measures_faster(monkeypatch):
    for faster in (True, False):
        monkeypatch.setattr(recipe_module, "bf16_faster", lambda faster=faster: faster)
        expected = "mixed_bfloat16" if faster else None
        assert [recipe_for(n).dtype_policy for n in ("tutorial_bn", "ResNetXS", "ResNetS", "ResNetM")] == [expected] * 4
        assert recipe_for("tutorial").dtype_policy is None and recipe_for("MobileNetV2").dtype_policy is None
        assert recipe_for("ResNetS", device="cuda").dtype_policy is None  # the probe measures this CPU only
    # Given explicitly, the precision is used as given, for every model.
    assert recipe_for("ResNetS", precision="float32").dtype_policy is None
    assert recipe_for("tutorial", precision="mixed_bfloat16").compile_args(None, 10)["dtype_policy"] == "mixed_bfloat16"
    with pytest.raises(ValueError, match=r"Expected one of auto, float32, mixed_bfloat16\. Received: 'bf16'"):
        recipe_for("ResNetS", precision="bf16")


def test_bf16_is_chosen_only_on_a_native_bf16_cpu_where_it_measures_faster(monkeypatch):
    for native, speedup, chosen in ((False, 3.0, False), (True, 1.05, False), (True, 1.2, True), (True, 2.0, True)):
        monkeypatch.setattr(recipe_module, "native_bf16_cpu", lambda native=native: native)
        monkeypatch.setattr(recipe_module, "bf16_speedup", lambda speedup=speedup: speedup)
        bf16_faster.cache_clear()
        try:
            assert bf16_faster() is chosen, (native, speedup)
        finally:
            bf16_faster.cache_clear()


def test_bf16_speedup_is_the_ratio_of_the_median_step_times(monkeypatch):
    # A fake clock: a step "takes" 0.3 s in float32 and 0.1 s under bf16 autocast (one slow outlier each, untimed
    # warm-up steps of 5 s), so the probe must report 3.0 from the medians.
    steps = {False: 0, True: 0}

    def clock():
        bf16 = recipe_module.torch.is_autocast_enabled("cpu")
        clock.now += clock.pending
        clock.pending = 0.0
        if clock.started is None:
            clock.started = bf16
            n = steps[bf16]
            steps[bf16] += 1
            clock.pending = 5.0 if n < 2 else (0.3 if not bf16 else 0.1) * (4 if n == 4 else 1)
        else:
            clock.started = None
        return clock.now

    clock.now, clock.pending, clock.started = 0.0, 0.0, None
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    assert bf16_speedup(clock) == pytest.approx(3.0)
    assert steps == {False: 7, True: 7}
    assert torch.equal(torch.rand(3), expected)  # the probe leaves the user's seeded random stream alone


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
    assert metrics["dtype_policy"] == ("mixed_bfloat16" if bf16_faster() else "float32")
    model = load_model(str(result.model_path))
    assert isinstance(model.optimizer._learning_rate, OneCycle)
    assert model.optimizer._learning_rate.total_steps == 2 * 6  # 96 training images in batches of 16, 2 epochs
    assert model(np.zeros((1, 28, 28, 1), np.float32)).shape == (1, 3)
