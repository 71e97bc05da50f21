""".keras files both ways against Keras 3 (KERAS_BACKEND=torch): cnnkit writes what keras.models.load_model opens
and predicts the same from, cnnkit rebuilds what Keras wrote from its own layers, and hostile archives are refused
before anything in them is parsed or run."""

import io
import json
import os
import pickle
import zipfile

import h5py
import numpy as np
import pytest

keras = pytest.importorskip("keras")

import cnnkit  # noqa: E402
from cnnkit.saving import keras_format  # noqa: E402

# float32 CPU kernels of torch under both frameworks; the same weights give the same numbers up to summation order.
ATOL = 1e-5


def tutorial(k):
    """The tutorial CNN (Sequential), written once for both APIs: only the module differs."""
    return k.Sequential(
        [
            k.layers.Input((32, 32, 3)),
            k.layers.Rescaling(1.0 / 255),
            k.layers.Conv2D(8, 3, activation="relu"),
            k.layers.MaxPooling2D(),
            k.layers.Conv2D(16, 3, activation="relu", padding="same"),
            k.layers.MaxPooling2D(),
            k.layers.Flatten(),
            k.layers.Dropout(0.5),
            k.layers.Dense(10, activation="softmax"),
        ],
        name="tutorial",
    )


def residual(k):
    """A functional model with a skip connection, merges, batch norm, and the separable/depthwise/transposed
    convolutions and layer normalization that Keras programs use."""
    inputs = k.Input((16, 16, 3))
    x = k.layers.Conv2D(8, 3, padding="same", use_bias=False)(inputs)
    x = k.layers.BatchNormalization()(x)
    x = k.layers.Activation("relu")(x)
    y = k.layers.Conv2D(8, 3, padding="same", kernel_regularizer=k.regularizers.L2(1e-4))(x)
    y = k.layers.BatchNormalization(momentum=0.9)(y)
    x = k.layers.Add()([x, y])
    x = k.layers.AveragePooling2D(2)(x)
    x = k.layers.Concatenate()([x, k.layers.MaxPooling2D(3, strides=1, padding="same")(x)])
    # The layers Keras programs reach for beyond the tutorial: separable, depthwise and transposed convolutions
    # and layer normalization, each with its own weight layout in the file.
    x = k.layers.SeparableConv2D(12, 3, padding="same", activation="relu")(x)
    x = k.layers.DepthwiseConv2D(3, padding="same", depth_multiplier=2)(x)
    x = k.layers.LayerNormalization()(x)
    x = k.layers.Conv2DTranspose(6, 3, strides=2, padding="same")(x)
    x = k.layers.GlobalAveragePooling2D()(x)
    outputs = k.layers.Dense(4, activation="softmax")(k.layers.Dense(12, activation="gelu")(x))
    return k.Model(inputs, outputs, name="residual")


def _perturb_batchnorm(model):
    """Trained-looking moving statistics, so that inference-mode batch norm is actually checked."""
    rng = np.random.default_rng(0)
    for layer in model.layers:
        if type(layer).__name__ == "BatchNormalization":
            gamma, beta, mean, var = layer.get_weights()
            layer.set_weights([gamma * 1.5, beta + 0.1, rng.normal(size=mean.shape), rng.uniform(0.5, 2, var.shape)])


def _x(shape):
    return np.random.default_rng(1).uniform(0, 255, (4, *shape)).astype("float32")


@pytest.mark.parametrize("build", [tutorial, residual], ids=["tutorial_sequential", "functional_residual"])
def test_cnnkit_to_keras_and_back(build, tmp_path):
    model = build(cnnkit)
    _perturb_batchnorm(model)
    model.compile(optimizer=cnnkit.optimizers.Adam(3e-4), loss=cnnkit.losses.SparseCategoricalCrossentropy())
    x = _x(model.inputs[0].shape[1:])
    path = tmp_path / "m.keras"
    model.save(path)
    ours = model.predict(x, verbose=0)

    theirs = keras.models.load_model(path)
    assert theirs.count_params() == model.count_params()
    assert [type(layer).__name__ for layer in theirs.layers] == [type(layer).__name__ for layer in model.layers]
    np.testing.assert_allclose(theirs.predict(x, verbose=0), ours, atol=ATOL)
    assert type(theirs.loss).__name__ == "SparseCategoricalCrossentropy"
    assert float(theirs.optimizer.learning_rate) == pytest.approx(3e-4)

    back = cnnkit.models.load_model(path)
    np.testing.assert_allclose(back.predict(x, verbose=0), ours, atol=ATOL)
    assert back.get_compile_config()["loss"] == model.get_compile_config()["loss"]


