"""Test-only import of torchvision's pure-Python model definitions.

torchvision 0.28.0 installs beside the CPU torch, but its compiled extension (``torchvision._C``) does not load, so
the operators it would define are missing and ``import torchvision`` fails in ``_meta_registrations.py`` when it
registers fake kernels for ``torchvision::nms`` and ``torchvision::qnms``. Declaring those two schemas first (the
same text as torchvision's ``csrc/ops/nms.cpp`` and ``csrc/ops/quantized/qnms.cpp``) lets the import finish. The
models used here (AlexNet, VGG, ResNet) never call these operators. cnnkit itself never imports torchvision.
"""

from __future__ import annotations

import importlib
from types import ModuleType

import torch

_LIBRARY: torch.library.Library | None = None  # kept alive: dropping it would undefine the schemas


def _has_op(name: str) -> bool:
    try:
        getattr(torch.ops.torchvision, name)
        return True
    except (AttributeError, RuntimeError):
        return False


def import_torchvision() -> ModuleType:
    """Returns the ``torchvision`` module, declaring the missing operator schemas first (idempotent)."""
    global _LIBRARY
    if _LIBRARY is None and not _has_op("nms"):
        _LIBRARY = torch.library.Library("torchvision", "FRAGMENT")
        _LIBRARY.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
        _LIBRARY.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    return importlib.import_module("torchvision")
