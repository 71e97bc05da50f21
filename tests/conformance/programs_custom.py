"""Programs in the style of keras.io's guides on writing your own callbacks, transfer learning, custom layers and
models, and custom metrics. Metric code uses torch functions: under Keras' torch backend both libraries hand
``update_state`` torch tensors."""

import numpy as np
import torch


def _data(n, features, classes, seed):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, features)).astype("float32"), rng.integers(0, classes, size=(n,))


def writing_callbacks(keras, ctx):
    """ "Writing your own callbacks": every hook with its logs' keys, params, model access and early stop by flag."""

    class Recorder(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.seen = {}

        def _log(self, hook, logs):
            self.seen.setdefault(hook, sorted(logs or {}))

        def on_train_begin(self, logs=None):
            self._log("on_train_begin", logs)
            self.seen["params"] = sorted(self.params)

        def on_epoch_end(self, epoch, logs=None):
            self._log("on_epoch_end", logs)
            self.seen.setdefault("lr", float(self.model.optimizer.learning_rate))

        def on_train_batch_end(self, batch, logs=None):
            self._log("on_train_batch_end", logs)

        def on_test_batch_end(self, batch, logs=None):
            self._log("on_test_batch_end", logs)

        def on_test_end(self, logs=None):
            self._log("on_test_end", logs)

        def on_predict_batch_end(self, batch, logs=None):
            self._log("on_predict_batch_end", logs)

        def on_predict_end(self, logs=None):
            self._log("on_predict_end", logs)

    class StopAtLoss(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                self.model.stop_training = True

    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(1)])
    ctx.sync(model)
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=0.1), loss="mean_squared_error", metrics=["mean_absolute_error"]
    )
    x, _ = _data(32, 5, 2, seed=2)
    y = x.sum(axis=1, keepdims=True)
    recorder = Recorder()
    history = model.fit(
        x,
        y,
        batch_size=8,
        epochs=5,
        validation_split=0.25,
        shuffle=False,
        verbose=0,
        callbacks=[recorder, StopAtLoss()],
    )
    model.evaluate(x, y, batch_size=16, verbose=0, callbacks=[recorder])
    model.predict(x, batch_size=16, verbose=0, callbacks=[recorder])
    ctx.record("hooks", recorder.seen)
    ctx.record("epochs_run", len(history.history["loss"]))
    ctx.record("history", history)
    lambdas = []
    model.fit(
        x,
        y,
        epochs=1,
        verbose=0,
        callbacks=[
            keras.callbacks.LambdaCallback(
                on_epoch_begin=lambda epoch, logs: lambdas.append(("begin", epoch)),
                on_epoch_end=lambda epoch, logs: lambdas.append(("end", epoch, sorted(logs))),
            )
        ],
    )
    ctx.record("lambda", lambdas)


def transfer_learning(keras, ctx):
    """ "Transfer learning & fine-tuning": a frozen functional base, a new head, then unfreeze and fine-tune.

    No BatchNormalization in the base: Keras 3.15 (torch backend) updates a nested BN's moving statistics during
    fine-tuning despite ``base_model(inputs, training=False)``, which its own guide says keeps BN in inference mode;
    cnnkit keeps it frozen as documented, so the numbers would differ by design.
    """
    base_in = keras.Input((10, 10, 3))
    h = keras.layers.Conv2D(6, 3, activation="relu", name="base_conv")(base_in)
    base_model = keras.Model(base_in, keras.layers.Conv2D(8, 3, name="base_conv2")(h), name="base")
    ctx.sync(base_model)
    base_model.trainable = False
    inputs = keras.Input(shape=(10, 10, 3))
    x = base_model(inputs, training=False)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(1, activation="sigmoid")(x)
    model = keras.Model(inputs, outputs)
    ctx.sync(model)
    ctx.record("frozen", [len(model.trainable_weights), len(model.non_trainable_weights), model.count_params()])
    ctx.record("trainable_flags", [layer.trainable for layer in model.layers])
    model.compile(
        optimizer=keras.optimizers.Adam(),
        loss=keras.losses.BinaryCrossentropy(),
        metrics=[keras.metrics.BinaryAccuracy()],
    )
    rng = np.random.default_rng(5)
    images = rng.random((24, 10, 10, 3)).astype("float32")
    labels = (images.mean(axis=(1, 2, 3)) > 0.5).astype("float32")
    ctx.record("head_only", model.fit(images, labels, epochs=1, batch_size=8, shuffle=False, verbose=0), tol=1e-4)
    base_model.trainable = True
    ctx.record("unfrozen", [len(model.trainable_weights), len(model.non_trainable_weights)])
    model.compile(
        optimizer=keras.optimizers.Adam(1e-5),
        loss=keras.losses.BinaryCrossentropy(),
        metrics=[keras.metrics.BinaryAccuracy()],
    )
    ctx.record("fine_tune", model.fit(images, labels, epochs=1, batch_size=8, shuffle=False, verbose=0), tol=1e-4)
    ctx.record("predict", model.predict(images[:4], verbose=0), tol=1e-4)