@pytest.mark.parametrize("build", [tutorial, residual], ids=["tutorial_sequential", "functional_residual"])
def test_keras_to_cnnkit(build, tmp_path):
    theirs = build(keras)
    _perturb_batchnorm(theirs)
    theirs.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.9), loss="categorical_crossentropy",
                   metrics=["accuracy"])  # fmt: skip
    path = tmp_path / "k.keras"
    theirs.save(path)
    x = _x(theirs.inputs[0].shape[1:])

    ours = cnnkit.models.load_model(path)
    assert isinstance(ours, cnnkit.Model)
    assert ours.count_params() == theirs.count_params()
    assert [layer.name for layer in ours.layers] == [layer.name for layer in theirs.layers]
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), atol=ATOL)
    compiled = ours.get_compile_config()
    assert compiled["loss"] == "categorical_crossentropy" and compiled["metrics"] == ["accuracy"]
    assert compiled["optimizer"]["config"]["momentum"] == pytest.approx(0.9)


def test_loss_object_survives_the_native_format(tmp_path):
    # The bug this issue reports: load_model of a model compiled with a loss object.
    model = tutorial(cnnkit)
    model.compile(optimizer="adam", loss=cnnkit.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.save(tmp_path / "m.cnnkit")
    loaded = cnnkit.models.load_model(tmp_path / "m.cnnkit")
    assert loaded.get_compile_config() == model.get_compile_config()
    assert loaded.get_compile_config()["loss"]["config"]["from_logits"] is True


def test_h5_model_files_are_refused_with_the_way_out(tmp_path):
    with pytest.raises(ValueError) as e:
        tutorial(cnnkit).save(tmp_path / "m.h5")
    assert str(e.value) == (
        f"cnnkit does not write Keras' legacy HDF5 model format. Expected a '.keras' (Keras 3) or '.cnnkit' file "
        f"name. Received: filepath={str(tmp_path / 'm.h5')!r}. Use model.save('model.keras'), or "
        f"model.save_weights('model.weights.h5') for the weights alone."
    )
    assert not (tmp_path / "m.h5").exists()


def test_constraints_load_and_unsupported_keras_arguments_are_refused_by_name(tmp_path):
    theirs = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, kernel_constraint="non_neg")])
    theirs.save(tmp_path / "c.keras")
    ours = cnnkit.models.load_model(tmp_path / "c.keras")
    assert isinstance(ours.layers[-1].kernel_constraint, cnnkit.constraints.NonNeg)
    x = _x((4,))
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), atol=ATOL, rtol=1e-6)
    lora = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, lora_rank=2)])
    lora.save(tmp_path / "lora.keras")
    with pytest.raises(ValueError, match="cnnkit's Dense does not support"):
        cnnkit.models.load_model(tmp_path / "lora.keras")


# ------------------------------------------------------------------------------------------------- hostile files
def _members(path):
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist()}


def _write(path, members):
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)


@pytest.fixture
def good_keras(tmp_path):
    path = tmp_path / "good.keras"
    keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)]).save(path)
    return path


class Boom:
    def __reduce__(self):
        return (os.system, ("touch " + os.path.join(os.environ["BOOM_DIR"], "pwned"),))


def test_pickled_payloads_are_refused_unread(good_keras, tmp_path, monkeypatch):
    monkeypatch.setenv("BOOM_DIR", str(tmp_path))
    members = _members(good_keras)
    _write(tmp_path / "extra.keras", {**members, "payload.pkl": pickle.dumps(Boom())})
    with pytest.raises(ValueError, match=r"it holds 'payload.pkl', a pickled or NumPy payload that cnnkit never loads"):
        cnnkit.models.load_model(tmp_path / "extra.keras")
    _write(tmp_path / "swapped.keras", {**members, "model.weights.h5": pickle.dumps(Boom())})
    with pytest.raises(ValueError, match="model.weights.h5 is a Python pickle, and cnnkit only reads HDF5 weights"):
        cnnkit.models.load_model(tmp_path / "swapped.keras")
    assert not (tmp_path / "pwned").exists()


def _lambda_config(marker):
    # What Keras writes for Lambda(lambda x: ...): the function's marshalled bytecode, base64-encoded.
    import base64
    import marshal

    code = compile(f"lambda x: open({str(marker)!r}, 'w')", "<file>", "eval").co_consts[0]
    return {"class_name": "__lambda__", "config": {"code": base64.b64encode(marshal.dumps(code)).decode(),
                                                    "defaults": None, "closure": None}}  # fmt: skip


