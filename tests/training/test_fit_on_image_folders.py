"""fit() on image_dataset_from_directory datasets: exact resume through the dataset contract's iterate()."""

import numpy as np
import pytest
from PIL import Image

from cnnkit import callbacks, layers, models
from cnnkit.utils import image_dataset_from_directory, set_random_seed


@pytest.fixture
def folder(tmp_path):
    rng = np.random.default_rng(0)
    for label, name in enumerate(["cats", "dogs"]):
        (tmp_path / "images" / name).mkdir(parents=True)
        for i in range(24):
            pixels = rng.integers(0, 120, (12, 12, 3)) + 120 * label  # dogs are brighter
            Image.fromarray(pixels.astype(np.uint8)).save(tmp_path / "images" / name / f"{i}.png")
    return tmp_path / "images"


def _fit(folder, backup, extra=()):
    set_random_seed(0)
    kwargs = dict(image_size=(12, 12), batch_size=8, seed=3, validation_split=0.25, label_mode="binary", verbose=False)
    train = image_dataset_from_directory(folder, subset="training", **kwargs)
    val = image_dataset_from_directory(folder, subset="validation", **kwargs)
    model = models.Sequential(
        [
            layers.Input((12, 12, 3)),
            layers.Rescaling(1 / 255),
            layers.Conv2D(4, 3, activation="relu"),
            layers.Dropout(0.2),
            layers.Flatten(),
            layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    history = model.fit(
        train,
        validation_data=val,
        epochs=3,
        verbose=0,
        callbacks=[*extra, callbacks.BackupAndRestore(str(backup), save_freq=2)],
    )
    return model, history


def test_fit_on_folders_resumes_exactly_after_a_crash(folder, tmp_path):
    class Crash(callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if self.model._trainer.global_step == 7:  # epoch 1, batch 2 of 5
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _fit(folder, tmp_path / "backup", [Crash()])
    resumed, history = _fit(folder, tmp_path / "backup")
    reference, ref_history = _fit(folder, tmp_path / "reference")
    for a, b in zip(resumed.get_weights(), reference.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert history.history == ref_history.history