def custom_layers_and_models(keras, ctx):
    """ "Making new layers and models via subclassing": build() with add_weight, nested layers, a Model subclass."""

    class Linear(keras.layers.Layer):
        def __init__(self, units=32, **kwargs):
            super().__init__(**kwargs)
            self.units = units

        def build(self, input_shape):
            # `name=` is optional in Keras; cnnkit's add_weight needs it until the layers branch lands.
            self.w = self.add_weight(
                shape=(input_shape[-1], self.units), initializer="random_normal", trainable=True, name="w"
            )
            self.b = self.add_weight(shape=(self.units,), initializer="zeros", trainable=True, name="b")

        def call(self, inputs):
            return torch.matmul(inputs, self.w) + self.b

        def get_config(self):
            return {**super().get_config(), "units": self.units}

    class MLPBlock(keras.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.linear_1 = Linear(8)
            self.linear_2 = Linear(3)

        def call(self, inputs):
            return self.linear_2(torch.relu(self.linear_1(inputs)))

    class Classifier(keras.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.block = MLPBlock()
            self.head = keras.layers.Dense(2, activation="softmax")

        def call(self, inputs):
            return self.head(self.block(inputs))

    layer = Linear(4)
    y = layer(torch.ones((2, 3)))
    ctx.record("linear", [tuple(y.shape), len(layer.weights), len(layer.trainable_weights)])
    ctx.record("config", {k: v for k, v in layer.get_config().items() if k in ("units", "trainable")})
    model = Classifier()
    x, labels = _data(16, 6, 2, seed=9)
    model(x[:1])
    ctx.sync(model)
    ctx.record("weights", [w.shape for w in model.get_weights()])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    ctx.record("history", model.fit(x, labels, epochs=2, batch_size=4, shuffle=False, verbose=0))
    ctx.record("predict", model.predict(x[:3], verbose=0))


def custom_metric(keras, ctx):
    """ "Training & evaluation": a stateful metric written with add_variable, used in compile and in History."""

    class CategoricalTruePositives(keras.metrics.Metric):
        def __init__(self, name="categorical_true_positives", **kwargs):
            super().__init__(name=name, **kwargs)
            self.true_positives = self.add_variable(shape=(), name="ctp", initializer="zeros")

        def update_state(self, y_true, y_pred, sample_weight=None):
            y_pred = torch.argmax(y_pred, dim=1).reshape(-1, 1)
            values = (y_true.to(torch.int32).reshape(-1, 1) == y_pred.to(torch.int32)).to(torch.float32)
            if sample_weight is not None:
                values = values * sample_weight.to(torch.float32).reshape(-1, 1)
            self.true_positives.assign_add(values.sum())

        def result(self):
            return self.true_positives.value

        def reset_state(self):
            self.true_positives.assign(0.0)

    inputs = keras.Input(shape=(6,))
    outputs = keras.layers.Dense(3, activation="softmax")(keras.layers.Dense(8, activation="relu")(inputs))
    model = keras.Model(inputs, outputs)
    ctx.sync(model)
    model.compile(
        optimizer=keras.optimizers.RMSprop(learning_rate=1e-3),
        loss="sparse_categorical_crossentropy",
        metrics=[CategoricalTruePositives()],
    )
    x, y = _data(24, 6, 3, seed=3)
    ctx.record("history", model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0))
    ctx.record("evaluate", model.evaluate(x, y, verbose=0, return_dict=True))
