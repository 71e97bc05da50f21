"""Hostile and broken files: refused with a cnnkit message, without reading other files or blowing up memory.

Every file here is built by the test. The memory cases run in a child process that reports its peak RSS, so a
regression that reads a bomb whole shows up as a number, not as a slow machine.
"""

import json
import os
import subprocess
import sys
import textwrap
import time
import zipfile

import h5py
import numpy as np
import pytest

from cnnkit import callbacks, layers, models
from cnnkit.saving import guards
from cnnkit.saving.checkpoint import CheckpointManager, save_state

SECRET = bytes(range(97, 97 + 26)) + b"SECRET"  # 32 bytes that must never show up in a model's weights


def _dense(units=4, inputs=8, name=None):
    return models.Sequential([layers.Input((inputs,)), layers.Dense(units)], name=name)


@pytest.fixture
def secret(tmp_path):
    path = tmp_path / "secret.bin"
    path.write_bytes(SECRET * 4)  # 128 bytes = a (8, 4) float32 kernel
    return path


def _keras3_file(path, kernel_writer):
    with h5py.File(path, "w") as f:
        vars_ = f.require_group("layers/dense/vars")
        kernel_writer(f, vars_)
        vars_.create_dataset("1", data=np.zeros(4, np.float32))


def _assert_secret_not_loaded(model):
    weights = model.get_weights()[0].tobytes()
    assert SECRET[:16] not in weights


def test_hdf5_external_raw_storage_is_refused_in_both_layouts(tmp_path, secret):
    keras3 = tmp_path / "ext.weights.h5"
    _keras3_file(keras3, lambda f, v: v.create_dataset("0", (8, 4), "f4", external=[(str(secret), 0, 128)]))
    model = _dense()
    with pytest.raises(ValueError, match=r"is refused: dataset 'layers/dense/vars/0' stores its bytes in external"):
        model.load_weights(keras3)
    _assert_secret_not_loaded(model)

    legacy = tmp_path / "legacy.h5"
    with h5py.File(legacy, "w") as f:
        f.attrs["layer_names"] = [b"dense"]
        g = f.create_group("dense")
        g.attrs["weight_names"] = [b"dense/kernel:0", b"dense/bias:0"]
        g.create_dataset("dense/kernel:0", (8, 4), "f4", external=[(str(secret), 0, 128)])
        g.create_dataset("dense/bias:0", data=np.zeros(4, np.float32))
    with pytest.raises(ValueError, match=r"stores its bytes in external files"):
        model.load_weights(legacy)
    _assert_secret_not_loaded(model)


def test_hdf5_external_links_dangling_soft_links_and_virtual_datasets_are_refused(tmp_path, secret):
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f.create_dataset("data", data=np.frombuffer(SECRET * 4, np.float32).reshape(8, 4))
    model = _dense()
    cases = {
        "external link": (
            lambda f, v: v.__setitem__("0", h5py.ExternalLink(str(other), "/data")),
            r"'layers/dense/vars/0' is an external link to",
        ),
        "soft link out of the file": (
            lambda f, v: v.__setitem__("0", h5py.SoftLink("/nowhere/data")),
            r"is a soft link to '/nowhere/data', which is not in the file",
        ),
        "virtual dataset": (
            lambda f, v: v.create_virtual_dataset("0", _layout(h5py.VirtualSource(str(other), "data", shape=(8, 4)))),
            r"dataset 'layers/dense/vars/0' is a virtual dataset",
        ),
    }
    for name, (writer, message) in cases.items():
        path = tmp_path / f"{name.replace(' ', '_')}.weights.h5"
        _keras3_file(path, writer)
        with pytest.raises(ValueError, match=message):
            model.load_weights(path)
        _assert_secret_not_loaded(model)


def _layout(source):
    layout = h5py.VirtualLayout(shape=(8, 4), dtype="f4")
    layout[:] = source
    return layout


def test_malformed_hdf5_gives_a_cnnkit_error(tmp_path):
    path = tmp_path / "bad.weights.h5"
    _keras3_file(path, lambda f, v: v.create_group("0"))  # a group where a dataset belongs
    with pytest.raises(ValueError, match=r"the file has shapes \[\(\), \(4,\)\], the model expects"):
        _dense().load_weights(path)
    legacy = tmp_path / "legacy.h5"
    with h5py.File(legacy, "w") as f:
        f.attrs["layer_names"] = [b"dense"]  # the group it names is missing
    with pytest.raises(ValueError, match=r"The HDF5 file .* is malformed \(KeyError"):
        _dense().load_weights(legacy)


