"""A training run as one self-contained HTML page (images as data: URIs, no scripts, no network requests)."""

from __future__ import annotations

import base64
import contextlib
import datetime as _dt
import html
import io
import os
import string
from collections.abc import Callable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from cnnkit.common.files import atomic_write
from cnnkit.report import plots
from cnnkit.report.run import RunFiles, load_run

__all__ = ["write_report", "render_report", "model_summary_text"]


def _img(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{html.escape(alt)}">'


def model_summary_text(model: Any) -> str:
    """The model's ``summary()`` as text (a short per-layer table for models without one)."""
    lines: list[str] = []
    summary = getattr(model, "summary", None)
    if callable(summary):
        try:
            summary(print_fn=lambda line="", *a, **k: lines.append(str(line)))
        except TypeError:
            buf = io.StringIO()
            with contextlib.redirect_stdout(buf):
                summary()
            lines = buf.getvalue().splitlines()
        if lines:
            return "\n".join(lines)
    from cnnkit.interpret.hooks import leaf_modules

    rows = [f"{'Layer':<32}{'Type':<24}{'Params':>12}"]
    for name, m in leaf_modules(model):
        n = sum(p.numel() for p in m.parameters())
        rows.append(f"{name:<32}{type(m).__name__:<24}{n:>12,}")
    rows.append(f"Total params: {sum(p.numel() for p in model.parameters()):,}")
    return "\n".join(rows)


def _section(title: str, body: str, anchor: str) -> str:
    return f'<section id="{anchor}"><h2>{html.escape(title)}</h2>\n{body}\n</section>'


def _metrics_table(class_names: Sequence[str], per_class: dict[str, Any]) -> str:
    head = "<tr><th>class</th><th>precision</th><th>recall</th><th>F1</th><th>support</th></tr>"
    rows = []
    for i, name in enumerate(class_names):
        p, r, f = (float(per_class[k][i]) for k in ("precision", "recall", "f1"))
        rows.append(
            f"<tr><td>{html.escape(str(name))}</td><td>{p:.3f}</td><td>{r:.3f}</td><td>{f:.3f}</td>"
            f"<td>{int(per_class['support'][i])}</td></tr>"
        )
    return f"<table>{head}{''.join(rows)}</table>"


def _card(key: str, value: str) -> str:
    return f'<div class="card"><div class="v">{html.escape(value)}</div><div class="k">{html.escape(key)}</div></div>'


def render_report(
    run: RunFiles,
    model: Any = None,
    dataset: Any = None,
    max_examples: int = 10,
    gradcam_examples: int = 5,
    progress: Callable[[str], None] | None = None,
) -> str:
    """The report page for a run as an HTML string (see :func:`write_report`)."""
    from cnnkit import interpret

    say = progress or (lambda msg: None)
    names = list(run.class_names)
    metrics = run.metrics
    cards = []
    for key, label in (("val_accuracy", "validation accuracy"), ("val_loss", "validation loss")):
        if isinstance(metrics.get(key), (int, float)):
            cards.append(_card(label, f"{metrics[key]:.4f}"))
    if metrics.get("epochs") is not None:
        cards.append(_card("epochs", str(metrics["epochs"])))
    if model is not None:
        cards.append(_card("parameters", f"{sum(p.numel() for p in model.parameters()):,}"))
    if metrics.get("train_seconds") is not None:
        cards.append(_card("training time", f"{float(metrics['train_seconds']):.0f} s"))
    cards.append(_card("classes", str(len(names))))
    sections = []

    if model is not None:
        sections.append(_section("Model", f"<pre>{html.escape(model_summary_text(model))}</pre>", "model"))
    if run.history:
        say("training curves")
        sections.append(
            _section("Training curves", _img(plots.training_curves_png(run.history), "training curves"), "curves")
        )

    preds = None
    if model is not None and dataset is not None:
        say("predicting the validation set")
        preds = interpret.collect_predictions(model, dataset, keep_images=True)
    if preds is not None and len(preds.y_true):
        cm = interpret.confusion_matrix(preds.y_true, preds.y_pred, len(names))
    elif metrics.get("confusion_matrix") is not None:
        cm = np.asarray(metrics["confusion_matrix"], dtype=np.int64)
    else:
        cm = None
    if cm is not None:
        say("confusion matrix")
        per_class = interpret.per_class_metrics(cm)
        acc = float(np.trace(cm) / max(cm.sum(), 1))
        body = (
            f"<p>{int(cm.sum())} validation images, accuracy {acc:.4f}. Rows: true class; columns: predicted.</p>"
            + _img(plots.confusion_matrix_png(cm, names), "confusion matrix")
            + "<h3>Per-class metrics</h3>"
            + _metrics_table(names, per_class)
        )
        sections.append(_section("Confusion matrix", body, "confusion"))

    if preds is not None and preds.images is not None:
        say("misclassified examples")
        wrong = np.flatnonzero(preds.y_pred != preds.y_true)
        worst = wrong[np.argsort(-preds.losses[wrong], kind="stable")][:max_examples]
        if len(worst):
            titles = [
                f"true: {names[preds.y_true[i]]}\npred: {names[preds.y_pred[i]]} ({preds.probs[i].max():.2f})"
                for i in worst
            ]
            body = "<p>The misclassified validation images with the highest loss.</p>" + _img(
                plots.image_grid_png([preds.images[i] for i in worst], titles), "misclassified examples"
            )
        else:
            body = '<p class="note">No validation image is misclassified.</p>'
        sections.append(_section("Misclassified examples", body, "mistakes"))

        say("Grad-CAM")
        # One image of each class in turn (the first of each), so that the examples show different classes.
        firsts = [int(np.flatnonzero(preds.y_true == c)[0]) for c in range(len(names)) if (preds.y_true == c).any()]
        pick = firsts[:gradcam_examples]
        overlays, titles = [], []
        for i in pick:
            heat, cls = interpret.grad_cam(model, preds.images[i], return_class=True)
            overlays.append(plots.heatmap_overlay(preds.images[i], heat))
            titles.append(f"true: {names[preds.y_true[i]]}\npred: {names[cls]}")
        body = (
            "<p>Where the model looks: Grad-CAM of the predicted class over a few validation images "
            "(red: most important).</p>" + _img(plots.image_grid_png(overlays, titles), "Grad-CAM")
        )
        sections.append(_section("Grad-CAM", body, "gradcam"))
    elif model is not None:
        sections.append(
            _section(
                "Examples",
                '<p class="note">The validation images were not available, so misclassified examples and Grad-CAM '
                "are not shown. Run <code>cnnkit report RUN_DIR --data DATA_DIR</code> to add them.</p>",
                "examples",
            )
        )

    if model is not None:
        try:
            kernels = interpret.filters(model)
        except ValueError:
            kernels = None
        if kernels is not None:
            say("filters")
            kh, kw, _, count = kernels.shape
            body = f"<p>The {count} kernels of the first convolution ({kh}x{kw}).</p>"
            body += _img(plots.filters_png(kernels), "filters")
            sections.append(_section("First-layer filters", body, "filters"))

    from cnnkit import __version__

    template = string.Template(resources.files("cnnkit.report").joinpath("templates/report.html").read_text("utf-8"))
    subtitle = " · ".join(
        html.escape(str(x))
        for x in (metrics.get("model_name"), metrics.get("data", {}).get("directory"), run.path.name)
        if x
    )
    return template.substitute(
        title=html.escape(f"cnnkit report: {run.path.name}"),
        subtitle=subtitle,
        cards=f'<div class="cards">{"".join(cards)}</div>',
        sections="\n".join(sections),
        version=html.escape(__version__),
        date=_dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    )


def write_report(
    run_dir: str | os.PathLike,
    model: Any = None,
    dataset: Any = None,
    data_dir: str | os.PathLike | None = None,
    out: str | os.PathLike | None = None,
    progress: Callable[[str], None] | None = None,
) -> Path:
    """Writes ``run_dir/report.html`` from what training left in the run folder.

    Reads ``history.csv``, ``metrics.json``, ``class_names.json`` and ``model.cnnkit``; the validation images (for
    the confusion matrix, the misclassified examples and Grad-CAM) come from ``dataset``, else from the data folder
    recorded in ``metrics.json`` (or ``data_dir``) split as in training.

    Example:
        >>> cnnkit.report.write_report("runs/fashion")
        PosixPath('runs/fashion/report.html')
    """
    run = load_run(run_dir)
    if model is None:
        model = run.load_model()
    if dataset is None:
        dataset = run.validation_dataset(data_dir)
    page = render_report(run, model=model, dataset=dataset, progress=progress)
    target = Path(out) if out is not None else run.path / "report.html"
    atomic_write(target, page)
    return target
