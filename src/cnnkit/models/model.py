"""Model: a Layer that holds layers, with Keras' model API (summary, saving, compile/fit delegation).

``Model(inputs, outputs)`` builds a functional model; subclass ``Model`` and define ``call`` for anything else.
Training lives in ``cnnkit.training``; the methods here only hand over to it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import torch

from cnnkit import saving
from cnnkit.distribution import is_chief
from cnnkit.layers.base import Layer
from cnnkit.layers.registry import register_layer
from cnnkit.models.summary import print_summary
from cnnkit.training.lr_find import lr_find as _lr_find
from cnnkit.training.trainer import Trainer, not_compiled_error


@register_layer
class Model(Layer):
    """A group of layers with training and inference features.

    Example:
        >>> import cnnkit
        >>> inputs = cnnkit.layers.Input((64, 64, 3))
        >>> x = cnnkit.layers.Conv2D(8, 3, activation="relu")(inputs)
        >>> outputs = cnnkit.layers.Dense(1, activation="sigmoid")(cnnkit.layers.GlobalAveragePooling2D()(x))
        >>> model = Model(inputs, outputs)
    """

    def __new__(cls, *args: Any, **kwargs: Any):
        if cls is Model and (args or "inputs" in kwargs or "outputs" in kwargs):
            from cnnkit.models.functional import Functional  # inside: functional.py subclasses Model (a cycle)

            return super().__new__(Functional)
        return super().__new__(cls)

    def __init__(self, *, name: str | None = None, trainable: bool = True, **kwargs: Any) -> None:
        super().__init__(name=name, trainable=trainable, **kwargs)
        self.stop_training = False
        self._trainer: Any = None

    # ---------------------------------------------------------------------------------------------- structure
    @property
    def layers(self) -> list[Layer]:
        return self._sublayers()

    def get_layer(self, name: str | None = None, index: int | None = None) -> Layer:
        """A layer by name or by index in ``model.layers``."""
        if index is not None and name is None:
            if not -len(self.layers) <= index < len(self.layers):
                raise ValueError(
                    f"Layer index out of range. Expected an index below {len(self.layers)}. Received: index={index}."
                )
            return self.layers[index]
        for layer in self.layers:
            if layer.name == name:
                return layer
        names = [layer.name for layer in self.layers]
        raise ValueError(f"No layer named {name!r} in model {self.name!r}. Available layers: {', '.join(names)}.")

    def build(self, input_shape: Any) -> None:
        """Build a subclassed model by running it once on zeros of ``input_shape`` (batch axis may be None)."""
        if type(self).call is Model.call:
            return
        shapes = input_shape if isinstance(input_shape, list) else [input_shape]
        dummy = [torch.zeros((1, *tuple(s)[1:])) for s in shapes]
        self.built = True  # so that the call below does not recurse into build
        with torch.no_grad():
            self(dummy if isinstance(input_shape, list) else dummy[0])
        self._build_input_shape = input_shape

    def _maybe_build(self, input_shape: Any) -> None:
        if type(self).build is Model.build and not self.built:
            # A subclassed model builds its sublayers during its first real call; no extra dummy run.
            self.built = True
            self._build_input_shape = input_shape
            return
        super()._maybe_build(input_shape)

    def _require_built(self, what: str) -> None:
        if not self.built:
            raise ValueError(
                f"Model {self.name!r} is not built yet, so {what} is not known. Expected a built model. Give the input "
                f"shape (input_shape=(64, 64, 3) on the first layer, or model.build((None, 64, 64, 3))), or call the "
                f"model on a batch of data first."
            )

    @property
    def input_shape(self) -> Any:
        """The input shape(s), batch axis ``None``: one tuple, or a list for several inputs (as Keras)."""
        return self._io_shape("inputs", "input")

    @property
    def output_shape(self) -> Any:
        """The output shape(s), batch axis ``None``: one tuple, or a list for several outputs (as Keras)."""
        return self._io_shape("outputs", "output")

    @property
    def output_names(self) -> list[str]:
        """The names of the layers that produce the outputs (Keras' keys for per-output losses and metrics)."""
        try:
            tensors = self.outputs
        except (AttributeError, ValueError):
            return []
        return [t.node.layer.name if t.node is not None else t.name for t in tensors]

    def _io_shape(self, attr: str, what: str) -> Any:
        try:
            tensors = getattr(self, attr)
        except (AttributeError, ValueError):
            tensors = None
        if not tensors:  # Keras raises AttributeError, so hasattr(model, "input_shape") is False until it is known
            raise AttributeError(f"Model '{self.name}' has no defined {what} shape yet.")
        shapes = [tuple(t.shape) for t in tensors]
        return shapes[0] if len(shapes) == 1 else shapes

    def count_params(self) -> int:
        self._require_built("its number of parameters")
        return super().count_params()

    def summary(
        self,
        line_length: int | None = None,
        positions: Any = None,
        print_fn: Any = None,
        expand_nested: bool = False,
        show_trainable: bool = False,
    ) -> None:
        """Print Keras' summary table: layers, output shapes, parameter counts."""
        self._require_built("its summary")
        print_summary(
            self, line_length=line_length, print_fn=print_fn, expand_nested=expand_nested, show_trainable=show_trainable
        )

    # ---------------------------------------------------------------------------------------------- saving
    def save(self, filepath: str, overwrite: bool = True) -> None:
        """Write the whole model to one file, atomically: a Keras 3 archive for a ``.keras`` name, else cnnkit's
        ``.cnnkit`` archive (with the optimizer state, so training resumes); ``.h5`` is refused.

        Under DDP only rank 0 writes (every replica holds the same weights); the other ranks return at once."""
        if is_chief():
            saving.save_model(self, filepath, overwrite=overwrite)

    def export(self, filepath: str, format: str = "onnx", verbose: bool = True, **kwargs: Any) -> Any:  # noqa: A002
        """Export for inference, as Keras' ``model.export``; ``format='onnx'`` (checked with onnxruntime)."""
        from cnnkit.export import export_model  # inside: export/ is a floor above models/

        info = export_model(self, filepath, format=format, **kwargs)
        if verbose:
            print(f"Saved {format} model to {info.path} (max difference to PyTorch {info.max_abs_diff:.1e}).")
        return info

    def save_weights(self, filepath: str, overwrite: bool = True) -> None:
        """Write the weights alone (safetensors) to ``filepath``, atomically; under DDP on rank 0 only."""
        if is_chief():
            saving.save_weights(self, filepath, overwrite=overwrite)

    def load_weights(self, filepath: str, skip_mismatch: bool = False) -> None:
        """Load weights from a cnnkit/safetensors file, or a Keras ``.weights.h5`` / legacy ``.h5`` file."""
        saving.load_weights(self, filepath, skip_mismatch=skip_mismatch)

    def to_json(self, **kwargs: Any) -> str:
        return json.dumps(saving.serialize_layer(self), **kwargs)

    # ---------------------------------------------------------------------------------------------- training
    # Thin hand-overs to cnnkit.training (the model knows structure and weights; the trainer knows training).
    def compile(self, optimizer: Any = "rmsprop", loss: Any = None, metrics: Any = None, **kwargs: Any) -> None:
        self._trainer = Trainer(self, optimizer=optimizer, loss=loss, metrics=metrics, **kwargs)

    def _get_trainer(self, what: str, need_compile: bool = True) -> Any:
        if self._trainer is None:
            if need_compile:
                raise not_compiled_error(what)
            return Trainer(self)
        return self._trainer

    def fit(self, *args: Any, **kwargs: Any) -> Any:
        return self._get_trainer("fit").fit(*args, **kwargs)

    def evaluate(self, *args: Any, **kwargs: Any) -> Any:
        return self._get_trainer("evaluate").evaluate(*args, **kwargs)

    def predict(self, *args: Any, **kwargs: Any) -> Any:
        return self._get_trainer("predict", need_compile=False).predict(*args, **kwargs)

    def lr_find(self, x: Any = None, y: Any = None, **kwargs: Any) -> Any:
        """The learning-rate range test (fastai's ``lr_find``); see :func:`cnnkit.training.lr_find.lr_find`."""
        return _lr_find(self, x, y, **kwargs)

    def train_on_batch(self, *args: Any, **kwargs: Any) -> Any:
        return self._get_trainer("train_on_batch").train_on_batch(*args, **kwargs)

    def test_on_batch(self, *args: Any, **kwargs: Any) -> Any:
        return self._get_trainer("test_on_batch").test_on_batch(*args, **kwargs)

    def predict_on_batch(self, *args: Any, **kwargs: Any) -> Any:
        return self._get_trainer("predict_on_batch", need_compile=False).predict_on_batch(*args, **kwargs)

    # The seams ``cnnkit.saving`` calls (duck-typed: saving sits below models/ and training/), with Keras' names
    # where Keras has them.
    def get_compile_config(self) -> dict[str, Any] | None:
        """The ``compile()`` arguments as JSON-able values (as Keras' ``Model.get_compile_config``); None when the
        model is not compiled.

        Example:
            >>> model.compile(optimizer="adam", loss="mse")  # doctest: +SKIP
            >>> model.get_compile_config()["loss"]  # doctest: +SKIP
            'mse'
        """
        if self._trainer is None or not self._trainer.compiled:
            return None
        return self._trainer.get_compile_config()

    def compile_from_config(self, config: dict[str, Any]) -> None:
        """Compile from :meth:`get_compile_config`'s output (as Keras' ``Model.compile_from_config``)."""
        self.compile(**saving.compile_args_from_config(config))  # saved loss/metric/optimizer configs -> objects

    def get_training_state(self) -> dict[str, bytes]:
        """The training state a model file keeps beside the weights (the optimizer's slots and step count), as
        archive entries by name; empty when the model is not compiled or its optimizer not built yet."""
        if self._trainer is None or not self._trainer.compiled:
            return {}
        return self._trainer.get_training_state()

    def load_training_state(self, entries: Mapping[str, bytes]) -> None:
        """Put back what :meth:`get_training_state` returned; the model must be compiled first."""
        self._get_trainer("load_training_state").load_training_state(entries)

    @property
    def trainer(self) -> Any:
        """The ``Trainer`` that ``compile()`` made (None before): callbacks read training state through it."""
        return self._trainer

    @property
    def optimizer(self) -> Any:
        return None if self._trainer is None else getattr(self._trainer, "optimizer", None)

    # ---------------------------------------------------------------------------------------------- config
    @classmethod
    def from_config(cls, config: dict[str, Any], custom_objects: dict | None = None) -> Layer:
        if cls is Model and "nodes" in config:  # Model.from_config(functional_model.get_config()), as in Keras
            from cnnkit.models.functional import Functional  # inside: functional.py subclasses Model (a cycle)

            return Functional.from_config(config, custom_objects=custom_objects)
        return cls(**config)

    def get_config(self) -> dict[str, Any]:
        if type(self).get_config is Model.get_config and type(self).call is not Model.call:
            raise NotImplementedError(
                f"Model {type(self).__name__} is subclassed and has no get_config(). Implement get_config() (and "
                f"register the class with @cnnkit.layers.register_layer) to save the whole model, or use "
                f"save_weights()."
            )
        return super().get_config()
