"""Reports of a training run: one self-contained HTML page, and the plots it is made of."""

from cnnkit.report.html import model_summary_text, render_report, write_report
from cnnkit.report.run import RunFiles, load_run

__all__ = ["RunFiles", "load_run", "model_summary_text", "render_report", "write_report"]
