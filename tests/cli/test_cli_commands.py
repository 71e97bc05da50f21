"""Every `cnnkit` command run as a user would: a subprocess on a small Fashion-MNIST image folder.

One module-scoped training run (tiny images, one epoch) feeds the evaluate/predict/explain/report/export tests.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
CLASSES = ["Ankle boot", "Bag", "Coat", "Dress", "Pullover", "Sandal", "Shirt", "Sneaker", "T-shirt_top", "Trouser"]


def cnnkit(*args, cwd=None, check=True, timeout=240):
    env = {**os.environ, "PYTHONPATH": str(SRC), "PYTHONWARNINGS": "ignore"}
    env.pop("CNNKIT_DEBUG", None)
    proc = subprocess.run(
        [sys.executable, "-m", "cnnkit.cli", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=timeout,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"cnnkit {' '.join(map(str, args))} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return proc


def cnnkit_in_process(capsys, *args):
    """The same entry point as the console script, called in this process (saves a Python start-up per call)."""
    from cnnkit.cli.main import main

    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(args, code, out, err)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    from cnnkit.datasets import fashion_mnist, to_folder
    from cnnkit.datasets.fashion_mnist import CLASS_NAMES

    (x, y), (xt, yt) = fashion_mnist.load_data()
    root = tmp_path_factory.mktemp("fmnist")
    to_folder(x, y, root / "train", class_names=CLASS_NAMES, max_per_class=30, verbose=False)
    to_folder(xt, yt, root / "test", class_names=CLASS_NAMES, max_per_class=5, verbose=False)
    return root


@pytest.fixture(scope="module")
def run(data, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "fm"
    proc = cnnkit("train", data / "train", "--out", out, "--epochs", "2", "--batch-size", "32", "--seed", "1")
    return out, proc


def test_train_writes_the_run_folder_and_says_where(run):
    out, proc = run
    for name in ("model.cnnkit", "history.csv", "metrics.json", "class_names.json", "report.html"):
        assert (out / name).is_file(), name
        assert str(out / name) in proc.stdout
    assert not (out / "backup").exists()  # a finished run leaves no backup behind
    assert json.loads((out / "class_names.json").read_text()) == CLASSES
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["model_name"] == "tutorial" and metrics["data"]["image_size"] == [28, 28]
    assert metrics["dtype_policy"] == "float32"  # "auto" gives bf16 to the fast ResNets only
    assert np.asarray(metrics["confusion_matrix"]).sum() == metrics["data"]["num_validation"] == 60
    assert f"Validation: accuracy {metrics['val_accuracy']:.4f}" in proc.stdout
    assert "Data: 300 images in 10 classes" in proc.stdout and "Epoch 2/2" in proc.stdout
    rows = (out / "history.csv").read_text().splitlines()
    assert rows[0].startswith("epoch") and len(rows) == 3
    # model.cnnkit holds the epoch with the best validation loss (the best checkpoint, then removed).
    val_losses = [float(r.split(",")[rows[0].split(",").index("val_loss")]) for r in rows[1:]]
    assert metrics["val_loss"] == pytest.approx(min(val_losses), rel=1e-3)
    assert not (out / "checkpoint.best.cnnkit").exists()


def test_evaluate_table_and_json(run, data, capsys):
    out, _ = run
    table = cnnkit("evaluate", out / "model.cnnkit", data / "test").stdout
    assert table.startswith("Accuracy: ") and "images: 50" in table
    assert "precision" in table and "Confusion matrix (rows: true class, columns: predicted):" in table
    res = json.loads(cnnkit_in_process(capsys, "evaluate", out, data / "test", "--json").stdout)
    cm = np.asarray(res["confusion_matrix"])
    assert cm.shape == (10, 10) and cm.sum() == 50 and cm.sum(axis=1).tolist() == [5] * 10
    assert res["accuracy"] == pytest.approx(np.trace(cm) / 50)
    assert f"Accuracy: {res['accuracy']:.4f}" in table


def test_predict_files_and_folders(run, data, capsys):
    out, _ = run
    images = sorted((data / "test" / "Bag").iterdir())
    res = json.loads(
        cnnkit("predict", out / "model.cnnkit", images[0], data / "test" / "Sandal", "--top-k", "3", "--json").stdout
    )
    assert len(res) == 6 and res[0]["path"] == str(images[0])
    for r in res:
        assert r["class"] in CLASSES and len(r["top_k"]) == 3 and r["top_k"][0]["class"] == r["class"]
        probs = [t["probability"] for t in r["top_k"]]
        assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1 + 1e-6
    text = cnnkit_in_process(capsys, "predict", out, images[1]).stdout
    assert str(images[1]) in text and "probability" in text


def test_explain_writes_pngs(run, data, tmp_path):
    out, _ = run
    image = sorted((data / "test" / "Trouser").iterdir())[0]
    proc = cnnkit("explain", out / "model.cnnkit", image, "--out", tmp_path / "why")
    names = sorted(p.name for p in (tmp_path / "why").iterdir())
    assert "gradcam.png" in names and "gradcam_heatmap.png" in names and "filters.png" in names
    assert len([n for n in names if n.startswith("feature_maps_")]) == 2  # one per convolution
    assert proc.stdout.startswith("Predicted: ")
    from PIL import Image

    assert Image.open(tmp_path / "why" / "gradcam.png").size == (28, 28)


def test_report_rewrites_the_html(run, tmp_path):
    out, _ = run
    proc = cnnkit("report", out, "--out", tmp_path / "r.html")
    page = (tmp_path / "r.html").read_text()
    assert f"Report: {tmp_path / 'r.html'}" in proc.stdout
    assert page.count('<img src="data:image/png;base64,') == 5 and "Misclassified examples" in page


def test_export_onnx_runs_in_onnxruntime(run, tmp_path, data):
    out, _ = run
    proc = cnnkit("export", out / "model.cnnkit", "--format", "onnx", "--out", tmp_path / "m.onnx")
    assert "Checked with onnxruntime" in proc.stdout
    session = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).uniform(0, 255, (4, 28, 28, 1)).astype(np.float32)
    probs = session.run(None, {"input": x})[0]
    assert probs.shape == (4, 10) and np.allclose(probs.sum(axis=1), 1, atol=1e-5)


def test_zoo_lists_models(capsys):
    pytest.importorskip("cnnkit.applications", reason="the zoo (cnnkit.applications) is not in this checkout")
    proc = cnnkit("zoo")
    header = ["model", "family", "parameters", "keras_params", "torchvision_params", "weights"]
    assert proc.stdout.splitlines()[0].split() == header
    rows = json.loads(cnnkit_in_process(capsys, "zoo", "--json").stdout)
    assert all({"name", "family", "params", "keras_params", "torchvision_params", "weights"} <= set(r) for r in rows)
    dense = next(r for r in rows if r["name"] == "DenseNet121")
    assert (dense["keras_params"], dense["torchvision_params"], dense["weights"]) == (
        8_062_504, 7_978_856, ["imagenet", "torchvision"])  # fmt: skip
    assert f"{len(rows)} models." in proc.stdout


def test_demo_small(tmp_path):
    proc = cnnkit("demo", "--images-per-class", "12", "--epochs", "1", "--out", tmp_path / "demo")
    assert (tmp_path / "demo" / "report.html").is_file() and (tmp_path / "demo" / "model.cnnkit").is_file()
    assert len(list((tmp_path / "demo" / "data" / "fashion_mnist").glob("*/*.png"))) == 120
    assert "Demo finished in" in proc.stdout


def test_help_for_every_command(capsys):
    top = cnnkit("--help").stdout
    assert "examples:" in top
    from cnnkit.cli.main import main

    for command in ("train", "evaluate", "predict", "explain", "report", "export", "serve", "zoo", "demo"):
        assert command in top
        with pytest.raises(SystemExit) as exit_info:
            main([command, "--help"])
        assert exit_info.value.code == 0
        text = capsys.readouterr().out
        assert f"usage: cnnkit {command}" in text and "examples:" in text and f"cnnkit {command}" in text


def one_error_line(proc):
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, proc.stderr
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    return lines[0]


def test_precision_option_reaches_the_config_and_every_ranks_command_line(capsys):
    from cnnkit.cli.main import build_parser
    from cnnkit.cli.train import _rank_argv, config_from_args

    parser = build_parser()
    for given, expected in (
        ([], "auto"),
        (["--precision", "float32"], "float32"),
        (["--precision", "mixed_bfloat16"], "mixed_bfloat16"),
    ):
        args = parser.parse_args(["train", "data/x", *given])
        assert config_from_args(args, "data/x", "runs/x").precision == expected
        argv = _rank_argv(args, "runs/x")
        assert argv[argv.index("--precision") + 1] == expected
        assert parser.parse_args(argv).precision == expected  # what a launched rank parses
    with pytest.raises(SystemExit):
        parser.parse_args(["train", "data/x", "--precision", "bf16"])
    assert "invalid choice: 'bf16'" in capsys.readouterr().err


def test_errors_are_one_line_with_exit_code_2(run, data, tmp_path, capsys):
    out, _ = run
    line = one_error_line(cnnkit("train", tmp_path / "nope", check=False))
    assert line.startswith("cnnkit train: error: The data folder does not exist.") and "nope" in line
    debug = cnnkit("evaluate", out / "history.csv", data / "test", "--debug", check=False)
    assert debug.returncode == 2 and "Traceback" in debug.stderr
    # The rest through the same entry point in this process.
    (tmp_path / "flat").mkdir()
    (tmp_path / "flat" / "a.png").write_bytes(next((data / "test" / "Bag").iterdir()).read_bytes())
    line = one_error_line(cnnkit_in_process(capsys, "train", tmp_path / "flat"))
    assert "no class sub-folders with images" in line and "move them into one sub-folder per class" in line
    (tmp_path / "broken.jpg").write_text("not an image")
    line = one_error_line(cnnkit_in_process(capsys, "predict", out, tmp_path / "broken.jpg"))
    assert line.startswith("cnnkit predict: error: Cannot read the image") and "broken.jpg" in line
    # In a folder, a broken image is skipped with a warning and the others are predicted.
    (tmp_path / "mixed").mkdir()
    (tmp_path / "mixed" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    (tmp_path / "mixed" / "ok.png").write_bytes(next((data / "test" / "Bag").iterdir()).read_bytes())
    proc = cnnkit_in_process(capsys, "predict", out, tmp_path / "mixed", "--json")
    assert proc.returncode == 0 and [Path(r["path"]).name for r in json.loads(proc.stdout)] == ["ok.png"]
    line = one_error_line(cnnkit_in_process(capsys, "evaluate", out / "history.csv", data / "test"))
    assert "The file is not a cnnkit model" in line
    line = one_error_line(cnnkit_in_process(capsys, "export", tmp_path / "missing.cnnkit"))
    assert "The model file does not exist" in line
    line = one_error_line(cnnkit_in_process(capsys, "predict", out, data / "test", "--top-k", "0"))
    assert line == "cnnkit predict: error: --top-k must be at least 1. Received: --top-k 0. Pass e.g. --top-k 3."


def test_budget_refuses_to_train_data_parallel(data, capsys, monkeypatch):
    line = one_error_line(cnnkit_in_process(capsys, "train", data / "train", "--budget", "1m", "--nproc", "2"))
    assert line == (
        "cnnkit train: error: --budget plans the time of one process and cannot train data-parallel yet. Expected "
        "one process. Received: --budget 1m with --nproc 2. Drop --budget, or run the command in one process."
    )
    for name, value in (("WORLD_SIZE", "2"), ("RANK", "0"), ("LOCAL_RANK", "0"), ("MASTER_ADDR", "127.0.0.1")):
        monkeypatch.setenv(name, value)  # as torchrun starts each process
    line = one_error_line(cnnkit_in_process(capsys, "train", data / "train", "--budget", "1m"))
    assert "Received: --budget 1m with WORLD_SIZE=2 from the launcher." in line


def test_explain_and_export_a_nested_zoo_model(tmp_path, data):
    pytest.importorskip("cnnkit.applications", reason="the zoo (cnnkit.applications) is not in this checkout")
    from cnnkit.pipeline import build_classifier

    model = build_classifier("ResNet20", (32, 32, 3), len(CLASSES))  # Rescaling, then ResNet20 nested inside
    model.save(str(tmp_path / "model.cnnkit"))
    (tmp_path / "class_names.json").write_text(json.dumps(CLASSES))
    image = sorted((data / "test" / "Coat").iterdir())[0]
    # A fresh process: the zoo's own layers (ResNet20's shortcut) must be found when the model is loaded.
    proc = cnnkit("explain", tmp_path, image, "--out", tmp_path / "why")
    assert "Predicted: " in proc.stdout and (tmp_path / "why" / "gradcam.png").is_file()
    assert len(list((tmp_path / "why").glob("feature_maps_*.png"))) == 19  # every convolution of ResNet20
    proc = cnnkit("export", tmp_path, "--out", tmp_path / "r20.onnx")
    assert "Checked with onnxruntime" in proc.stdout
