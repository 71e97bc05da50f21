"""The device training runs on: CUDA when available, unless the caller says otherwise."""

from __future__ import annotations

import torch


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """CUDA when available unless ``device`` says otherwise; CPU otherwise.

    Example:
        >>> resolve_device("cpu")
        device(type='cpu')
    """
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if not isinstance(device, (str, torch.device)):
        raise TypeError(
            f"Invalid device. Expected a string such as 'cpu' or 'cuda:0', or a torch.device. "
            f"Received: device={device!r} of type {type(device).__name__}. Pass device='cpu' or device='cuda'."
        )
    try:
        resolved = torch.device(device)
    except RuntimeError as e:
        raise ValueError(
            f"Invalid device. Expected a string such as 'cpu' or 'cuda:0'. Received: device={device!r}. "
            "Pass device='cpu' or device='cuda'."
        ) from e
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            "CUDA was requested but is not available. Expected a machine with a CUDA GPU and a CUDA build of torch. "
            f"Received: device={device!r}. Pass device='cpu' or leave device=None to choose automatically."
        )
    return resolved
