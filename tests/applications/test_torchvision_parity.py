"""torchvision's own model definitions (random weights, non-trivial BatchNorm statistics) converted into cnnkit:
the logits must agree. No internet: torchvision's Python code only, imported through tv_shim.

Tolerance: both sides compute the same float32 sums in different orders (oneDNN channels-last kernels vs
torch's NCHW ones, and a permuted flatten), which leaves errors of a few ulps of the activations' magnitude
(~1e-6 relative, measured); 1e-4 relative to the largest logit leaves room for the deepest nets and still fails on
any real mapping mistake (a wrong transpose, permutation or epsilon changes logits by O(1)).
"""

from __future__ import annotations

import pytest
import torch

import cnnkit.applications as applications
from cnnkit.applications.convert import assign_weights
from support.tv_shim import import_torchvision

tv = import_torchvision()

CASES = [  # torchvision builder, cnnkit name, input size (ResNets pool globally, so a small input is enough)
    ("alexnet", "AlexNet", 224),
    ("vgg16", "VGG16_TV", 224),
    ("vgg16_bn", "VGG16_BN", 224),
    ("resnet18", "ResNet18", 64),
    ("resnet50", "ResNet50_TV", 64),
    ("vgg16", "VGG16", 224),  # Keras' VGG16 (Keras' layer names) from torchvision's state dict
    ("densenet121", "DenseNet121", 64),  # Keras' DenseNet121, torchvision's epsilon accounted for
    pytest.param("vgg19", "VGG19", 224, marks=pytest.mark.slow),
    pytest.param("densenet169", "DenseNet169", 64, marks=pytest.mark.slow),
    pytest.param("densenet201", "DenseNet201", 64, marks=pytest.mark.slow),
]


def randomize_batchnorm(model: torch.nn.Module) -> None:
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.uniform_(-0.5, 0.5)


def _family(name: str):
    return getattr(applications, applications.get_model_entry(name).family)


@pytest.mark.parametrize(("tv_name", "name", "size"), CASES)
def test_logits_match_torchvision(tv_name, name, size):
    torch.manual_seed(0)
    reference = getattr(tv.models, tv_name)().eval()
    randomize_batchnorm(reference)
    kwargs = {"weights": None, "classifier_activation": None}
    if size != 224:
        kwargs["input_shape"] = (size, size, 3)
    model = applications.get_model(name, **kwargs)
    assign_weights(model, _family(name).from_torchvision(reference.state_dict()), "torchvision")
    x = torch.rand(1 if size == 224 else 2, 3, size, size)  # one 224x224 image keeps the VGG cases ~4 s
    with torch.no_grad():
        expected = reference(x)
        got = model(x.permute(0, 2, 3, 1).contiguous())
    assert got.shape == (x.shape[0], 1000)
    scale = expected.abs().max().item()
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-4 * max(scale, 1.0))


def test_pth_file_and_imagenet_cache(tmp_path, monkeypatch):
    """weights='path.pth' (torch.load weights_only); a foreign file copied into the cache is refused."""
    torch.manual_seed(1)
    reference = tv.models.resnet18().eval()
    randomize_batchnorm(reference)
    path = tmp_path / "resnet18-custom.pth"
    torch.save(reference.state_dict(), path)
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        expected = reference(x)
    model = applications.ResNet18(weights=str(path), input_shape=(64, 64, 3), classifier_activation=None)
    with torch.no_grad():
        torch.testing.assert_close(model(x.permute(0, 2, 3, 1)), expected, rtol=0, atol=1e-4)

    # A file copied into the cache under the published name is hash-checked like a download: this one (random
    # weights) is not torchvision's, so it is refused instead of loading silently.
    monkeypatch.setenv("CNNKIT_HOME", str(tmp_path / "home"))
    cached = tmp_path / "home" / "weights" / "resnet18-f37072fd.pth"  # the name torchvision publishes
    cached.parent.mkdir(parents=True)
    cached.write_bytes(path.read_bytes())
    with pytest.raises(ValueError, match=r"The weights file 'resnet18-f37072fd.pth' failed its integrity check. "
                       r"Expected sha256 prefix f37072fd. Received: sha256=[0-9a-f]{64} \(cached at .*\)\. The file "
                       r"is corrupt or not the published one\. Delete .* to download it again"):  # fmt: skip
        applications.ResNet18(weights="imagenet", include_top=False, input_shape=(64, 64, 3))


def test_wrong_architecture_reports_keys(tmp_path):
    path = tmp_path / "r18.pth"
    torch.save(tv.models.resnet18().state_dict(), path)
    with pytest.raises(ValueError, match=r"The weights do not fit the model\..*missing keys \(\d+\): layer1_0_bn3"):
        applications.ResNet50_TV(weights=str(path), input_shape=(64, 64, 3))
