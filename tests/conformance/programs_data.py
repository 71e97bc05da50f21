"""Programs in the style of keras.io's data and persistence guides: a PyDataset loader, a convolutional autoencoder,
saving and loading (whole model, config/JSON, weights files exchanged with Keras)."""

import math

import numpy as np


def sequence_loader(keras, ctx):
    """A ``PyDataset`` (ex-``Sequence``) loader as in the U-Net example: batches by index, shuffled each epoch."""

    class PairedBatches(keras.utils.PyDataset):
        def __init__(self, x, y, batch_size, shuffle_each_epoch=False, **kwargs):
            super().__init__(**kwargs)
            self.x, self.y, self.batch_size = x, y, batch_size
            self.order = np.arange(len(x))
            self.shuffle_each_epoch = shuffle_each_epoch
            self.epochs_ended = 0

        def __len__(self):
            return math.ceil(len(self.x) / self.batch_size)

        def __getitem__(self, idx):
            rows = self.order[idx * self.batch_size : (idx + 1) * self.batch_size]
            return self.x[rows], self.y[rows]

        def on_epoch_end(self):
            self.epochs_ended += 1
            if self.shuffle_each_epoch:
                self.order = np.random.default_rng(self.epochs_ended).permutation(len(self.x))

    rng = np.random.default_rng(1)
    x = rng.random((20, 8, 8, 1)).astype("float32")
    y = (x.mean(axis=(1, 2, 3)) > 0.5).astype("float32").reshape(-1, 1)
    train = PairedBatches(x[:16], y[:16], batch_size=4, workers=1, use_multiprocessing=False, max_queue_size=4)
    val = PairedBatches(x[16:], y[16:], batch_size=4)
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(4, 3, activation="relu"),
            keras.layers.GlobalMaxPooling2D(),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    ctx.sync(model)
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    history = model.fit(train, validation_data=val, epochs=2, shuffle=False, verbose=0)
    ctx.record("history", history)
    ctx.record("evaluate", model.evaluate(val, verbose=0))
    ctx.record("predict", model.predict(val, verbose=0))
    # Two loading threads: Keras' multi-worker training drifts by ~1e-5 from its own single-worker run, so the
    # parallel loader is compared on predictions (order-exact) rather than on a training history.
    threaded = PairedBatches(x, y, batch_size=4, workers=2, max_queue_size=2)
    ctx.record("threaded_predict", model.predict(threaded, verbose=0))
    ctx.record("loader_args", [threaded.workers, threaded.use_multiprocessing, threaded.max_queue_size])
    shuffled = PairedBatches(x[:16], y[:16], batch_size=4, shuffle_each_epoch=True)
    # Keras calls on_epoch_end once more than cnnkit (when its epoch iterator starts), so the orders differ: keys only.
    ctx.record("shuffled", model.fit(shuffled, epochs=2, verbose=0), exact=False)
    left, right = keras.utils.split_dataset((x, y), left_size=0.75, shuffle=True, seed=2)
    ctx.record("split", [len(left), len(right), sorted(int(i) for i in right.indices)])


def conv_autoencoder(keras, ctx):
    """keras.io's "Convolutional autoencoder for image denoising", shrunk."""
    inputs = keras.Input(shape=(8, 8, 1))
    x = keras.layers.Conv2D(4, (3, 3), activation="relu", padding="same")(inputs)
    x = keras.layers.MaxPooling2D((2, 2), padding="same")(x)
    x = keras.layers.Conv2DTranspose(4, (3, 3), strides=2, activation="relu", padding="same")(x)
    outputs = keras.layers.Conv2D(1, (3, 3), activation="sigmoid", padding="same")(x)
    autoencoder = keras.Model(inputs, outputs)
    ctx.sync(autoencoder)
    autoencoder.compile(optimizer="adam", loss="binary_crossentropy")
    ctx.record("params", autoencoder.count_params())
    images = np.random.default_rng(0).random((12, 8, 8, 1)).astype("float32")
    noisy = np.clip(images + 0.2 * np.random.default_rng(1).normal(size=images.shape), 0, 1).astype("float32")
    ctx.record("history", autoencoder.fit(noisy, images, epochs=2, batch_size=4, shuffle=False, verbose=0))
    ctx.record("predict", autoencoder.predict(noisy[:2], verbose=0))


def save_and_load(keras, ctx):
    """ "Save, serialize, and export models": whole model, config/JSON, weights; Keras' weights file read by both."""
    inputs = keras.Input(shape=(6, 6, 2), name="image")
    x = keras.layers.Conv2D(3, 3, activation="relu", name="conv")(inputs)
    x = keras.layers.Flatten(name="flatten")(x)
    outputs = keras.layers.Dense(2, activation="softmax", name="probs")(x)
    model = keras.Model(inputs, outputs, name="saver")
    ctx.sync(model)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    rng = np.random.default_rng(8)
    x_data, y_data = rng.random((16, 6, 6, 2)).astype("float32"), rng.integers(0, 2, (16,))
    model.fit(x_data, y_data, epochs=1, batch_size=8, shuffle=False, verbose=0)
    expected = model.predict(x_data, verbose=0)
    ctx.record("trained_predict", expected, tol=1e-4)
    model.save(ctx.path(ctx.model_file))
    restored = keras.models.load_model(ctx.path(ctx.model_file))
    ctx.record("whole_model", [restored.name, [layer.name for layer in restored.layers]])
    ctx.record("whole_model_same", bool(np.allclose(restored.predict(x_data, verbose=0), expected, atol=1e-6)))
    ctx.record("resumes_compiled", sorted(restored.evaluate(x_data, y_data, verbose=0, return_dict=True)))
    from_config = keras.Model.from_config(model.get_config())
    from_json = keras.models.model_from_json(model.to_json())
    ctx.record("rebuilt", [from_config.count_params(), from_json.count_params(), from_json.output_shape])
    model.save_weights(ctx.path("saver.weights.h5"))
    # The files Keras wrote, opened by this library: the weights file into a fresh copy, the whole model as it is.
    from_config.load_weights(ctx.reference_path("saver.weights.h5"))
    ctx.record("keras_weights_file", from_config.predict(x_data, verbose=0), tol=1e-4)
    keras_model = keras.models.load_model(ctx.reference_path(ctx.model_file))
    ctx.record("keras_model_file", keras_model.predict(x_data, verbose=0), tol=1e-4)
    ctx.record("keras_model_file_evaluate", keras_model.evaluate(x_data, y_data, verbose=0, return_dict=True), tol=1e-4)
