"""What a Trainer saves: exact-resume checkpoints (BackupAndRestore) and the training part of ``model.save()``."""

from __future__ import annotations

import json
import warnings
from typing import Any

import safetensors.torch

from cnnkit.saving.checkpoint import capture_rng_state, flatten_state, restore_rng_state, unflatten_state


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
    """Loads weights by name, or by order when only the automatic layer names differ (``conv2d`` vs ``conv2d_1``:
    Keras-style names count up within a process, so a model rebuilt to resume may be named differently)."""
    own = model.state_dict()
    if set(own) == set(saved):
        model.load_state_dict(saved)
        return
    if len(own) != len(saved) or any(a.shape != b.shape for a, b in zip(own.values(), saved.values(), strict=False)):
        raise ValueError(
            "The checkpoint does not fit this model. Expected the same weights (names or order and shapes). "
            f"Received: {len(saved)} saved tensors such as {list(saved)[:3]} for a model with {len(own)} such as "
            f"{list(own)[:3]}. Resume with the same model architecture, or use a new backup_dir."
        )
    model.load_state_dict(dict(zip(own, saved.values(), strict=True)))


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
    def saved_state(self) -> dict[str, bytes]:
        """Entries for the ``.cnnkit`` archive: ``training.json`` (compile config) and ``optimizer.safetensors``."""
        config = {k: _serialize(v) for k, v in self._compile_config.items()}
        config["optimizer"] = _serialize(self.optimizer)
        entries = {"training.json": json.dumps(config).encode()}
        if getattr(self.optimizer, "built", False):
            tensors: dict = {}
            tree = json.dumps(flatten_state(self.optimizer.state_dict(), tensors))
            entries["optimizer.safetensors"] = safetensors.torch.save(tensors, metadata={"state": tree})
        return entries

    @classmethod
    def from_saved_state(cls, model: Any, entries: dict[str, bytes]) -> Any:
        """A compiled Trainer from :meth:`saved_state` entries, optimizer state included when it was saved."""
        config = json.loads(entries["training.json"])
        trainer = cls(model, **config)
        if "optimizer.safetensors" in entries:
            data = entries["optimizer.safetensors"]
            header_len = int.from_bytes(data[:8], "little")
            tree = json.loads(json.loads(data[8 : 8 + header_len])["__metadata__"]["state"])
            params = [p for p in model.parameters() if p.requires_grad]
            params = list(getattr(model, "trainable_weights", params))
            trainer.optimizer.build(params)
            trainer._optimizer_params = params
            trainer.optimizer.load_state_dict(unflatten_state(tree, safetensors.torch.load(data)))
        return trainer
