"""Transfer learning with fit: a frozen base's BatchNorm statistics and weights stay put; unfreezing trains them;
fine_tune's two phases touch exactly what they should."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import cnnkit.applications as applications
from cnnkit.applications.transfer import split_blocks
from cnnkit.layers import Dense, GlobalAveragePooling2D
from cnnkit.models import Sequential

pytest.importorskip("cnnkit.training.trainer")  # fit lives in the training package


def _data(n=32, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((n, 32, 32, 1), dtype=np.float32)
    return x, (x.mean(axis=(1, 2, 3)) > 0.5).astype("int64")


def _snapshot(model, what):
    return {k: v.clone() for k, v in model.state_dict().items() if what in k}


def test_frozen_base_batchnorm_stats_do_not_change_during_fit():
    torch.manual_seed(0)
    base = applications.ResNet20(include_top=False, input_shape=(32, 32, 1))
    base.trainable = False
    model = Sequential([base, GlobalAveragePooling2D(), Dense(2, activation="softmax")])
    model.build((None, 32, 32, 1))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    stats, kernels = _snapshot(base, "moving"), _snapshot(base, "kernel")
    head = model.layers[-1].kernel.detach().clone()
    model.fit(*_data(), batch_size=8, epochs=1, verbose=0)
    assert all(torch.equal(v, base.state_dict()[k]) for k, v in stats.items())
    assert all(torch.equal(v, base.state_dict()[k]) for k, v in kernels.items())
    assert not torch.equal(head, model.layers[-1].kernel)  # the head did train

    base.trainable = True
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")  # Keras: recompile after unfreezing
    model.fit(*_data(), batch_size=8, epochs=1, verbose=0)
    assert all(not torch.equal(v, base.state_dict()[k]) for k, v in stats.items())
    assert all(not torch.equal(v, base.state_dict()[k]) for k, v in kernels.items())


def test_fine_tune_two_phases():
    torch.manual_seed(0)
    base = applications.ResNet20(include_top=False, input_shape=(32, 32, 1))
    stats, kernels = _snapshot(base, "moving"), _snapshot(base, "kernel")
    x, y = _data()
    model, (head, tuned) = applications.fine_tune(
        base, x, y, classes=2, head_epochs=1, fine_tune_epochs=1, unfreeze_blocks=1, batch_size=8, verbose=0
    )
    assert len(head.history["loss"]) == 1 and len(tuned.history["loss"]) == 1
    assert tuple(model(torch.from_numpy(x[:3])).shape) == (3, 2)
    after = base.state_dict()
    assert all(torch.equal(v, after[k]) for k, v in stats.items())  # BatchNorm in inference mode throughout
    changed = sorted(k for k, v in kernels.items() if not torch.equal(v, after[k]))
    assert changed == ["layer3_2_conv1.kernel", "layer3_2_conv2.kernel"]  # only the top block was unfrozen


def test_split_blocks_and_errors():
    blocks = split_blocks(applications.VGG11(include_top=False, input_shape=(32, 32, 3)))
    assert [[layer.name for layer in b if layer.weights] for b in blocks] == [
        ["features_0"], ["features_3"], ["features_6", "features_8"], ["features_11", "features_13"],
        ["features_16", "features_18"],
    ]  # fmt: skip
    resnet = applications.ResNet18(include_top=False, input_shape=(32, 32, 3))
    assert len(split_blocks(resnet)) == 1 + 8  # the stem (ends at its max pool), then one per residual block
    model = Sequential([Dense(2)])
    model.build((None, 3))
    with pytest.raises(ValueError, match="fine_tune could not find the pretrained base in the model"):
        applications.fine_tune(model, np.zeros((2, 3)), np.zeros(2))


@pytest.mark.slow  # two epochs of fit on a 28M-parameter base: 31 s on the loaded 2-core machine (load 5-6)
def test_frozen_convnext_base_keeps_its_weights():
    """ConvNeXt (no BatchNorm: LayerNorm, LayerScale) as a frozen feature extractor: only the new head trains, and
    unfreezing it makes the base's layers train too."""
    torch.manual_seed(0)
    base = applications.ConvNeXtTiny(include_top=False, input_shape=(32, 32, 3), pooling="avg")
    base.trainable = False
    model = Sequential([base, Dense(2, activation="softmax")])
    model.build((None, 32, 32, 3))
    assert [tuple(w.shape) for w in model.trainable_weights] == [(768, 2), (2,)]
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    before = _snapshot(base, "")
    head = model.layers[-1].kernel.detach().clone()
    x, y = _data(16)
    x = np.repeat(x, 3, axis=-1) * 255  # pixels, as the model's own normalisation expects
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert all(torch.equal(v, base.state_dict()[k]) for k, v in before.items())
    assert not torch.equal(head, model.layers[-1].kernel)

    base.trainable = True
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    scale = "convnext_tiny_stage_3_block_2_layer_scale.gamma"
    assert not torch.equal(before[scale], base.state_dict()[scale])


@pytest.mark.slow  # ~12 s idle: EfficientNetV2B0's 270 layers, two short phases
def test_fine_tune_efficientnet_v2_unfreezes_its_top():
    """A Keras-named family through the same recipe: of the whole base only ``top_conv`` (the layers after the last
    MBConv block; BatchNormalization stays frozen, as Keras advises) changes, and BatchNorm statistics stay put."""
    torch.manual_seed(0)
    base = applications.EfficientNetV2B0(include_top=False, input_shape=(32, 32, 1))
    before = _snapshot(base, "")
    x, y = _data(n=16)
    applications.fine_tune(
        base, x * 255, y, classes=2, head_epochs=1, fine_tune_epochs=1, unfreeze_blocks=1, batch_size=8, verbose=0
    )
    after = base.state_dict()
    assert sorted(k for k, v in before.items() if not torch.equal(v, after[k])) == ["top_conv.kernel"]