def test_nan_weights_are_refused(tmp_path):
    model = _dense()
    model.layers[0].kernel.data[0, 0] = float("nan")
    model.save(tmp_path / "nan.cnnkit")
    model.save_weights(tmp_path / "nan.weights.h5")
    for path in ("nan.cnnkit", "nan.weights.h5"):
        with pytest.raises(ValueError, match=r"The weights hold NaN or infinite values \(1 of 2 arrays"):
            _dense().load_weights(tmp_path / path)
    with pytest.raises(ValueError, match=r"The weights hold NaN or infinite values"):
        models.load_model(tmp_path / "nan.cnnkit")


def _rewrite(src, dst, replace=None, extra=()):
    with zipfile.ZipFile(src) as a, zipfile.ZipFile(dst, "w") as b:
        for info in a.infolist():
            data = a.read(info)
            if replace and info.filename in replace:
                data = replace[info.filename](data)
            b.writestr(info.filename, data)
        for name, data in extra:
            with pytest.warns(UserWarning, match="Duplicate name"):
                b.writestr(name, data)


def test_malformed_configs_duplicates_and_deep_json_are_refused(tmp_path):
    good = tmp_path / "good.cnnkit"
    _dense().save(good)
    cases = {
        "no_layers": (lambda d: json.dumps({"class_name": "Sequential", "config": {}}).encode(), "KeyError"),
        "string": (lambda d: b'"Sequential"', "a layer entry is a str, not an object"),
        "int_layers": (
            lambda d: json.dumps({"class_name": "Sequential", "config": {"layers": 3}}).encode(),
            "the 'layers' of 'Sequential' is a int, not a list",
        ),
        "deep": (lambda d: b"[" * 100_000 + b"]" * 100_000, "is nested 100000 levels deep. Expected at most 100"),
    }
    for name, (config, message) in cases.items():
        path = tmp_path / f"{name}.cnnkit"
        _rewrite(good, path, {"config.json": config})
        with pytest.raises(ValueError, match=message) as e:
            models.load_model(path)
        assert type(e.value).__module__.startswith("cnnkit") or type(e.value) is ValueError
    dup = tmp_path / "dup.cnnkit"
    _rewrite(good, dup, extra=[("config.json", b"{}")])
    with pytest.raises(ValueError, match=r"it holds two members named 'config.json'. Expected each name once"):
        models.load_model(dup)


def test_a_pickle_named_safetensors_is_named_as_a_pickle(tmp_path):
    path = tmp_path / "w.safetensors"
    path.write_bytes(b"\x80\x04\x95" + b"\x00" * 64)
    with pytest.raises(ValueError, match=r"is not a weights file cnnkit can read \(it is a Python pickle\)"):
        _dense().load_weights(path)


@pytest.mark.skipif(sys.platform == "win32", reason="FIFOs and /dev/zero are POSIX")
def test_fifos_and_device_links_are_refused_at_once(tmp_path):
    model = _dense()
    fifo = tmp_path / "model.cnnkit"
    os.mkfifo(fifo)
    zero = tmp_path / "w.weights.h5"
    zero.symlink_to("/dev/zero")
    backup = tmp_path / "backup"
    backup.mkdir()
    os.mkfifo(backup / "ckpt-00000002.safetensors")
    (backup / "ckpt-00000001.safetensors").symlink_to("/dev/zero")
    started = time.perf_counter()
    with pytest.raises(ValueError, match="it is a named pipe. Expected a regular file"):
        models.load_model(fifo)
    with pytest.raises(ValueError, match="it is a character device. Expected a regular file"):
        model.load_weights(zero)
    with pytest.warns(RuntimeWarning, match="it is a named pipe"):
        assert CheckpointManager(backup).load_latest() is None
    assert time.perf_counter() - started < 1.0


def test_a_forged_backup_with_a_recomputed_hash_falls_back_to_the_previous_one(tmp_path):
    x = np.random.default_rng(0).normal(size=(32, 8)).astype("float32")
    y = np.random.default_rng(1).normal(size=(32, 4)).astype("float32")

    def fit(epochs):
        model = _dense()
        model.compile(optimizer="adam", loss="mse")
        backup = callbacks.BackupAndRestore(tmp_path / "backup", delete_checkpoint=False)
        model.fit(x, y, epochs=epochs, batch_size=8, verbose=0, shuffle=False, callbacks=[backup])
        return model, backup

    fit(2)
    manager = CheckpointManager(tmp_path / "backup")
    newest = manager.checkpoints()[0]
    other = _dense(units=3)  # another architecture's weights, stored with a valid hash
    other.compile(optimizer="adam", loss="mse")
    state = {
        "model": other.state_dict(),
        "optimizer": {},
        "rng": {},
        "position": [2, 0],
        "global_step": 8,
        "shuffle_seed": 0,
        "metrics": {},
        "history": {},
        "callbacks": [],
    }
    save_state(newest, state)
    with pytest.warns(
        RuntimeWarning,
        match=r"ckpt-00000002.safetensors does not fit \(ValueError: The weights do not fit the model.*Falling back",
    ):
        model, backup = fit(3)
    assert backup.restored_from == (1, 0)  # the epoch-1 backup, not the forged epoch-2 one


