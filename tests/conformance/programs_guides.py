"""Programs in the style of keras.io's getting-started guides: an MNIST convnet, the Sequential and functional guides,
training with built-in methods. Each is ``program(keras, ctx)``: the same text runs under Keras 3 and cnnkit."""

import numpy as np


def digits(n=48, size=12, classes=10, seed=0):
    """MNIST-like data: a class-dependent blob on noise, uint8 images and integer labels."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, size=n)
    x = rng.integers(0, 60, size=(n, size, size)).astype("uint8")
    for i, label in enumerate(y):
        r, c = divmod(int(label), 4)
        x[i, r * 3 : r * 3 + 4, c * 3 : c * 3 + 4] = 250
    return x, y


def mnist_convnet(keras, ctx):
    """keras.io's "Simple MNIST convnet", shrunk: scale, expand dims, one-hot labels, Conv/Pool/Dropout/Dense."""
    num_classes, input_shape = 10, (12, 12, 1)
    (x_train, y_train), (x_test, y_test) = digits(48), digits(16, seed=1)
    x_train = np.expand_dims(x_train.astype("float32") / 255, -1)
    x_test = np.expand_dims(x_test.astype("float32") / 255, -1)
    y_train = keras.utils.to_categorical(y_train, num_classes)
    y_test = keras.utils.to_categorical(y_test, num_classes)
    model = keras.Sequential(
        [
            keras.Input(shape=input_shape),
            keras.layers.Conv2D(8, kernel_size=(3, 3), activation="relu"),
            keras.layers.MaxPooling2D(pool_size=(2, 2)),
            keras.layers.Conv2D(16, kernel_size=(3, 3), activation="relu"),
            keras.layers.MaxPooling2D(pool_size=(2, 2)),
            keras.layers.Flatten(),
            keras.layers.Dropout(0.5),
            keras.layers.Dense(num_classes, activation="softmax"),
        ]
    )
    ctx.sync(model)
    ctx.record("params", model.count_params())
    ctx.record("shapes", [model.input_shape, model.output_shape])
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    history = model.fit(x_train, y_train, batch_size=16, epochs=2, validation_split=0.25, verbose=0)
    ctx.record("history_keys", sorted(history.history))
    ctx.record("history", history, exact=False)  # dropout draws differ between the libraries
    score = model.evaluate(x_test, y_test, verbose=0)
    ctx.record("evaluate", score, exact=False)
    model.save(ctx.path(ctx.model_file))
    restored = keras.models.load_model(ctx.path(ctx.model_file))
    ctx.record(
        "round_trip", float(np.abs(restored.predict(x_test, verbose=0) - model.predict(x_test, verbose=0)).max()) < 1e-6
    )


def sequential_guide(keras, ctx):
    """The Sequential model guide: add()/pop(), layers by index, shapes known from Input, a feature extractor."""
    model = keras.Sequential(name="my_sequential")
    model.add(keras.Input(shape=(4,)))
    model.add(keras.layers.Dense(2, activation="relu", name="layer1"))
    model.add(keras.layers.Dense(3, activation="relu", name="layer2"))
    model.add(keras.layers.Dense(4, name="layer3"))
    ctx.record("names", [layer.name for layer in model.layers])
    model.pop()
    ctx.record("after_pop", [len(model.layers), model.output_shape])
    model.add(keras.layers.Dense(5, name="layer4"))
    ctx.sync(model)
    ctx.record("params", [model.count_params(), [len(layer.weights) for layer in model.layers]])
    x = np.linspace(-1, 1, 12, dtype="float32").reshape(3, 4)
    ctx.record("predict", model.predict(x, verbose=0))
    extractor = keras.Model(inputs=model.inputs, outputs=[model.get_layer("layer2").output])
    ctx.record("features", extractor.predict(x, verbose=0))
    ctx.record("layer_call", model.layers[0](x))
    clone = keras.models.clone_model(model)
    ctx.record("clone", [clone.name, [layer.name for layer in clone.layers], clone.count_params()])


