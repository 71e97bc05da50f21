"""Built-in datasets (real Fashion-MNIST files; downloads against a loopback HTTP server) and to_folder."""

from __future__ import annotations

import hashlib
import http.server
import io
import logging
import socket
import tarfile
import threading
from pathlib import Path

import numpy as np
import pytest

from cnnkit.common import download as dl
from cnnkit.datasets import DatasetUnavailableError, cifar10, cifar100, fashion_mnist, mnist, to_folder
from cnnkit.utils import image_dataset_from_directory as idfd
from support.images import text_as_jpg, truncated_jpeg, zero_byte

FMNIST = Path("/usr/share/datasets/fashion-mnist")


@pytest.fixture(scope="module")
def fmnist():
    if not (FMNIST / "train-images-idx3-ubyte.gz").exists():
        pytest.skip("Debian's dataset-fashion-mnist is not installed (.ci/run installs it)")
    return fashion_mnist.load_data()


def test_fashion_mnist_real_files(fmnist):
    (x, y), (xt, yt) = fmnist
    assert x.shape == (60000, 28, 28) and x.dtype == np.uint8
    assert y.shape == (60000,) and y.dtype == np.uint8
    assert xt.shape == (10000, 28, 28) and yt.shape == (10000,)
    assert y[0] == 9 and yt[0] == 9  # both splits start with an ankle boot (the dataset's published first labels)
    np.testing.assert_array_equal(np.bincount(y), np.full(10, 6000))
    np.testing.assert_array_equal(np.bincount(yt), np.full(10, 1000))


class _Server:
    """Serves a dict of {path: bytes} on 127.0.0.1 (the only network the tests use)."""

    def __init__(self, files: dict[str, bytes]) -> None:
        files_ = files

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                body = files_.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNKIT_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(Path, "home", lambda: tmp_path / "user")  # no ~/.keras copies leak in
    return tmp_path / "home" / "datasets"


def test_download_verified_atomic_and_cached(home, capsys):
    body = b"x" * 200_000
    sha = hashlib.sha256(body).hexdigest()
    with _Server({"/f.bin": body}) as srv:
        path = dl.get_file("f.bin", srv.url + "/f.bin", sha, "demo")
        assert path == home / "demo" / "f.bin" and path.read_bytes() == body
        err = capsys.readouterr().err  # the one progress bar: its title, then (not a terminal) one final line
        assert f"Downloading f.bin from {srv.url}/f.bin\n" in err and "\n200000/200000 - " in err and "\r" not in err
        assert sorted(p.name for p in path.parent.iterdir()) == ["f.bin"]  # no partial file left
    # the server is gone: the cached copy is used
    assert dl.get_file("f.bin", srv.url + "/f.bin", sha, "demo") == path


def test_download_checksum_mismatch(home):
    with _Server({"/f.bin": b"evil"}) as srv, pytest.raises(DatasetUnavailableError) as info:
        dl.get_file("f.bin", srv.url + "/f.bin", "0" * 64, "demo", progress=False)
    assert str(info.value) == (
        f"Downloaded file has the wrong checksum. Expected sha256={'0' * 64}. "
        f"Received: sha256={hashlib.sha256(b'evil').hexdigest()} from url='{srv.url}/f.bin'. "
        "The download was discarded; try again later."
    )
    assert not (home / "demo").exists() or not any((home / "demo").iterdir())


def test_offline_error_says_which_file_where(home):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(DatasetUnavailableError) as info:
        dl.get_file("mnist.npz", f"http://127.0.0.1:{port}/mnist.npz", None, "mnist", progress=False)
    msg = str(info.value)
    assert msg.startswith("Cannot download mnist.npz: ")
    assert msg.endswith(
        f"Expected the file in {home / 'mnist'} (or downloadable from http://127.0.0.1:{port}/mnist.npz). "
        f"Received: no local copy. Put mnist.npz in {home / 'mnist'} (set CNNKIT_HOME to use another cache root) "
        "and call load_data() again."
    )


def test_mnist_download_and_load(home, monkeypatch):
    arrays = {k: np.arange(n * 4, dtype=np.uint8).reshape(n, 2, 2) for k, n in (("x_train", 3), ("x_test", 2))}
    arrays.update(y_train=np.array([1, 2, 3], np.uint8), y_test=np.array([4, 5], np.uint8))
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    body = buf.getvalue()
    import cnnkit.datasets.mnist as mod

    with _Server({"/mnist.npz": body}) as srv:
        monkeypatch.setattr(mod, "URL", srv.url + "/mnist.npz")
        monkeypatch.setattr(mod, "SHA256", hashlib.sha256(body).hexdigest())
        (x, y), (xt, yt) = mnist.load_data()
    np.testing.assert_array_equal(x, arrays["x_train"])
    np.testing.assert_array_equal(yt, arrays["y_test"])


def _cifar_archive(records: dict[str, np.ndarray]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, rec in records.items():
            data = rec.tobytes()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _records(n: int, label_bytes: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, label_bytes + 3072), dtype=np.uint8)


