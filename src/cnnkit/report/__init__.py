"""Reports of a training run: one self-contained HTML page, and the plots it is made of (render only: the run folder
is read and written by :mod:`cnnkit.pipeline`)."""

from cnnkit.report.html import model_summary_text, render_report

__all__ = ["model_summary_text", "render_report"]