PEAK_SCRIPT = textwrap.dedent(
    """
    import json, resource, sys
    import cnnkit
    from cnnkit import layers, models
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    results = {}
    for name, path in json.loads(sys.argv[1]).items():
        try:
            if path.endswith(".cnnkit"):
                models.load_model(path)
            else:
                models.Sequential([layers.Input((8,)), layers.Dense(4)]).load_weights(path)
            results[name] = "loaded"
        except ValueError as e:
            results[name] = type(e).__module__ + ": " + str(e)[:600]
        except BaseException as e:
            results[name] = "raw " + type(e).__name__ + ": " + str(e)[:600]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"base_mb": base / 1024, "growth_mb": (peak - base) / 1024, "results": results}))
    """
)


@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss in KiB is Linux's")
def test_small_hostile_files_are_refused_without_a_memory_blowup(tmp_path):
    files = {}
    # A 512 MiB zip member deflated to about 0.5 MB (the .cnnkit zip bomb; the probe's was 1 GiB in 3.4 MB).
    bomb = tmp_path / "bomb.cnnkit"
    _dense().save(tmp_path / "good.cnnkit")
    with (
        zipfile.ZipFile(tmp_path / "good.cnnkit") as good,
        zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z,
    ):
        for info in good.infolist():
            if info.filename != "model.safetensors":
                z.writestr(info.filename, good.read(info))
        with z.open("model.safetensors", "w", force_zip64=True) as member:
            chunk = b"\0" * (64 << 20)
            for _ in range(8):
                member.write(chunk)
    files["zip bomb"] = str(bomb)
    # A config asking for Dense(20000) on 20000 inputs (1.6 GB of float32) next to a tiny weights file.
    big = tmp_path / "big.cnnkit"
    _rewrite(
        tmp_path / "good.cnnkit",
        big,
        {"config.json": lambda d: _bigger(d)},
    )
    files["config bomb"] = str(big)
    # A 5 KB .weights.h5 declaring a 16384x16384 float32 dataset (never written: the fill value is read).
    huge = tmp_path / "huge.weights.h5"
    _keras3_file(huge, lambda f, v: v.create_dataset("0", (16384, 16384), "f4", chunks=(1024, 1024)))
    files["huge dataset"] = str(huge)
    assert os.path.getsize(bomb) < 4 << 20 and os.path.getsize(huge) < 16 << 10
    out = subprocess.run(
        [sys.executable, "-c", PEAK_SCRIPT, json.dumps(files)], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    report = json.loads(out.stdout.strip().splitlines()[-1])
    results = report["results"]
    assert "expands from" in results["zip bomb"] and "a zip bomb" in results["zip bomb"], results
    assert "config.json against model.safetensors" in results["config bomb"], results
    assert "has shapes [(16384, 16384), (4,)], the model expects [(8, 4), (4,)]" in results["huge dataset"], results
    assert all(r.startswith("cnnkit") or r.startswith("builtins: ") for r in results.values()), results
    assert report["growth_mb"] < 300, report


def _bigger(config: bytes) -> bytes:
    data = json.loads(config)
    data["config"]["build_input_shape"] = [None, 20000]
    data["config"]["layers"][0]["config"]["units"] = 20000
    return json.dumps(data).encode()


def test_zip_members_whose_data_differ_from_their_declared_size_are_refused(tmp_path):
    path = tmp_path / "a.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("config.json", b"{}" * 1000)
    with zipfile.ZipFile(path) as z:
        info = z.getinfo("config.json")
    sizes = info.CRC.to_bytes(4, "little") + info.compress_size.to_bytes(4, "little")
    # Declare 100 bytes in both headers for 2000 bytes of data.
    data = path.read_bytes().replace(sizes + (2000).to_bytes(4, "little"), sizes + (100).to_bytes(4, "little"))
    path.write_bytes(data)
    with zipfile.ZipFile(path) as z, pytest.raises(ValueError, match=r"is unsafe or corrupt: member 'config.json'"):
        guards.read_zip_members(z, str(path))


def test_json_depth_ignores_brackets_inside_strings():
    assert guards.json_depth(b'{"a": "[[[[[[", "b": [1, {"c": "\\"]]"}]}') == 3