def functional_guide(keras, ctx):
    """The functional API guide: a ticket model with two inputs and two named outputs, dict losses and weights."""
    title = keras.Input(shape=(10,), name="title")
    body = keras.Input(shape=(12,), name="body")
    tags = keras.Input(shape=(4,), name="tags")
    title_features = keras.layers.Dense(8, activation="relu")(title)
    body_features = keras.layers.Dense(8, activation="relu")(body)
    x = keras.layers.Concatenate()([title_features, body_features, tags])
    priority = keras.layers.Dense(1, name="priority")(x)
    department = keras.layers.Dense(3, activation="softmax", name="department")(x)
    model = keras.Model(inputs=[title, body, tags], outputs=[priority, department])
    ctx.sync(model)
    ctx.record("params", model.count_params())
    ctx.record("shapes", [model.input_shape, model.output_shape])
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=0.05),
        loss={"priority": keras.losses.MeanSquaredError(), "department": "sparse_categorical_crossentropy"},
        loss_weights={"priority": 1.0, "department": 0.2},
        metrics={"department": ["accuracy"]},
    )
    rng = np.random.default_rng(4)
    data = [rng.normal(size=(32, 10)), rng.normal(size=(32, 12)), rng.integers(0, 2, (32, 4))]
    data = [d.astype("float32") for d in data]
    targets = {"priority": rng.random((32, 1)).astype("float32"), "department": rng.integers(0, 3, (32,))}
    history = model.fit(data, targets, epochs=2, batch_size=8, shuffle=False, verbose=0)
    ctx.record("history", history)
    ctx.record("evaluate", model.evaluate(data, targets, verbose=0, return_dict=True))
    ctx.record("predict", model.predict(data, verbose=0))


def training_builtin(keras, ctx):
    """ "Training & evaluation with the built-in methods": validation data, class weights, sample weights,
    EarlyStopping/ModelCheckpoint, evaluate(return_dict=True)."""
    inputs = keras.Input(shape=(6,), name="digits")
    x = keras.layers.Dense(16, activation="relu", name="dense_1")(inputs)
    outputs = keras.layers.Dense(3, activation="softmax", name="predictions")(x)
    model = keras.Model(inputs=inputs, outputs=outputs)
    ctx.sync(model)
    model.compile(
        optimizer=keras.optimizers.RMSprop(learning_rate=1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(),
        metrics=[keras.metrics.SparseCategoricalAccuracy()],
    )
    rng = np.random.default_rng(7)
    x_train, y_train = rng.normal(size=(40, 6)).astype("float32"), rng.integers(0, 3, size=(40,))
    x_val, y_val = rng.normal(size=(12, 6)).astype("float32"), rng.integers(0, 3, size=(12,))
    callbacks = [
        keras.callbacks.EarlyStopping(monitor="val_loss", min_delta=1e-2, patience=1, verbose=0),
        keras.callbacks.ModelCheckpoint(
            ctx.path("best.weights.h5"), save_best_only=True, save_weights_only=True, monitor="val_loss"
        ),
    ]
    history = model.fit(
        x_train,
        y_train,
        batch_size=8,
        epochs=3,
        validation_data=(x_val, y_val),
        shuffle=False,
        class_weight={0: 1.0, 1: 2.0, 2: 0.5},
        callbacks=callbacks,
        verbose=0,
    )
    ctx.record("history", history)
    ctx.record("evaluate", model.evaluate(x_val, y_val, batch_size=4, verbose=0, return_dict=True))
    weights = rng.uniform(0.5, 2.0, size=(40,)).astype("float32")
    history = model.fit(x_train, y_train, sample_weight=weights, batch_size=8, epochs=1, shuffle=False, verbose=0)
    ctx.record("sample_weighted", history)
    ctx.record("predict", model.predict(x_val, verbose=0))