def test_cifar10_binary_layout(home, monkeypatch):
    recs = {f"cifar-10-batches-bin/data_batch_{i}.bin": _records(2, 1, i) for i in range(1, 6)}
    recs["cifar-10-batches-bin/test_batch.bin"] = _records(3, 1, 9)
    body = _cifar_archive(recs)
    with _Server({"/c10.tgz": body}) as srv:
        import cnnkit.datasets.cifar10 as mod

        monkeypatch.setattr(mod, "URL", srv.url + "/c10.tgz")
        monkeypatch.setattr(mod, "SHA256", hashlib.sha256(body).hexdigest())
        (x, y), (xt, yt) = cifar10.load_data()
    assert x.shape == (10, 32, 32, 3) and x.dtype == np.uint8 and y.shape == (10, 1) and y.dtype == np.uint8
    first = recs["cifar-10-batches-bin/data_batch_1.bin"][0]
    assert y[0, 0] == first[0]
    # record = label, then the red, green and blue 32x32 planes row by row
    np.testing.assert_array_equal(x[0, :, :, 1], first[1 + 1024 : 1 + 2048].reshape(32, 32))
    assert xt.shape == (3, 32, 32, 3) and yt.shape == (3, 1)


@pytest.mark.parametrize(("label_mode", "column"), [("fine", 1), ("coarse", 0)])
def test_cifar100_label_modes(home, monkeypatch, label_mode, column):
    recs = {"cifar-100-binary/train.bin": _records(4, 2, 1), "cifar-100-binary/test.bin": _records(2, 2, 2)}
    body = _cifar_archive(recs)
    import cnnkit.datasets.cifar100 as mod

    (home / "cifar100").mkdir(parents=True)
    (home / "cifar100" / mod.FNAME).write_bytes(body)  # a local copy: no download needed
    monkeypatch.setattr(mod, "SHA256", hashlib.sha256(body).hexdigest())
    (x, y), (xt, yt) = cifar100.load_data(label_mode)
    assert x.shape == (4, 32, 32, 3) and y.shape == (4, 1) and y.dtype == np.int64  # Keras' cifar100 labels: int64
    np.testing.assert_array_equal(y[:, 0], recs["cifar-100-binary/train.bin"][:, column])
    with pytest.raises(ValueError, match="Unknown label_mode. Expected 'fine' or 'coarse'"):
        cifar100.load_data("medium")


def test_to_folder_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (30, 8, 9, 3), dtype=np.uint8)
    y = np.repeat(np.arange(3), 10)
    written = to_folder(x, y, tmp_path / "out", class_names=["ant", "bee", "cow"], format="png")
    assert len(written) == 30 and sorted(p.name for p in (tmp_path / "out").iterdir()) == ["ant", "bee", "cow"]
    ds = idfd(tmp_path / "out", image_size=(8, 9), shuffle=False, verbose=False)
    images, labels = ds.as_numpy()
    np.testing.assert_array_equal(images, x)  # PNG is lossless; file names keep the original order
    np.testing.assert_array_equal(labels, y)
    names = to_folder(x[:, :, :, 0], np.arange(30) % 12, tmp_path / "num", max_per_class=1)
    assert sorted({p.parent.name for p in names}) == [f"{i:02d}" for i in range(12)]  # sorts in label order


def test_fashion_mnist_folder_with_broken_files_loads_every_valid_image(fmnist, tmp_path, caplog):
    (x, y), _ = fmnist
    root = tmp_path / "fmnist"
    written = to_folder(x[:900], y[:900], root, classes=[0, 1, 7], format=("png", "jpeg"), verbose=False)
    broken = [
        truncated_jpeg(root / "0" / "broken_truncated.jpg"),
        zero_byte(root / "1" / "broken_empty.png"),
        text_as_jpg(root / "7" / "broken_text.jpg"),
    ]
    with caplog.at_level(logging.WARNING, logger="cnnkit.data"):
        ds = idfd(root, image_size=(28, 28), color_mode="grayscale", seed=1, verbose=False)
    assert ds.num_samples == len(written) and sorted(ds.file_paths) == sorted(map(str, written))
    assert sorted(p for p, _ in ds.skipped) == sorted(map(str, broken))
    assert caplog.records[-1].getMessage() == f"Skipped 3 of {len(written) + 3} image files that could not be decoded."
    images, labels = ds.as_numpy()
    by_path = dict(zip(ds.file_paths, range(len(ds.file_paths)), strict=True))
    for p in written[:40]:
        idx = int(p.stem)
        got = images[by_path[str(p)], :, :, 0]
        if p.suffix == ".png":
            np.testing.assert_array_equal(got, x[idx])
        else:  # JPEG at quality 95: close, not exact
            assert np.abs(got.astype(int) - x[idx]).mean() < 4
        assert ds.class_names[labels[by_path[str(p)]]] == str(y[idx])


def test_fashion_mnist_offline_lists_every_file(home, monkeypatch):
    import cnnkit.datasets.fashion_mnist as mod

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setattr(mod, "BASE_URL", f"http://127.0.0.1:{port}/")
    monkeypatch.setattr(mod, "DEBIAN_DIRS", {"fashion-mnist": str(home / "no-debian")})
    with pytest.raises(DatasetUnavailableError) as info:
        fashion_mnist.load_data()
    msg = str(info.value)
    assert f"Put train-labels-idx1-ubyte.gz in {home / 'fashion-mnist'}" in msg
    assert msg.endswith(
        "Fashion-MNIST needs all four files there: train-labels-idx1-ubyte.gz, train-images-idx3-ubyte.gz, "
        f"t10k-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz (from http://127.0.0.1:{port}/), or Debian's "
        "dataset-fashion-mnist package (apt-get install dataset-fashion-mnist)."
    )
