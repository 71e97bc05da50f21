from __future__ import annotations

import pytest

from cnnkit.applications.registry import ModelRegistry


def _builder(**kwargs):
    return ("built", kwargs)


def test_register_list_get():
    reg = ModelRegistry()
    reg.register("ResNet18", family="resnet", num_params=11689512)(_builder)
    reg.register("ResNet50")(_builder)
    reg.register("VGG16")(_builder)
    assert reg.list() == ["ResNet18", "ResNet50", "VGG16"]
    assert reg.list("resnet*") == ["ResNet18", "ResNet50"]  # case-insensitive fnmatch
    assert reg.list("*1?") == ["ResNet18", "VGG16"]
    assert reg.build("VGG16", classes=10) == ("built", {"classes": 10})
    assert reg.entry("ResNet18").num_params == 11689512 and reg.entry("ResNet18").family == "resnet"
    assert reg.entry("VGG16").family == "test_registry"  # defaults to the builder's module
    assert "VGG16" in reg and len(reg) == 3


def test_duplicate_name_raises():
    reg = ModelRegistry()
    reg.register("VGG16")(_builder)
    with pytest.raises(ValueError, match=r"A model named 'VGG16' is already registered. Each name must be unique"):
        reg.register("VGG16")(_builder)


def test_unknown_name_suggests():
    reg = ModelRegistry()
    for name in ("ResNet18", "ResNet50", "VGG16"):
        reg.register(name)(_builder)
    with pytest.raises(
        ValueError,
        match=r"Unknown model name. Expected one of the 3 registered models. "
        r"Received: name='ResNet5'. Did you mean 'ResNet50'",
    ):
        reg.entry("ResNet5")
    with pytest.raises(ValueError, match=r"Did you mean 'VGG16'\? \(names are case-sensitive\)"):
        reg.build("vgg16")
    with pytest.raises(ValueError, match=r"See cnnkit.applications.list_models\(\)"):
        reg.entry("xyz")


def test_bad_name_type():
    with pytest.raises(TypeError, match="A model name must be a non-empty string"):
        ModelRegistry().register(3)
