"""The conformance harness: one program text, run once with Keras 3 and once with cnnkit, and the two reports compared.

A program is a function ``program(keras, ctx)``: it uses only what it is given as ``keras`` (the module), as a user's
script would after ``import cnnkit as keras``. Through ``ctx`` it

- ``ctx.sync(model)``: hands Keras' freshly built weights to cnnkit (get_weights/set_weights), so numbers compare;
- ``ctx.record(key, value, exact=...)``: adds a value to the report; numbers are compared within ``tol`` (or only by
  shape/keys with ``exact=False``, for values that depend on dropout randomness);
- ``ctx.path(name)``: a file in the run's own temporary folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

# Whole-model files: both libraries write Keras' `.keras` archive; the suite opens each side's files with the other.
KERAS_MODEL_FILE = CNNKIT_MODEL_FILE = "model.keras"


class Ctx:
    def __init__(self, module: Any, tmp: Path, weights: list | None = None) -> None:
        self.keras = module
        self.tmp = tmp
        self.is_reference = weights is None
        self.model_file = KERAS_MODEL_FILE if self.is_reference else CNNKIT_MODEL_FILE
        self._weights = list(weights or [])
        self.weights_out: list = []
        self.report: dict[str, tuple[Any, bool, float]] = {}

    def sync(self, model: Any) -> Any:
        if self.is_reference:
            self.weights_out.append([w.copy() for w in model.get_weights()])
        else:
            model.set_weights(self._weights.pop(0))
        return model

    def record(self, key: str, value: Any, exact: bool = True, tol: float = 1e-5) -> None:
        self.report[key] = (_plain(value), exact, tol)

    def reference_path(self, name: str) -> str:
        """A file the Keras run wrote (the cnnkit run reads it: files cross from Keras to cnnkit)."""
        return str(self.tmp / "keras" / name)

    def path(self, name: str) -> str:
        folder = self.tmp / ("keras" if self.is_reference else "cnnkit")
        folder.mkdir(parents=True, exist_ok=True)
        return str(folder / name)


def _plain(value: Any) -> Any:
    """Tensors and arrays to NumPy, History objects to their dict, containers kept."""
    if hasattr(value, "history") and isinstance(value.history, dict):
        return {k: _plain(v) for k, v in value.history.items()}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v) for v in value)
    if hasattr(value, "detach"):
        return value.detach().cpu().numpy()
    if hasattr(value, "numpy") and not isinstance(value, np.ndarray):
        return np.asarray(value.numpy())
    return value


def structure(value: Any) -> Any:
    """What a value looks like without its numbers: types, keys, lengths, shapes."""
    if isinstance(value, dict):
        return {k: structure(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [structure(v) for v in value]
    if isinstance(value, np.ndarray):
        return ("array", value.shape)
    if isinstance(value, (float, np.floating)):
        return "float"
    return value


def compare(want: dict, got: dict) -> None:
    assert list(got) == list(want), f"report keys differ: {list(got)} vs {list(want)}"
    for key, (w, exact, tol) in want.items():
        g = got[key][0]
        assert structure(g) == structure(w), f"{key}: structure {structure(g)} != Keras {structure(w)}"
        if exact:
            _close(g, w, tol, key)


def _is_number(v: Any) -> bool:
    return isinstance(v, (float, np.floating)) or (isinstance(v, (int, np.integer)) and not isinstance(v, bool))


def _close(got: Any, want: Any, tol: float, key: str) -> None:
    if isinstance(want, dict):
        for k in want:
            _close(got[k], want[k], tol, f"{key}.{k}")
    elif isinstance(want, np.ndarray) or (
        isinstance(want, (list, tuple)) and want and all(_is_number(v) for v in want)
    ):
        np.testing.assert_allclose(
            np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64), rtol=tol, atol=tol, err_msg=key
        )
    elif isinstance(want, (list, tuple)):
        assert len(got) == len(want), f"{key}: {got!r} != Keras {want!r}"
        for i, (g, w) in enumerate(zip(got, want)):
            _close(g, w, tol, f"{key}[{i}]")
    elif isinstance(want, (float, np.floating)):
        np.testing.assert_allclose(float(got), float(want), rtol=tol, atol=tol, err_msg=key)
    else:
        assert got == want, f"{key}: {got!r} != Keras {want!r}"


def run_both(program: Any, keras_module: Any, cnnkit_module: Any, tmp: Path) -> None:
    reference = Ctx(keras_module, tmp)
    program(keras_module, reference)
    mine = Ctx(cnnkit_module, tmp, weights=reference.weights_out)
    program(cnnkit_module, mine)
    compare(reference.report, mine.report)
    # Every .keras file cnnkit wrote opens in Keras with the same weights, and the reverse.
    for mine_file in sorted((tmp / "cnnkit").glob("*.keras")):
        theirs_file = tmp / "keras" / mine_file.name
        for path, reader in ((mine_file, keras_module), (theirs_file, cnnkit_module)):
            writer = cnnkit_module if path == mine_file else keras_module
            model = reader.models.load_model(str(path))
            original = writer.models.load_model(str(path))
            assert model.count_params() == original.count_params(), path
            for got, want in zip(model.get_weights(), original.get_weights(), strict=True):
                np.testing.assert_array_equal(np.asarray(got), np.asarray(want), err_msg=str(path))
