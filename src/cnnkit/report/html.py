"""A training run as one self-contained HTML page (images as data: URIs, no scripts, no network requests)."""

from __future__ import annotations

import base64
import contextlib
import datetime as _dt
import html
import io
import os
import string
from collections.abc import Callable, Mapping, Sequence
from importlib import resources
from typing import Any

import numpy as np

from cnnkit import interpret
from cnnkit._version import __version__
from cnnkit.interpret import Predictions
from cnnkit.interpret.hooks import leaf_modules
from cnnkit.report import plots

__all__ = ["render_report", "model_summary_text"]


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
    name: str,
    class_names: Sequence[str],
    history: Mapping[str, Sequence[float]] | None = None,
    metrics: Mapping[str, Any] | None = None,
    model: Any = None,
    predictions: Predictions | None = None,
    max_examples: int = 10,
    gradcam_examples: int = 5,
    progress: Callable[[str], None] | None = None,
) -> str:
    """The report page of a training run as one self-contained HTML string.

    Args:
        name: the run's name (the title).
        class_names: the class of each label index.
        history: per-epoch values by log key (``loss``, ``val_accuracy``, ...) for the training curves.
        metrics: the run's summary: ``val_accuracy``, ``val_loss``, ``epochs``, ``train_seconds``, ``model_name``,
            ``data.directory``, and ``confusion_matrix`` (used when ``predictions`` is None).
        model: the trained model, for its summary, its first-layer filters and Grad-CAM.
        predictions: the validation predictions, with their images (``keep_images=True``) for the misclassified
            examples and Grad-CAM.
        max_examples: at most this many misclassified images.
        gradcam_examples: at most this many Grad-CAM overlays.
        progress: called with the name of each part as it is drawn.

    Example:
        >>> page = render_report("fashion", ["shirt", "shoe"], history={"loss": [0.9, 0.5]})
    """
    say = progress or (lambda msg: None)
    names = list(class_names)
    metrics = dict(metrics or {})
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
    if history:
        say("training curves")
        sections.append(
            _section("Training curves", _img(plots.training_curves_png(history), "training curves"), "curves")
        )

    finder = metrics.get("lr_find")
    if isinstance(finder, dict) and finder.get("lrs"):
        say("learning-rate finder")
        png = plots.lr_find_png(finder["lrs"], finder["losses"], finder.get("suggestion"))
        note = (
            f"<p>Learning rate {finder['suggestion']:.3g} chosen by the range test "
            f"(fastai's valley rule) over {len(finder['lrs'])} batches.</p>"
        )
        sections.append(_section("Learning-rate finder", note + _img(png, "learning-rate finder"), "lr-find"))
    if metrics.get("tta") is not None:
        cards.append(_card("test-time augmentation", "flip" if metrics["tta"] else "off"))
    if metrics.get("dtype_policy"):
        cards.append(_card("precision", str(metrics["dtype_policy"])))

    if predictions is not None and len(predictions.y_true):
        cm = interpret.confusion_matrix(predictions.y_true, predictions.y_pred, len(names))
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

    if model is not None and predictions is not None and predictions.images is not None:
        say("misclassified examples")
        wrong = np.flatnonzero(predictions.y_pred != predictions.y_true)
        worst = wrong[np.argsort(-predictions.losses[wrong], kind="stable")][:max_examples]
        if len(worst):
            titles = [
                f"true: {names[true]}\npred: {names[pred]} ({predictions.probs[i].max():.2f})"
                for i, true, pred in zip(worst, predictions.y_true[worst], predictions.y_pred[worst], strict=True)
            ]
            body = "<p>The misclassified validation images with the highest loss.</p>" + _img(
                plots.image_grid_png([predictions.images[i] for i in worst], titles), "misclassified examples"
            )
        else:
            body = '<p class="note">No validation image is misclassified.</p>'
        sections.append(_section("Misclassified examples", body, "mistakes"))

        say("Grad-CAM")
        # One image of each class in turn (the first of each), so that the examples show different classes.
        firsts = [
            int(np.flatnonzero(predictions.y_true == c)[0])
            for c in range(len(names))
            if (predictions.y_true == c).any()
        ]
        pick = firsts[:gradcam_examples]
        overlays, titles = [], []
        for i in pick:
            heat, cls = interpret.grad_cam(model, predictions.images[i], return_class=True)
            overlays.append(plots.heatmap_overlay(predictions.images[i], heat))
            titles.append(f"true: {names[predictions.y_true[i]]}\npred: {names[cls]}")
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

    template = string.Template(resources.files("cnnkit.report").joinpath("templates/report.html").read_text("utf-8"))
    # The data folder by its name only: a report is shared, and an absolute path tells others about this machine.
    directory = metrics.get("data", {}).get("directory")
    folder = os.path.basename(os.path.normpath(str(directory))) if directory else None
    subtitle = " · ".join(html.escape(str(x)) for x in (metrics.get("model_name"), folder, name) if x)
    return template.substitute(
        title=html.escape(f"cnnkit report: {name}"),
        subtitle=subtitle,
        cards=f'<div class="cards">{"".join(cards)}</div>',
        sections="\n".join(sections),
        version=html.escape(__version__),
        date=_dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    )
