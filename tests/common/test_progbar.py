"""The one progress bar: Keras' look on a terminal, clean lines (no carriage returns) in pipes and logs."""

from __future__ import annotations

import io

import numpy as np

from cnnkit.common.progbar import Progbar
from cnnkit.datasets import to_folder


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_auto_into_a_pipe_writes_only_whole_lines():
    out = io.StringIO()  # not a terminal, as a log file or CI
    bar = Progbar(1000, verbose="auto", stream=out, unit_name="image", title="Decoding images", interval=0)
    for _ in range(10):
        bar.add(100)
    text = out.getvalue()
    assert "\r" not in text
    lines = text.splitlines()
    assert lines[0] == "Decoding images" and lines[1].startswith("1000/1000 - ") and lines[1].endswith("/image")
    assert len(lines) == 2 and text.endswith("\n")


def test_auto_on_a_terminal_redraws_in_place():
    out = _Terminal()
    bar = Progbar(4, verbose="auto", stream=out, title="Downloading x")
    for i in range(1, 5):
        bar.update(i)
    text = out.getvalue()
    assert text.startswith("Downloading x\n\r") and "4/4 ━━━━━━━━━━━━━━━━━━━━" in text and text.endswith("\n")


def test_unknown_target_finalized_explicitly():
    out = io.StringIO()
    bar = Progbar(None, verbose="auto", stream=out, unit_name="B")
    bar.update(10)
    bar.update(25, finalize=True)
    bar.update(30, finalize=True)  # after the end: ignored
    assert out.getvalue().startswith("25 - ") and out.getvalue().count("\n") == 1


def test_silent():
    out = io.StringIO()
    bar = Progbar(3, verbose=0, stream=out, title="t")
    bar.add(3)
    assert out.getvalue() == ""


def test_data_paths_use_it(tmp_path, capsys):
    x = np.zeros((2000, 4, 4), np.uint8)
    to_folder(x, np.zeros(2000, np.int64), tmp_path / "out", format="bmp")
    err = capsys.readouterr().err  # captured stderr is not a terminal
    assert "\r" not in err and err.startswith("Writing images\n2000/2000 - ")
