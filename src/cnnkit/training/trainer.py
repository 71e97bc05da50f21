"""Trainer: Keras' compile/fit/evaluate/predict for a cnnkit model (or any ``module(x, training)``).

The per-step path is kept lean: metric and loss accumulators live on the device, nothing is read back to the host
except when the progress bar redraws (at most every 0.1 s) or a callback reads the batch logs.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from cnnkit import mixed_precision as precision
from cnnkit import optimizers
from cnnkit.callbacks.callback_list import CallbackList, LazyLogs
from cnnkit.common.malloc import tune_malloc
from cnnkit.mixed_precision import Policy, global_policy
from cnnkit.training import data_adapter as da
from cnnkit.training import distributed
from cnnkit.training.compile_utils import CompiledLossAndMetrics
from cnnkit.training.device import resolve_device
from cnnkit.training.predict_utils import concat_to_numpy, cpu_chunk_size, split_rows
from cnnkit.training.trainer_state import TrainerState


def not_compiled_error(method: str) -> ValueError:
    return ValueError(
        f"The model must be compiled before calling {method}(). Expected model.compile(optimizer=..., loss=...) "
        f"first. Received: an uncompiled model. Call model.compile(optimizer='adam', loss='binary_crossentropy') "
        f"before model.{method}()."
    )


class Trainer(TrainerState):
    """Training state of one model: optimizer, loss, metrics, device and precision.

    Example:
        >>> trainer = Trainer(model)  # doctest: +SKIP
        >>> trainer.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])  # doctest: +SKIP
        >>> history = trainer.fit(x, y, epochs=3, validation_split=0.2)  # doctest: +SKIP
    """

    def __init__(self, model: torch.nn.Module, **compile_kwargs: Any) -> None:
        self.model = model
        self.compiled = False
        self.optimizer = None
        self.global_step = 0
        self.position = (0, 0)  # (epoch, next batch): where a checkpoint taken now resumes
        self.shuffle_seed = 0
        self._optimizer_params: list | None = None
        self._callbacks: CallbackList | None = None
        self._start: tuple[int, int] | None = None
        self._replicas: distributed.Replicas | None = None  # data parallelism under torchrun (None: one process)
        self._net: torch.nn.Module = model  # what the training forward pass calls: the model, or its DDP wrapper
        if compile_kwargs:
            self.compile(**compile_kwargs)

    # ----------------------------------------------------------------------------------------------- compile
    def compile(
        self,
        optimizer: Any = "rmsprop",
        loss: Any = None,
        loss_weights: Any = None,
        metrics: Any = None,
        weighted_metrics: Any = None,
        run_eagerly: bool = False,
        steps_per_execution: int = 1,
        jit_compile: bool = False,
        device: str | torch.device | None = None,
        dtype_policy: str | Policy | None = None,
    ) -> None:
        """Configures training (Keras' ``compile``), plus ``device`` and a mixed-precision ``dtype_policy``."""
        self._compile_config = {
            "loss": loss,
            "loss_weights": loss_weights,
            "metrics": metrics,
            "weighted_metrics": weighted_metrics,
            "jit_compile": jit_compile,
            "dtype_policy": None if dtype_policy is None else Policy(dtype_policy).name,
        }
        self.optimizer = optimizers.get(optimizer)
        self._optimizer_params = None
        self.losses = CompiledLossAndMetrics(
            loss, loss_weights, metrics, weighted_metrics, output_names=getattr(self.model, "output_names", None)
        )
        self.device = resolve_device(device)
        self.policy = Policy(dtype_policy) if dtype_policy is not None else global_policy()
        if self.policy.autocast_dtype is torch.float16 and self.device.type != "cuda":
            raise ValueError(
                "mixed_float16 needs a CUDA device. Expected 'mixed_bfloat16' on CPU. Received: "
                f"dtype_policy='mixed_float16', device={str(self.device)!r}. Use 'mixed_bfloat16' on CPU."
            )
        precision.warn_if_slow(self.policy, self.device)
        self._scaler = precision.LossScaler() if self.policy.needs_loss_scaling(self.device) else None
        self.jit_compile = bool(jit_compile)
        self._step_fn = None
        self.compiled = True
        # Callbacks reach training through ``model.optimizer`` and ``model.trainer`` (checkpoint state, metrics), also
        # when the model is a plain torch module.
        for name, value in (("optimizer", self.optimizer), ("_trainer", self), ("trainer", self)):
            try:
                setattr(self.model, name, value)
            except AttributeError:  # a read-only property on the model: it reads the trainer itself
                pass

    @property
    def metrics(self) -> list:
        return self.losses.metrics if self.compiled else []

    def _require_compiled(self, method: str) -> None:
        if not self.compiled:
            raise not_compiled_error(method)

    # ------------------------------------------------------------------------------------------------- setup
    def _prepare(self, data: Any, for_training: bool) -> None:
        """Builds the model from the first batch, moves it to the device and builds the optimizer, in that order."""
        tune_malloc()
        self._replicas, device = distributed.replicas_for(self.device if self.compiled else _model_device(self.model))
        if self.compiled:
            self.device = device  # under torchrun, 'cuda' is this process's GPU
        if not getattr(self.model, "built", True) or _has_uninitialized(self.model):
            x, _, _ = data.first_batch()
            with torch.no_grad():
                self.model(x, training=False)
        device = self.device if self.compiled else _model_device(self.model)
        self.model.to(device)
        if for_training:
            params = _trainable(self.model)
            if (
                self._optimizer_params is None
                or len(params) != len(self._optimizer_params)
                or any(a is not b for a, b in zip(params, self._optimizer_params, strict=False))
            ):
                self.optimizer.build(params)
                self._optimizer_params = params
            self._net = self.model if self._replicas is None else self._replicas.wrap(self.model, params)
            if self.jit_compile and self._step_fn is None:
                self._step_fn = torch.compile(self._forward_loss)

    def _shard(self, data: Any) -> Any:
        return data if self._replicas is None else self._replicas.shard(data)

    def _to_device(self, batch: tuple) -> tuple:
        device = self.device if self.compiled else _model_device(self.model)
        if device.type == "cpu":
            return batch
        return da.map_structure(lambda t: t.to(device, non_blocking=True), batch)

    # ------------------------------------------------------------------------------------------------- steps
    def _forward_loss(self, x: Any, y: Any, sw: Any, training: bool) -> tuple[torch.Tensor, Any]:
        with self.policy.autocast(self.device):
            y_pred = (self._net if training else self.model)(x, training=training)
        return self.losses.loss(y, y_pred, sw, getattr(self.model, "losses", None)), y_pred

    def _train_step(self, x: Any, y: Any, sw: Any) -> None:
        loss, y_pred = (self._step_fn or self._forward_loss)(x, y, sw, True)
        rows = distributed.local_rows(self._replicas, da.flatten(x)[0].shape[0])
        for p in self._optimizer_params:
            p.grad = None
        scaled = loss if rows.scale == 1.0 else loss * rows.scale  # a replica's share of the global batch
        if self._scaler is None:
            scaled.backward()
            self.optimizer.step()
        else:
            self._scaler.scale_loss(scaled).backward()
            if self._scaler.unscale_and_check(self._optimizer_params):
                self.optimizer.step()
        with torch.no_grad():
            self._update_metrics(loss, y, y_pred, sw, rows)

    def _test_step(self, x: Any, y: Any, sw: Any) -> None:
        loss, y_pred = self._forward_loss(x, y, sw, False)
        self._update_metrics(loss, y, y_pred, sw, distributed.local_rows(self._replicas, da.flatten(x)[0].shape[0]))

    def _update_metrics(self, loss: Any, y: Any, y_pred: Any, sw: Any, rows: distributed.Rows) -> None:
        if self._replicas is not None:  # every replica updates on the whole global batch: one truth on all ranks
            loss, y, y_pred, sw = self._replicas.gather_for_metrics(loss, y, y_pred, sw, rows)
        self.losses.update(loss, y, y_pred, sw, rows.total)

    def reset_metrics(self) -> None:
        self.losses.reset()

    def _logs(self) -> dict[str, float]:
        return self.losses.results()

    # --------------------------------------------------------------------------------------------------- fit
    def fit(
        self,
        x: Any = None,
        y: Any = None,
        batch_size: int | None = None,
        epochs: int = 1,
        verbose: int | str = "auto",
        callbacks: list | None = None,
        validation_split: float = 0.0,
        validation_data: Any = None,
        shuffle: bool | str = True,
        class_weight: dict | None = None,
        sample_weight: Any = None,
        initial_epoch: int = 0,
        steps_per_epoch: int | None = None,
        validation_steps: int | None = None,
        validation_batch_size: int | None = None,
        validation_freq: int = 1,
    ) -> Any:
        """Trains the model (Keras' ``fit``); returns the ``History`` callback."""
        self._require_compiled("fit")
        train, val = self._fit_data(
            x,
            y,
            sample_weight,
            batch_size,
            shuffle,
            class_weight,
            validation_split,
            validation_data,
            validation_batch_size,
        )
        self._prepare(train, for_training=True)
        train, val = self._shard(train), self._shard(val)
        if getattr(train, "seed", None) is not None:  # under DDP: rank 0's seed, one order on every rank
            self.shuffle_seed = train.seed
        steps = steps_per_epoch or train.steps
        cbs = CallbackList(
            callbacks,
            add_history=True,
            add_progbar=verbose != 0,
            model=self.model,
            verbose=verbose,
            epochs=epochs,
            steps=steps,
        )
        self._callbacks, self._start, logs = cbs, (initial_epoch, 0), {}
        self.model.stop_training = False
        self.model.train()
        cbs.on_train_begin()
        first_epoch, first_batch = self._start  # BackupAndRestore may have moved the start in on_train_begin
        for epoch in range(first_epoch, epochs):
            if first_batch == 0:
                self.reset_metrics()
            cbs.on_epoch_begin(epoch)
            for step, batch in enumerate(train.iterate(epoch, first_batch, steps), start=first_batch):
                cbs.on_train_batch_begin(step)
                self._train_step(*self._to_device(batch))
                self.global_step, self.position = self.global_step + 1, (epoch, step + 1)
                cbs.on_train_batch_end(step, LazyLogs(self._logs))
                if self.model.stop_training:
                    break
            first_batch, logs = 0, self._logs()
            if val is not None and (epoch + 1) % validation_freq == 0:
                val_logs = self._evaluate_batches(val, validation_steps, cbs, in_fit=True)
                logs.update({"val_" + k: v for k, v in val_logs.items()})
            self.position = (epoch + 1, 0)
            cbs.on_epoch_end(epoch, logs)
            if self.model.stop_training:
                break
        cbs.on_train_end(logs)
        self._callbacks = None
        return cbs.history

    def _fit_data(
        self,
        x,
        y,
        sample_weight,
        batch_size,
        shuffle,
        class_weight,
        validation_split,
        validation_data,
        validation_batch_size,
    ) -> tuple:
        if class_weight is not None and sample_weight is not None:
            raise ValueError(
                "class_weight and sample_weight cannot be used together. Expected at most one of them. "
                "Received: both class_weight and sample_weight. Fold the class weights into sample_weight."
            )
        if shuffle not in (True, False, "batch"):
            raise ValueError(
                f"Invalid shuffle. Expected True, False or 'batch'. Received: shuffle={shuffle!r}. Pass shuffle=True."
            )
        if shuffle and (da.is_array_like(x) or isinstance(x, da.PyDataset)):
            self.shuffle_seed = int(torch.randint(0, 2**62, (1,)).item())
        val = None
        if validation_split and validation_data is None:
            (x, y, sample_weight), validation_data = da.split_validation(x, y, sample_weight, validation_split)
        train = da.adapt(x, y, sample_weight, batch_size, shuffle, class_weight, seed=self.shuffle_seed)
        if validation_data is not None:
            vx, vy, vsw = da.unpack_validation_data(validation_data)
            val = da.adapt(vx, vy, vsw, validation_batch_size or batch_size)
        return train, val

    # ---------------------------------------------------------------------------------------------- evaluate
    def evaluate(
        self,
        x: Any = None,
        y: Any = None,
        batch_size: int | None = None,
        verbose: int | str = "auto",
        sample_weight: Any = None,
        steps: int | None = None,
        callbacks: list | None = None,
        return_dict: bool = False,
    ) -> float | list | dict:
        """Loss and metrics on the data: a scalar (loss only), a list ``[loss, *metrics]``, or a dict."""
        self._require_compiled("evaluate")
        data = da.adapt(x, y, sample_weight, batch_size)
        self._prepare(data, for_training=False)
        data = self._shard(data)
        cbs = CallbackList(
            callbacks, add_progbar=verbose != 0, model=self.model, verbose=verbose, epochs=1, steps=steps or data.steps
        )
        logs = self._evaluate_batches(data, steps, cbs, in_fit=False)
        return logs if return_dict else self.losses.ordered(logs)

    def _evaluate_batches(self, data: Any, steps: int | None, cbs: CallbackList, in_fit: bool) -> dict:
        self.reset_metrics()
        was_training = self.model.training
        self.model.eval()
        cbs.on_test_begin()
        with torch.no_grad():  # not inference_mode: metric state created here must stay updatable by training
            for step, batch in enumerate(data.iterate(0, 0, steps)):
                cbs.on_test_batch_begin(step)
                self._test_step(*self._to_device(batch))
                cbs.on_test_batch_end(step, LazyLogs(self._logs))
        logs = self._logs()
        cbs.on_test_end(logs)
        self.model.train(was_training)
        return logs

    # ----------------------------------------------------------------------------------------------- predict
    def predict(
        self,
        x: Any,
        batch_size: int | None = None,
        verbose: int | str = "auto",
        steps: int | None = None,
        callbacks: list | None = None,
    ) -> np.ndarray | list | dict:
        """Model outputs as NumPy arrays, batched (default 32), with ``training=False`` and no gradients."""
        data = da.adapt(x, None, None, batch_size or 32, check_finite=False)
        self._prepare(data, for_training=False)
        data = self._shard(data)
        cbs = CallbackList(
            callbacks, add_progbar=verbose != 0, model=self.model, verbose=verbose, epochs=1, steps=steps or data.steps
        )
        outputs, was_training = [], self.model.training
        self.model.eval()
        cbs.on_predict_begin()
        policy = self.policy if self.compiled else global_policy()
        device = self.device if self.compiled else _model_device(self.model)
        with torch.inference_mode(), policy.autocast(device):
            chunk = None
            for step, (bx, _, _) in enumerate(data.iterate(0, 0, steps)):
                cbs.on_predict_batch_begin(step)
                bx = self._to_device((bx,))[0]
                if chunk is None:
                    chunk = cpu_chunk_size(self.model, bx) if device.type == "cpu" else 0
                pieces = [self.model(part, training=False) for part in split_rows(bx, chunk)]
                if self._replicas is not None:  # every rank gets the whole batch, in order
                    pieces = [self._replicas.gather_outputs(pieces, len(da.flatten(bx)[0]))]
                outputs.extend(pieces)
                # Keras' logs: {"outputs": this batch's predictions as NumPy}; converted only if a callback reads them.
                cbs.on_predict_batch_end(step, LazyLogs(lambda pieces=pieces: {"outputs": concat_to_numpy(pieces)}))
        cbs.on_predict_end()
        self.model.train(was_training)
        return concat_to_numpy(outputs)

    # ------------------------------------------------------------------------------------------- single batch
    def train_on_batch(
        self,
        x: Any,
        y: Any = None,
        sample_weight: Any = None,
        class_weight: dict | None = None,
        return_dict: bool = False,
    ) -> float | list | dict:
        """One gradient step on one batch; returns the running loss/metrics as ``evaluate`` does."""
        self._require_compiled("train_on_batch")
        data = da.adapt(x, y, sample_weight, None, class_weight=class_weight)
        data.batch_size, data.steps = data.num_samples, 1
        self._prepare(data, for_training=True)
        self.model.train()
        self._train_step(*self._to_device(data.first_batch()))
        logs = self._logs()
        return logs if return_dict else self.losses.ordered(logs)

    def test_on_batch(
        self, x: Any, y: Any = None, sample_weight: Any = None, return_dict: bool = False
    ) -> float | list | dict:
        """Loss and metrics of one batch (no update)."""
        self._require_compiled("test_on_batch")
        data = da.adapt(x, y, sample_weight, None)
        data.batch_size, data.steps = data.num_samples, 1
        self._prepare(data, for_training=False)
        self.reset_metrics()
        self.model.eval()
        with torch.no_grad():
            self._test_step(*self._to_device(data.first_batch()))
        logs = self._logs()
        return logs if return_dict else self.losses.ordered(logs)

    def predict_on_batch(self, x: Any) -> np.ndarray | list | dict:
        """Model outputs for one batch as NumPy."""
        n = da.num_samples(da.leaves_to_tensors(x, True), "x")
        return self.predict(x, batch_size=max(n, 1), verbose=0)


def _trainable(model: torch.nn.Module) -> list:
    weights = getattr(model, "trainable_weights", None)
    if weights is None:
        weights = [p for p in model.parameters() if p.requires_grad]
    return list(weights)


def _has_uninitialized(model: torch.nn.Module) -> bool:
    return any(isinstance(p, torch.nn.parameter.UninitializedParameter) for p in model.parameters())


def _model_device(model: torch.nn.Module) -> torch.device:
    p = next(iter(model.parameters()), None)
    if p is None or isinstance(p, torch.nn.parameter.UninitializedParameter):
        return resolve_device(None)
    return p.device


__all__ = ["Trainer"]
