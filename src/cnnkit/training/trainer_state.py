"""What a Trainer saves: exact-resume checkpoints (BackupAndRestore) and the training part of ``model.save()``."""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping
from typing import Any

import safetensors.torch

from cnnkit.saving.checkpoint import capture_rng_state, flatten_state, restore_rng_state, unflatten_state
from cnnkit.saving.formats import safetensors_metadata
from cnnkit.saving.weights import load_state


def _serialize(obj: Any) -> Any:
    """A compile argument as JSON: names stay names, objects become {'class_name', 'config'} (None if impossible)."""
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    if isinstance(obj, (list, tuple)):
        return [_serialize(o) for o in obj]
    if isinstance(obj, dict):
        return {k: _serialize(v) for k, v in obj.items()}
    if hasattr(obj, "get_config"):
        return {"class_name": type(obj).__name__, "config": obj.get_config()}
    warnings.warn(f"Cannot save {obj!r} in the model file; compile it again after loading.", stacklevel=3)
    return None


def load_model_state(model: Any, saved: dict) -> None:
    """Loads weights by saving's one match rule: by name, or by position when only the automatic layer names differ
    (``conv2d`` vs ``conv2d_1``: Keras-style names count up within a process, so a model rebuilt to resume may be
    named differently). ``saved`` keeps the order it was saved in."""
    load_state(
        model,
        saved,
        "the checkpoint",
        order=list(saved),
        fix="Resume with the same model architecture, or use a new backup_dir.",
    )


class TrainerState:
    """Mixin of :class:`~cnnkit.training.trainer.Trainer` for checkpoints and saved models."""

    def checkpoint_state(self) -> dict:
        """Everything exact resume needs: weights, optimizer, RNGs, data position, metrics, history, callbacks."""
        cbs = self._callbacks
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "rng": capture_rng_state(),
            "position": list(self.position),
            "global_step": self.global_step,
            "shuffle_seed": self.shuffle_seed,
            "metrics": self.losses.state(),
            "history": dict(cbs.history.history) if cbs and cbs.history else {},
            "callbacks": [cb.get_state() if hasattr(cb, "get_state") else None for cb in (cbs or [])],
        }

    def restore_checkpoint_state(self, state: dict) -> None:
        """Puts a :meth:`checkpoint_state` back; ``fit`` then continues from the saved position."""
        load_model_state(self.model, state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.global_step, self.shuffle_seed = state["global_step"], state["shuffle_seed"]
        self.losses.load_state(state["metrics"])
        cbs = self._callbacks
        if cbs is not None:
            if cbs.history is not None:
                cbs.history.history = {k: list(v) for k, v in state["history"].items()}
            for cb, cb_state in zip(cbs, state["callbacks"], strict=False):
                if cb_state is not None and hasattr(cb, "set_state"):
                    cb.set_state(cb_state)
        self.position = self._start = tuple(state["position"])
        restore_rng_state(state["rng"])

    # ------------------------------------------------------------------------------------- model.save() support
    def get_compile_config(self) -> dict[str, Any]:
        """The compile arguments as JSON-able values (``training.json`` in a ``.cnnkit`` file)."""
        config = {k: _serialize(v) for k, v in self._compile_config.items()}
        config["optimizer"] = _serialize(self.optimizer)
        return config

    def get_training_state(self) -> dict[str, bytes]:
        """Extra entries for the ``.cnnkit`` archive: ``optimizer.safetensors`` once the optimizer is built."""
        if not getattr(self.optimizer, "built", False):
            return {}
        tensors: dict = {}
        tree = json.dumps(flatten_state(self.optimizer.state_dict(), tensors))
        return {"optimizer.safetensors": safetensors.torch.save(tensors, metadata={"state": tree})}

    def load_training_state(self, entries: Mapping[str, bytes]) -> None:
        """Puts back the optimizer state of :meth:`get_training_state` entries, if they hold one."""
        if "optimizer.safetensors" not in entries:
            return
        data = entries["optimizer.safetensors"]
        tree = json.loads(safetensors_metadata(data)["state"])
        params = [p for p in self.model.parameters() if p.requires_grad]
        params = list(getattr(self.model, "trainable_weights", params))
        self.optimizer.build(params)
        self._optimizer_params = params
        self.optimizer.load_state_dict(unflatten_state(tree, safetensors.torch.load(data)))
