"""ONNX export: the file runs in onnxruntime, has a dynamic batch axis, and reproduces PyTorch."""

import os

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from cnnkit.export import export_onnx

# float32 convolutions in onnxruntime and oneDNN sum in different orders; on these small models and inputs in
# [0, 1] the outputs agree to ~1e-6, so 1e-5 catches any real difference (a wrong layout or a train-mode layer).
ATOL = 1e-5


def run_both(model, path, shape, batch_sizes=(2, 5)):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    gen = torch.Generator().manual_seed(0)
    for n in batch_sizes:
        x = torch.rand((n, *shape), generator=gen)
        with torch.no_grad():
            try:
                expected = model(x, training=False)
            except TypeError:
                expected = model(x)
        got = session.run(None, {"input": x.numpy()})[0]
        assert got.shape == tuple(expected.shape)
        np.testing.assert_allclose(got, expected.numpy(), atol=ATOL, rtol=0)


class NHWCNet(torch.nn.Module):
    """A channels-last network with batch norm (which must be exported in inference mode)."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 8, 3)
        self.bn = torch.nn.BatchNorm2d(8)
        self.fc = torch.nn.Linear(8 * 6 * 6, 4)

    def forward(self, x):
        y = torch.relu(self.bn(self.conv(x.permute(0, 3, 1, 2))))
        return torch.softmax(self.fc(y.permute(0, 2, 3, 1).flatten(1)), dim=1)


def test_export_torch_module_single_file_dynamic_batch(tmp_path):
    torch.manual_seed(0)
    net = NHWCNet()
    net.bn.running_mean.uniform_(-0.5, 0.5)
    net.bn.running_var.uniform_(0.5, 2.0)
    net.train()  # export must still use inference mode, and restore the mode afterwards
    info = export_onnx(net, tmp_path / "net.onnx", input_shape=(8, 8, 3))
    assert net.training and net.bn.training
    assert os.listdir(tmp_path) == ["net.onnx"]  # one file: no external data, no leftover temp file
    assert info.max_abs_diff < 1e-4 and info.size_bytes == (tmp_path / "net.onnx").stat().st_size
    proto = onnx.load(str(tmp_path / "net.onnx"))
    dim = proto.graph.input[0].type.tensor_type.shape.dim
    assert dim[0].dim_param == "batch" and [d.dim_value for d in dim[1:]] == [8, 8, 3]
    net.eval()
    run_both(net, tmp_path / "net.onnx", (8, 8, 3))


def test_export_needs_an_input_shape(tmp_path):
    with pytest.raises(ValueError, match=r"The input shape of the model is unknown. Expected input_shape="):
        export_onnx(NHWCNet(), tmp_path / "x.onnx")
    assert not any(tmp_path.iterdir())


def test_a_failed_check_leaves_no_file(tmp_path):
    class Random(torch.nn.Module):  # differs between runs: onnxruntime cannot reproduce it
        def forward(self, x):
            return x.flatten(1) + torch.rand(x.shape[0], 1) * (1 + x.flatten(1)[:, :1])

    with pytest.raises(ValueError, match=r"The ONNX model does not reproduce PyTorch"):
        export_onnx(Random(), tmp_path / "bad.onnx", input_shape=(2, 2, 1))
    assert not any(tmp_path.iterdir())


def tutorial_cnn():
    from cnnkit import layers
    from cnnkit.models import Sequential

    return Sequential(
        [
            layers.Conv2D(32, (3, 3), activation="relu", input_shape=(64, 64, 3)),
            layers.MaxPooling2D((2, 2)),
            layers.Conv2D(64, (3, 3), activation="relu"),
            layers.MaxPooling2D((2, 2)),
            layers.Flatten(),
            layers.Dense(128, activation="relu"),
            layers.Dense(1, activation="sigmoid"),
        ]
    )


def test_tutorial_cnn_matches_pytorch_in_onnxruntime(tmp_path):
    torch.manual_seed(0)
    model = tutorial_cnn()
    info = export_onnx(model, tmp_path / "tutorial.onnx")  # the input shape comes from the model
    assert info.input_shape == (64, 64, 3)
    run_both(model, tmp_path / "tutorial.onnx", (64, 64, 3))


def test_resnet20_matches_pytorch_in_onnxruntime(tmp_path):
    applications = pytest.importorskip("cnnkit.applications")
    if "ResNet20" not in getattr(applications, "list_models", lambda: [])():
        pytest.skip("ResNet20 is not in the zoo of this checkout (the zoo branch is not merged)")
    torch.manual_seed(0)
    model = applications.get_model("ResNet20", weights=None, input_shape=(32, 32, 3), classes=10)
    # Random BatchNormalization statistics, so that exporting in training mode could not go unnoticed.
    for name, buf in model.named_buffers():
        if name.endswith("moving_mean"):
            buf.uniform_(-0.2, 0.2)
        elif name.endswith("moving_variance"):
            buf.uniform_(0.5, 1.5)
    export_onnx(model, tmp_path / "resnet20.onnx")
    run_both(model, tmp_path / "resnet20.onnx", (32, 32, 3))


def test_model_export_method_like_keras(tmp_path, capsys):
    model = tutorial_cnn()
    info = model.export(str(tmp_path / "m.onnx"), format="onnx")
    assert (tmp_path / "m.onnx").is_file() and info.input_shape == (64, 64, 3)
    assert "Saved onnx model to" in capsys.readouterr().out
    with pytest.raises(ValueError, match=r"Unsupported export format. Expected format='onnx'"):
        model.export(str(tmp_path / "m.pb"), format="tf_saved_model")
