"""Files named like images that are not regular files, or far too large: skipped and named at once, never read."""

from __future__ import annotations

import logging
import os
import sys
import time

import pytest

from cnnkit.data.decode import DecodeError, load_array, probe_image, read_image_file
from cnnkit.utils import image_dataset_from_directory as idfd
from support.images import class_folder

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="FIFOs and /dev/zero are POSIX")


def test_fifos_device_links_and_huge_files_are_skipped_and_named_within_a_second(tmp_path, caplog):
    root = tmp_path / "data"
    good = class_folder(root, {"a": 3, "b": 3})
    os.mkfifo(root / "a" / "pipe.png")
    (root / "b" / "zero.jpg").symlink_to("/dev/zero")
    huge = root / "b" / "huge.png"
    with open(huge, "wb") as f:  # a sparse 2 GB file: its stat says 2 GB, no disk is used
        f.truncate(2 << 30)
    started = time.perf_counter()
    with caplog.at_level(logging.WARNING, logger="cnnkit.data"):
        ds = idfd(root, image_size=(10, 14), shuffle=False, verbose=False)
    assert time.perf_counter() - started < 1.0 + 2.0  # the decode itself of six tiny PNGs is milliseconds
    skipped = dict(ds.skipped)
    assert skipped[str(root / "a" / "pipe.png")] == "not a regular file: a named pipe"
    assert skipped[str(root / "b" / "zero.jpg")] == "not a regular file: a device"
    assert skipped[str(root / "b" / "huge.png")] == f"file too large: {2 << 30} bytes > {512 << 20}"
    assert sorted(ds.file_paths) == sorted(str(p) for p in good)
    assert sum("Skipped" in r.getMessage() for r in caplog.records) == 4  # three files and the total


def test_each_reader_refuses_without_opening_for_long(tmp_path):
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    started = time.perf_counter()
    for reader in (read_image_file, load_array, probe_image):
        with pytest.raises(DecodeError, match="not a regular file: a named pipe"):
            reader(fifo)
    assert time.perf_counter() - started < 1.0
