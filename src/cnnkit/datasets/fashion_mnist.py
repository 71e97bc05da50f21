"""Fashion-MNIST: ``load_data()`` returns Keras' arrays: ((60000, 28, 28) uint8, (60000,) uint8), (10000 ...)."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import numpy as np

from cnnkit.common.download import DEBIAN_DIRS, DatasetUnavailableError, get_file

BASE_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"  # Keras' mirror of the official files
# sha256 of the *uncompressed* IDX bytes: Debian's dataset-fashion-mnist recompresses the upstream files, so the .gz
# bytes differ between sources while the content is identical; checking the content accepts both.
FILES = {
    "train-labels-idx1-ubyte.gz": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "train-images-idx3-ubyte.gz": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "t10k-labels-idx1-ubyte.gz": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    "t10k-images-idx3-ubyte.gz": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
}
CLASS_NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def _read_verified(fname: str, local_dirs: list[str]) -> bytes:
    cache: dict[Path, bytes] = {}

    def check(path: Path) -> bool:
        try:
            data = gzip.decompress(path.read_bytes())
        except (OSError, EOFError):
            return False
        cache[path] = data
        return hashlib.sha256(data).hexdigest() == FILES[fname]

    path = get_file(fname, BASE_URL + fname, None, "fashion-mnist", local_dirs, check=check)
    return cache[path] if path in cache else gzip.decompress(path.read_bytes())


def load_data() -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Loads Fashion-MNIST: ``(x_train, y_train), (x_test, y_test)``, as ``keras.datasets.fashion_mnist``.

    Looks in Debian's ``/usr/share/datasets/fashion-mnist``, Keras' ``~/.keras/datasets/fashion-mnist`` and the cnnkit
    cache (``$CNNKIT_HOME/datasets/fashion-mnist``) before downloading.

    Example:
        >>> (x_train, y_train), (x_test, y_test) = load_data()  # doctest: +SKIP
        >>> x_train.shape, y_train.dtype  # doctest: +SKIP
        ((60000, 28, 28), dtype('uint8'))
    """
    local = [DEBIAN_DIRS["fashion-mnist"], str(Path.home() / ".keras" / "datasets" / "fashion-mnist")]
    try:
        raw = {name: _read_verified(name, local) for name in FILES}
    except DatasetUnavailableError as e:
        raise DatasetUnavailableError(
            f"{e} Fashion-MNIST needs all four files there: {', '.join(FILES)} (from {BASE_URL}), "
            "or Debian's dataset-fashion-mnist package (apt-get install dataset-fashion-mnist)."
        ) from None
    y_train = np.frombuffer(raw["train-labels-idx1-ubyte.gz"], np.uint8, offset=8)
    x_train = np.frombuffer(raw["train-images-idx3-ubyte.gz"], np.uint8, offset=16).reshape(len(y_train), 28, 28)
    y_test = np.frombuffer(raw["t10k-labels-idx1-ubyte.gz"], np.uint8, offset=8)
    x_test = np.frombuffer(raw["t10k-images-idx3-ubyte.gz"], np.uint8, offset=16).reshape(len(y_test), 28, 28)
    # Writable copies: frombuffer views of the bytes are read-only, which torch warns about in fit().
    return (x_train.copy(), y_train.copy()), (x_test.copy(), y_test.copy())