def test_bytecode_lambdas_are_refused_unless_safe_mode_is_off(good_keras, tmp_path):
    marker = tmp_path / "ran"
    members = _members(good_keras)
    config = json.loads(members["config.json"])
    config["config"]["layers"].append(
        {
            "module": "keras.layers",
            "class_name": "Lambda",
            "registered_name": None,
            "config": {
                "name": "lam",
                "trainable": True,
                "dtype": "float32",
                "function": _lambda_config(marker),
                "arguments": {},
            },
        }  # fmt: skip
    )
    _write(tmp_path / "lambda.keras", {**members, "config.json": json.dumps(config)})
    with pytest.raises(ValueError) as e:
        cnnkit.models.load_model(tmp_path / "lambda.keras")
    assert str(e.value).startswith("Requested the deserialization of a Python lambda (Python bytecode in the model ")
    assert str(e.value).endswith("If you trust the source of the file, pass safe_mode=False to the loading function.")
    # Keras refuses the same file for the same reason.
    with pytest.raises(ValueError, match="safe_mode=False"):
        keras.models.load_model(tmp_path / "lambda.keras")
    assert not marker.exists()


def test_hdf5_links_out_of_the_file_are_refused(good_keras, tmp_path):
    secret = tmp_path / "secret.h5"
    with h5py.File(secret, "w") as f:
        f["kernel"] = np.ones((4, 2), "float32")
    members = _members(good_keras)
    buffer = io.BytesIO(members["model.weights.h5"])
    with h5py.File(buffer, "r+") as f:
        del f["layers/dense/vars/0"]
        f["layers/dense/vars/0"] = h5py.ExternalLink(str(secret), "kernel")
    _write(tmp_path / "linked.keras", {**members, "model.weights.h5": buffer.getvalue()})
    with pytest.raises(ValueError, match=r"'layers/dense/vars/0' is an external link to .*secret.h5"):
        cnnkit.models.load_model(tmp_path / "linked.keras")


def test_oversized_and_lying_members_are_refused(good_keras, tmp_path, monkeypatch):
    members = _members(good_keras)
    monkeypatch.setitem(keras_format._MEMBERS, "config.json", 100)
    with pytest.raises(ValueError, match=r"'config.json' declares \d+ bytes \(at most 100\)"):
        cnnkit.models.load_model(good_keras)
    monkeypatch.undo()
    # A member that holds more than its header declares (how a zip bomb hides): the declared size in both headers
    # is patched down; reading stops at the first byte past it.
    data = bytearray(good_keras.read_bytes())
    size = len(members["config.json"]).to_bytes(4, "little")
    fake = (len(members["config.json"]) // 2).to_bytes(4, "little")
    assert data.count(size) >= 2
    lying = tmp_path / "lying.keras"
    lying.write_bytes(bytes(data).replace(size, fake))
    with pytest.raises(ValueError, match="holds more bytes than it declares|truncated or corrupt"):
        cnnkit.models.load_model(lying)


@pytest.mark.parametrize("name", ["../evil.json", "/etc/passwd", "notes.txt"])
def test_unexpected_member_names_are_refused(good_keras, tmp_path, name):
    _write(tmp_path / "n.keras", {**_members(good_keras), name: b"{}"})
    with pytest.raises(ValueError, match="Refused the .keras file .*(unsafe name|unexpected member)"):
        cnnkit.models.load_model(tmp_path / "n.keras")


def test_deeply_nested_json_is_refused(good_keras, tmp_path):
    _write(tmp_path / "deep.keras", {**_members(good_keras), "config.json": "[" * 100_000 + "]" * 100_000})
    with pytest.raises(ValueError, match=r"config.json is nested too deeply \(at most 100 levels\)"):
        cnnkit.models.load_model(tmp_path / "deep.keras")


def lambda_model(k):
    """A functional model with a Python lambda in it: the case Keras' safe_mode exists for."""
    inputs = k.Input((6,))
    outputs = k.layers.Lambda(lambda t: t * 2.0 + 1.0, name="double_plus_one")(k.layers.Dense(3)(inputs))
    return k.Model(inputs, outputs)


@pytest.mark.parametrize("writer", ["cnnkit", "keras"])
def test_lambda_models_load_both_ways_only_with_safe_mode_off(writer, tmp_path):
    x = _x((6,))
    model = lambda_model(cnnkit if writer == "cnnkit" else keras)
    model.save(tmp_path / "lambda.keras")
    expected = np.asarray(model.predict(x, verbose=0))
    for load in (cnnkit.models.load_model, keras.models.load_model):
        with pytest.raises(ValueError, match="safe_mode=False"):
            load(tmp_path / "lambda.keras")
        loaded = load(tmp_path / "lambda.keras", safe_mode=False)
        np.testing.assert_allclose(np.asarray(loaded.predict(x, verbose=0)), expected, atol=ATOL, rtol=0)
